"""HTTP load with wrk (a compiled load generator): carevault beside a plain FastAPI app.

Each server runs in its own process; ``wrk -t1 -c16 -d{seconds}s`` drives it on
127.0.0.1, so the generator is never the bottleneck. Four operations, each measured on
carevault (one worker, SQLite) and on the baseline (``benchmarks.baseline_app``: FastAPI +
SQLAlchemy on SQLite, plaintext, no authentication, no audit), both servers up through the
suite, in alternating rounds (the best round of each kept, as the store suite does): a
bare constant-JSON endpoint, GET patient, POST appointment (distinct slots) and a
provider's day. Then GET patient on carevault with two workers against one, alternating.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from tests.engines import free_port

SECONDS = int(os.environ.get("CAREVAULT_BENCH_HTTP_SECONDS", "5"))  # a round
ROUNDS = 3  # alternating rounds per side (carevault, baseline, carevault, ...); best kept
CONNECTIONS = 16
API = "/api/v1"
ZONE = ZoneInfo("America/New_York")  # the benchmark clinic's zone (tests.domain.world)
SLOTS = 40_000  # distinct bookings: more than either server books in one run
POST_LUA = """
local bodies, i = {}, %d
for line in io.lines("%s") do bodies[#bodies + 1] = line end
request = function()
  i = i + 1
  return wrk.format("POST", "%s", nil, bodies[(i - 1) %% #bodies + 1])
end
"""


def _wrk(url: str, headers: dict[str, str], script: Path | None = None) -> dict[str, float]:
    """Requests/s, p50 and p99 (ms) and non-2xx answers of one wrk run."""
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=SECONDS + 60
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None:
        raise RuntimeError(f"wrk printed no rate: {out}")
    return {
        "rps": float(rps.group(1)),
        "p50_ms": _ms(out, "50%"),
        "p99_ms": _ms(out, "99%"),
        "non_2xx": float(m.group(1)) if (m := re.search(r"Non-2xx.*?:\s+(\d+)", out)) else 0.0,
    }


def _ms(out: str, quantile: str) -> float:
    found = re.search(rf"{quantile}\s+([\d.]+)(us|ms|s)\b", out)
    if found is None:
        return float("nan")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]
    return float(found.group(1)) * scale


def _bookings(path: Path, doctor: str, patients: list[str]) -> Path:
    """A file of distinct half-hour bookings (one JSON body a line) on weekdays, far ahead."""
    day, lines = date(2031, 1, 6), []
    while len(lines) < SLOTS:
        if day.weekday() < 5:
            for hour in (9, 10, 11, 13, 14, 15, 16):
                for minute in (0, 30):
                    start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)
                    utc = start.astimezone(UTC)
                    body = {
                        "patient_id": patients[len(lines) % len(patients)],
                        "provider_id": doctor,
                        "start": utc.isoformat(),
                        "end": (utc + timedelta(minutes=30)).isoformat(),
                    }
                    lines.append(json.dumps(body))
        day += timedelta(days=1)
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def _server(
    command: list[str], env: dict[str, str] | None = None, seeds: bool = True
) -> Iterator[dict[str, Any]]:
    """A server process; yields the JSON line it prints once seeded (``seeds``), or {}."""
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd(), **(env or {})},
    )
    try:
        line = proc.stdout.readline() if proc.stdout and seeds else "{}"
        yield json.loads(line or "{}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _ready(url: str, deadline: float = 120.0) -> None:
    ends = time.monotonic() + deadline
    while time.monotonic() < ends:
        try:
            if httpx.get(url, timeout=5).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {deadline:.0f} s")


def _operations(base: str, api: str, doctor: str, ids: list[str], tmp: Path) -> dict[str, Any]:
    day = datetime(2031, 1, 6, 0, 0, tzinfo=ZONE)
    span = f"start={day.isoformat()}&end={(day + timedelta(days=1)).isoformat()}"
    span = span.replace("+", "%2B")
    bodies = _bookings(tmp / f"bookings-{free_port()}.jsonl", doctor, ids)
    posts = []
    for round_ in range(ROUNDS):  # each round books slots no earlier round booked
        post = tmp / f"post-{free_port()}-{round_}.lua"
        post.write_text(POST_LUA % (round_ * SLOTS // ROUNDS, bodies, f"{api}/appointments"))
        posts.append(post)
    return {
        "bare": (f"{base}/bench/bare", None),
        "get_patient": (f"{base}{api}/patients/{ids[0]}", None),
        "book": (f"{base}{api}/appointments", posts),
        "provider_day": (f"{base}{api}/providers/{doctor}/timeline?{span}", None),
    }


def run() -> list[dict[str, Any]]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is missing: `make bench` installs Debian's wrk package")
    tmp = Path(tempfile.mkdtemp(prefix="carevault-bench-http-"))
    measured: dict[tuple[str, str], dict[str, float]] = {}
    port, plain_port = free_port(), free_port()
    plain_dir = tmp / "plain"
    plain_dir.mkdir()
    ours = [sys.executable, "-m", "tests.api.server", str(tmp), str(port)]
    theirs = [sys.executable, "-m", "benchmarks.baseline_app", str(plain_dir), str(plain_port)]
    # both servers run through the whole suite and each operation is measured on one, then
    # at once on the other: what else the shared machine does then weighs on both alike
    with _server(ours) as seeded, _server(theirs) as plain:
        base, plain_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{plain_port}"
        _ready(f"{base}{API}/health/live")
        _ready(f"{plain_base}/bench/bare")
        auth = {"Authorization": f"Bearer {seeded['tokens']['STAFF']}"}
        json_type = {"Content-Type": "application/json"}
        ops = _operations(base, API, seeded["doctor"], seeded["patients"], tmp)
        plain_ops = _operations(plain_base, "", plain["doctor"], plain["patients"], tmp)
        for name, (url, scripts) in ops.items():
            plain_url, plain_scripts = plain_ops[name]
            for round_ in range(ROUNDS):
                ours = _wrk(url, {**auth, **json_type}, scripts[round_] if scripts else None)
                _keep(measured, ("carevault", name), ours)
                script = plain_scripts[round_] if plain_scripts else None
                _keep(measured, ("baseline", name), _wrk(plain_url, json_type, script))
        with _two_workers(tmp) as two:
            for _ in range(ROUNDS):
                one = _wrk(ops["get_patient"][0], auth)
                _keep(measured, ("carevault1", "get_patient"), one)
                url = f"{two}{API}/patients/{seeded['patients'][0]}"
                _keep(measured, ("carevault2", "get_patient"), _wrk(url, auth))
    return _report(measured)


def _keep(
    measured: dict[tuple[str, str], dict[str, float]], key: tuple[str, str], got: dict[str, float]
) -> None:
    """Keep the better round (the store suite does the same): noise only ever slows."""
    if key not in measured or got["rps"] > measured[key]["rps"]:
        measured[key] = got


@contextmanager
def _two_workers(tmp: Path) -> Iterator[str]:
    """``carevault serve --workers 2`` over the store the first server seeded: its URL."""
    port = free_port()
    env = {
        "CAREVAULT_HOME": str(tmp),
        "CAREVAULT_STORE": f"sqlite:///{tmp}/data.db",
        "CAREVAULT_RATE_PER_MINUTE": str(10**9),
    }
    cli = str(Path(sys.executable).parent / "carevault")
    command = [cli, "serve", "--port", str(port), "--workers", "2"]
    with _server(command, env, seeds=False):
        base = f"http://127.0.0.1:{port}"
        _ready(f"{base}{API}/health/live")
        yield base


def _report(measured: dict[tuple[str, str], dict[str, float]]) -> list[dict[str, Any]]:
    results = []
    for name in ("bare", "get_patient", "book", "provider_day"):
        got, plain = measured["carevault", name], measured["baseline", name]
        results.append(_row(f"http_{name}", got, plain))
    two, one = measured["carevault2", "get_patient"], measured["carevault1", "get_patient"]
    results.append(_row("http_get_patient_2w", two, one))
    for r in results:
        print(
            f"  sqlite      {r['operation']:<22} {r['carevault_ops']:.0f} req/s "
            f"p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms; baseline {r['raw_ops']:.0f} "
            f"req/s (ratio {r['ratio']:.2f}; {r['non_2xx']:.0f} non-2xx)",
            flush=True,
        )
    return results


def _row(operation: str, got: dict[str, float], baseline: dict[str, float]) -> dict[str, Any]:
    return {
        "engine": "sqlite",
        "operation": operation,
        "carevault_ops": got["rps"],
        "raw_ops": baseline["rps"],
        "ratio": got["rps"] / baseline["rps"],
        "p50_ms": got["p50_ms"],
        "p99_ms": got["p99_ms"],
        "baseline_p50_ms": baseline["p50_ms"],
        "non_2xx": got["non_2xx"],
    }
