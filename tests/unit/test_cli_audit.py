"""`carevault audit verify | disclosures | export` on a real SQLite store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
from typer.testing import CliRunner

from carevault.audit.recorder import AuditContext
from carevault.cli import app
from carevault.config import Settings
from carevault.domain.audit import Action
from carevault.domain.patient import Patient
from carevault.services import clinics, patients
from carevault.services.practice import Practice
from carevault.store.codec import decode, encode

runner = CliRunner()


def _initialized(tmp_path: Path, name: str) -> tuple[Path, dict[str, str], str, Practice]:
    """`carevault init` in a new home, and a clinic in it: (home, env, clinic, practice)."""
    home = tmp_path / "home"
    env = {"CAREVAULT_HOME": str(home), "COLUMNS": "200"}
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    data, ring = Settings.load(home=str(home)).open()
    clinic = clinics.create_clinic(store=data, ring=ring, name=name).id
    p = Practice.open(data, ring, clinic, audit=AuditContext(actor="u1", role="STAFF"))
    return home, env, clinic, p


def test_verify_disclosures_and_export(tmp_path: Path) -> None:
    home, env, clinic, p = _initialized(tmp_path, "CLI Clinic")
    person = patients.register(
        practice=p,
        mrn="M-1",
        first_name="Ada",
        last_name="Byron",
        date_of_birth="1980-01-01",
        gender="FEMALE",
    )
    p.uow[Patient].require(person.id)
    ok = runner.invoke(app, ["audit", "verify"], env=env)
    assert ok.exit_code == 0 and f"clinic {clinic}: 2 events verified" in ok.output
    stored = [i for s in range(p.audit.shards) for i in p.audit.events(s)]
    assert all("expires_at" not in i and i["retain_until"] >= "2033" for i in stored)
    told = runner.invoke(
        app,
        [
            "audit",
            "disclosures",
            "--tenant",
            clinic,
            "--patient",
            person.id,
            "--since",
            "2000-01-01",
        ],
        env=env,
    )
    assert told.exit_code == 0 and "CREATE" in told.output and "READ" in told.output
    exported = runner.invoke(app, ["audit", "export", "--tenant", clinic], env=env)
    rows = [orjson.loads(line) for line in exported.stdout.splitlines()]
    assert {r["action"] for r in rows} >= {"CREATE", "READ"} and "Ada" not in exported.stdout
    again = runner.invoke(app, ["audit", "export", "--tenant", clinic], env=env)
    assert "EXPORT" in {orjson.loads(line)["action"] for line in again.stdout.splitlines()}
    bad = runner.invoke(
        app,
        [
            "audit",
            "disclosures",
            "--tenant",
            clinic,
            "--patient",
            person.id,
            "--since",
            "yesterday",
        ],
        env=env,
    )
    assert bad.exit_code == 1 and "--since" in bad.output
    with sqlite3.connect(home / "carevault.db") as conn:  # an edit, around carevault
        pk, sk, raw = conn.execute(
            "SELECT pk, sk, data FROM items WHERE sk LIKE 'E#%' AND instr(data, 'STAFF') LIMIT 1"
        ).fetchone()
        item = decode(raw)
        item["event"] = item["event"].replace(b'"STAFF"', b'"ADMIN"')
        conn.execute("UPDATE items SET data = ? WHERE pk = ? AND sk = ?", (encode(item), pk, sk))
    broken = runner.invoke(app, ["audit", "verify", "--tenant", clinic], env=env)
    assert broken.exit_code == 1 and "BROKEN" in broken.output and "altered" in broken.output


def test_digest_prove_check_and_verify_against_an_auditors_digest(tmp_path: Path) -> None:
    home, env, clinic, p = _initialized(tmp_path, "Proof Clinic")
    legacy = p.uow.audit.event(Action.DENIED, "NOTE", None, None)  # type: ignore[union-attr]
    legacy["patient_id"] = "John Smith"  # an event written before ids were checked
    p.audit.append([legacy])
    digest = runner.invoke(app, ["audit", "digest", "--tenant", clinic], env=env)
    assert digest.exit_code == 0, digest.output
    kept = tmp_path / "digest.json"
    kept.write_text(digest.stdout)
    public = orjson.loads(digest.stdout)["public_key"]
    exported = runner.invoke(app, ["audit", "export", "--tenant", clinic], env=env)
    assert exported.exit_code == 0 and "John Smith" not in exported.stdout  # shown withheld
    proof = runner.invoke(app, ["audit", "prove", "--tenant", clinic, legacy["id"]], env=env)
    assert proof.exit_code == 0, proof.output
    (tmp_path / "proof.json").write_text(proof.stdout)
    checked = runner.invoke(
        app, ["audit", "check", str(tmp_path / "proof.json"), "--public-key", public], env=env
    )
    assert checked.exit_code == 0 and "holds" in checked.output
    wrong = runner.invoke(
        app, ["audit", "check", str(tmp_path / "proof.json"), "--public-key", "ab" * 32], env=env
    )
    assert wrong.exit_code == 1
    # the store is rolled back behind the auditor's back: every audit item removed
    with sqlite3.connect(home / "carevault.db") as db:
        db.execute("DELETE FROM items WHERE pk LIKE ?", (f"T#{clinic}#AUDIT#%",))
    (home / "carevault-witness.jsonl").unlink()  # and the witness log with it
    alone = runner.invoke(app, ["audit", "verify", "--tenant", clinic], env=env)
    assert alone.exit_code == 0  # consistent with itself ...
    against = runner.invoke(
        app, ["audit", "verify", "--tenant", clinic, "--against", str(kept)], env=env
    )
    assert against.exit_code == 1 and "rolled back" in against.output  # ... but not whole
    missing = runner.invoke(app, ["audit", "digest", "--tenant", "NO-SUCH-CLINIC"], env=env)
    assert missing.exit_code == 1 and "not found" in missing.output
