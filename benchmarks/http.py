"""HTTP load on 127.0.0.1: GET patient, POST appointment and a provider's day (A7), each
beside a bare FastAPI endpoint returning a constant JSON, on the same server, same run.

A bounded asyncio load generator (httpx) sends a fixed number of requests per operation
with a fixed concurrency and records each latency; the server runs in its own process.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from tests.engines import free_port

REQUESTS = 1500
CONCURRENCY = 16
TIMEOUT = 60.0  # seconds per request; a slower one counts as failed
API = "/api/v1"
ZONE = ZoneInfo("America/New_York")  # the benchmark clinic's zone (tests.domain.world)


async def _load(
    base: str, make: Callable[[int], tuple[str, str, Any]], headers: dict[str, str], n: int
) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, failures) of ``n`` requests made by ``make(i)``."""
    latencies: list[float] = []
    failures = 0
    queue = iter(range(n))
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=TIMEOUT
    ) as client:

        async def worker() -> None:
            nonlocal failures
            for i in queue:
                method, path, body = make(i)
                began = time.perf_counter()
                try:
                    response = await client.request(method, path, json=body)
                    failed = response.status_code >= 300
                except httpx.TimeoutException:
                    failed = True  # counted, and its latency kept: the bench goes on
                latencies.append(time.perf_counter() - began)
                failures += failed

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    return n / elapsed, p50, p99, failures


def _slots(doctor: str, patients: list[str]) -> Callable[[int], tuple[str, str, Any]]:
    """Distinct half-hour bookings on weekday mornings and afternoons, far ahead."""
    day = date(2031, 1, 6)  # a Monday
    starts: list[datetime] = []
    while len(starts) < REQUESTS:
        if day.weekday() < 5:
            for hour in (9, 10, 11, 13, 14, 15, 16):
                for minute in (0, 30):
                    starts.append(datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE))
        day += timedelta(days=1)

    def make(i: int) -> tuple[str, str, Any]:
        start = starts[i].astimezone(UTC)
        body = {
            "patient_id": patients[i % len(patients)],
            "provider_id": doctor,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
        }
        return "POST", f"{API}/appointments", body

    return make


def run(requests: int = REQUESTS) -> list[dict[str, Any]]:
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="carevault-bench-http-")
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.api.server", tmp, str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        seeded = json.loads(server.stdout.readline() if server.stdout else "{}")
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}{API}/health/live").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        auth = {"Authorization": f"Bearer {seeded['tokens']['STAFF']}"}
        ids, doctor = seeded["patients"], seeded["doctor"]
        day = datetime(2031, 1, 6, 0, 0, tzinfo=ZONE)
        span = f"start={day.isoformat()}&end={(day + timedelta(days=1)).isoformat()}"
        span = span.replace("+", "%2B")
        shapes: dict[str, Callable[[int], tuple[str, str, Any]]] = {
            "http_get_patient": lambda i: ("GET", f"{API}/patients/{ids[i % len(ids)]}", None),
            "http_book": _slots(doctor, ids),
            "http_provider_day": lambda i: (
                "GET",
                f"{API}/providers/{doctor}/timeline?{span}",
                None,
            ),
        }
        results = []
        for name, make in shapes.items():
            bare = asyncio.run(_load(base, lambda i: ("GET", "/bench/bare", None), auth, requests))
            got = asyncio.run(_load(base, make, auth, requests))
            results.append(
                {
                    "engine": "sqlite",
                    "operation": name,
                    "carevault_ops": got[0],
                    "raw_ops": bare[0],
                    "ratio": got[0] / bare[0],
                    "p50_ms": got[1],
                    "p99_ms": got[2],
                    "bare_p50_ms": bare[1],
                    "bare_p99_ms": bare[2],
                    "failures": got[3],
                }
            )
            print(
                f"  sqlite      {name:<18} {got[0]:.0f} req/s p50 {got[1]:.1f} ms "
                f"p99 {got[2]:.1f} ms; bare {bare[0]:.0f} req/s p50 {bare[1]:.1f} ms "
                f"p99 {bare[2]:.1f} ms (ratio {got[0] / bare[0]:.2f}; {got[3]} failed)",
                flush=True,
            )
        return results
    finally:
        server.terminate()
        server.wait(timeout=20)
