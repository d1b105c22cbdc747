"""A newcomer's first hour, end to end: a clean clone, ``make demo``, then the API.

The clone's ``make demo`` builds its own environment, initializes an encrypted SQLite
store, loads the demo data and serves; the test reads the demo logins it printed, signs in
as staff, registers a patient, books the first free slot of a doctor, reads the day's
schedule, then signs in as the administrator (password and TOTP code) and finds the
staff member's reads in the audit trail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
import pyotp
import pytest

from tests.engines import free_port

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"
COLUMNS = ("clinic", "email", "role", "password", "totp")
STARTUP = 420  # seconds: the clone installs its environment first


def _logins(output: str) -> list[dict[str, str]]:
    """The rows of the printed demo-logins table."""
    rows = []
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) == 5 and "@" in cells[1]:
            rows.append(dict(zip(COLUMNS, cells, strict=True)))
    return rows


def _next_weekday(today: date) -> date:
    day = today + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@pytest.fixture
def demo(tmp_path: Path) -> tuple[str, list[str]]:
    clone = tmp_path / "carevault"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CAREVAULT_", "MAKE", "MFLAGS", "VIRTUAL_ENV"))
    }
    env.update({"CAREVAULT_PORT": str(port), "COLUMNS": "200"})
    proc = subprocess.Popen(
        ["make", "demo"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail("make demo stopped:\n" + "".join(lines[-40:]), pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail("make demo did not serve in time", pytrace=False)
            try:
                if httpx.get(f"{base}{API}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        yield base, lines
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_newcomer_path(demo: tuple[str, list[str]]) -> None:
    base, lines = demo
    output = "".join(lines)
    assert f"{base}{API}/docs" in output  # where the interactive docs are
    logins = _logins(output)
    staff = next(r for r in logins if r["role"] == "STAFF")
    admin = next(r for r in logins if r["role"] == "ADMIN" and r["clinic"] == staff["clinic"])
    with httpx.Client(base_url=base + API, timeout=30) as c:
        signed = c.post("/sessions", json={"email": staff["email"], "password": staff["password"]})
        assert signed.status_code == 201, signed.text
        auth = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        doctor = c.get("/users", params={"role": "DOCTOR"}, headers=auth).json()["items"][0]
        day = _next_weekday(date.today())
        free = c.get(
            f"/providers/{doctor['id']}/availability", params={"day": str(day)}, headers=auth
        ).json()["items"]
        assert free, "the doctor has free time on a weekday"
        patient = c.post(
            "/patients",
            json={
                "mrn": "NEW-0001",
                "first_name": "Rosa",
                "last_name": "Delgado",
                "date_of_birth": "1990-05-17",
                "gender": "FEMALE",
                "email": "rosa.delgado@example.org",
            },
            headers={**auth, "Idempotency-Key": "newcomer-1"},
        )
        assert patient.status_code == 201, patient.text
        booked = c.post(
            "/appointments",
            json={
                "patient_id": patient.json()["id"],
                "provider_id": doctor["id"],
                "start": free[0]["start"],
                "end": free[0]["end"],
                "reason": "First visit",
            },
            headers=auth,
        )
        assert booked.status_code == 201, booked.text
        schedule = c.get("/schedule", params={"day": str(day)}, headers=auth).json()
        assert booked.json()["id"] in [a["id"] for a in schedule["items"]]
        assert c.get(f"/patients/{patient.json()['id']}", headers=auth).status_code == 200

        step = c.post("/sessions", json={"email": admin["email"], "password": admin["password"]})
        assert step.status_code == 202, step.text
        code = pyotp.TOTP(admin["totp"]).now()
        tokens = c.post("/sessions/mfa", json={"ticket": step.json()["mfa_ticket"], "code": code})
        assert tokens.status_code == 201, tokens.text
        admin_auth = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        today = time.strftime("%Y-%m-%d", time.gmtime())
        events, cursor = [], None
        for _ in range(1000):  # the day's events, page by page
            params = {"day": today, "limit": 200, **({"cursor": cursor} if cursor else {})}
            listed = c.get("/audit/events", params=params, headers=admin_auth).json()
            events += listed["items"]
            if (cursor := listed["next"]) is None:
                break
        reads = [
            e for e in events if e["action"] == "READ" and e["patient_id"] == patient.json()["id"]
        ]
        assert reads, "the staff member's reads of the new patient are in the audit trail"
        assert c.get("/audit/verify", headers=admin_auth).json()["intact"] is True
