"""`carevault demo` and `carevault seed`: the seeds' demo set, data at scale, no PHI at rest."""

from __future__ import annotations

import re
from pathlib import Path

import pyotp
import pytest
from typer.testing import CliRunner

from carevault.access.auth import Authenticator, MfaRequired
from carevault.cli import app
from carevault.cli.common import console
from carevault.config import Settings
from carevault.domain.patient import PatientStatus
from carevault.services import clinics, patients
from carevault.services.practice import Practice

runner = CliRunner()


def _count(output: str, kind: str) -> int:
    match = re.search(rf"│ {kind}\s+│\s+(\d+) │", output)
    assert match, (kind, output)
    return int(match.group(1))


def test_demo_creates_the_seed_set_once_and_stores_no_plaintext(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the console is made at import, before the runner's COLUMNS: give it the width here,
    # so a long temporary path does not fold the table of logins parsed below
    monkeypatch.setattr(console, "width", 200)
    home = tmp_path / "home"
    env = {"CAREVAULT_HOME": str(home), "COLUMNS": "200"}
    first = runner.invoke(app, ["demo"], env=env)
    assert first.exit_code == 0, first.output
    for kind, n in (("users", 10), ("patients", 20), ("appointments", 39)):
        assert _count(first.output, kind) == n
    for kind in ("notes", "records", "documents", "invoices", "time blocks", "treatment records"):
        assert _count(first.output, kind) > 0
    roles = re.findall(r"│ ([A-Z]+)\s+│ \S+\s+│", first.output)
    assert set(roles) == {"ADMIN", "DOCTOR", "STAFF", "BILLING", "AUDITOR", "PATIENT"}
    passwords = re.findall(r"│ (?:[A-Z]+)\s+│ (\S+)\s+│", first.output)
    assert len(passwords) == 10 and len(set(passwords)) == 10
    assert len(re.findall(r"│ ADMIN\s+│ \S+\s+│ [A-Z2-7]{32}\s+│", first.output)) == 2
    again = runner.invoke(app, ["demo"], env=env)
    assert again.exit_code == 0 and "not seeding again" in again.output
    verified = runner.invoke(app, ["audit", "verify"], env=env)
    assert verified.exit_code == 0 and verified.output.count("events verified") == 2

    data, ring = Settings.load(home=str(home)).open()
    admin = re.search(r"│ (\S+@\S+)\s+│ ADMIN\s+│ (\S+)\s+│ ([A-Z2-7]{32})\s+│", first.output)
    assert admin, first.output
    auth = Authenticator(data, ring)
    step = auth.login(admin.group(1), admin.group(2))
    assert isinstance(step, MfaRequired)
    tokens = auth.complete_mfa(step.ticket, pyotp.TOTP(admin.group(3)).now())
    assert auth.authenticate(tokens.access).role == "ADMIN"
    listed = clinics.list_clinics(store=data).items
    assert len(listed) == 2
    secrets: set[str] = set()
    appointments = 0
    for row in listed:
        practice = Practice.open(data, ring, row["id"])
        for person in patients.by_status(practice=practice, status=PatientStatus.ACTIVE).items:
            secrets |= {person.last_name, person.email or "", person.ssn or "", person.mrn}
            appointments += len(practice.uow.history(person.id, prefix="APPT#").items)
    assert appointments == 39 and len(secrets) > 40
    raw = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    for secret in secrets:
        assert secret.encode() not in raw, "plaintext PHI found at rest"


def test_seed_needs_a_choice_and_generates_patients_at_scale(tmp_path: Path) -> None:
    env = {"CAREVAULT_HOME": str(tmp_path / "home")}
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    refused = runner.invoke(app, ["seed"], env=env)
    assert refused.exit_code == 1 and "--demo or --patients" in refused.output
    made = runner.invoke(app, ["seed", "--patients", "25"], env=env)
    assert made.exit_code == 0, made.output
    clinic = re.search(r"in clinic (\w+)", made.output)
    assert clinic
    data, ring = Settings.load(home=env["CAREVAULT_HOME"]).open()
    practice = Practice.open(data, ring, clinic.group(1))
    found = patients.by_status(practice=practice, status=PatientStatus.ACTIVE, limit=100)
    assert len(found.items) == 25 and len({p.mrn for p in found.items}) == 25
