"""Run every benchmark, print a table and write JSON under bench-results/."""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from tests.engines import ENGINES

from benchmarks.audit import run as run_audit
from benchmarks.crypto import run as run_crypto
from benchmarks.domain import run as run_domain
from benchmarks.http import run as run_http
from benchmarks.store import BASELINES, use_baseline
from benchmarks.store import run as run_store

TARGETS = {
    ("sqlite", "get"): 0.7,
    ("sqlite", "query25"): 0.7,
    ("sqlite", "put"): 0.5,
    ("sqlite", "record_roundtrip"): 0.5,
    ("sqlite", "audited_read"): 0.7,
    ("postgresql", "audited_read"): 0.7,
    ("sqlite", "witnessed_write"): 0.7,
    ("postgresql", "witnessed_write"): 0.7,
    # against a plain FastAPI + SQLAlchemy app (benchmarks/baseline_app.py), wrk, one worker
    ("sqlite", "http_bare"): 0.8,
    ("sqlite", "http_get_patient"): 0.6,
    ("sqlite", "http_book"): 0.5,
    ("sqlite", "http_provider_day"): 0.5,
    ("sqlite", "http_get_patient_2w"): 1.0,  # two workers against one
}
LATENCY_TARGETS = {"provider_day_1M/10k": 1.5}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per side")
    parser.add_argument("--baseline", choices=sorted(BASELINES), default="msgpack")
    parser.add_argument(
        "--suites",
        default="store,crypto,domain,audit,http",
        help="comma list: store, crypto, domain, audit, http",
    )
    parser.add_argument(
        "--big",
        type=int,
        default=1_000_000,
        help="appointments in the store for the large day-schedule run",
    )
    args = parser.parse_args()
    use_baseline(args.baseline)
    engines = [e for e in args.engines.split(",") if e]
    parser_suites = args.suites.split(",")
    results = []
    if "store" in parser_suites:
        results += run_store(engines, args.seconds, args.rounds)
    if "crypto" in parser_suites:
        results += run_crypto(args.seconds, args.rounds)
    if "audit" in parser_suites:
        results += run_audit(engines, args.seconds, args.rounds)
    if "http" in parser_suites:
        results += run_http()
    if "domain" in parser_suites:
        results += run_domain(engines, args.seconds, args.rounds, args.big)
    print(
        f"\n{'engine':<11} {'operation':<20} {'carevault/s':>12} {'raw/s':>12} {'ratio':>7}  target"
    )
    for r in results:
        target = TARGETS.get((r["engine"], r["operation"]))
        verdict = (
            "" if target is None else f">= {target} {'ok' if r['ratio'] >= target else 'MISSED'}"
        )
        ceiling = LATENCY_TARGETS.get(r["operation"])
        if ceiling is not None:
            slow = r["latency_ratio"]
            verdict = f"latency x{slow:.2f} <= {ceiling} {'ok' if slow <= ceiling else 'MISSED'}"
        raw = "-" if r["raw_ops"] is None else f"{r['raw_ops']:.0f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(
            f"{r['engine']:<11} {r['operation']:<20} {r['carevault_ops']:>12.0f}"
            f" {raw:>12} {ratio:>7}  {verdict}"
        )
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    path = out / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    meta = {"python": platform.python_version(), "machine": platform.machine(), "args": vars(args)}
    path.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(f"\nwrote {path}")


main()
