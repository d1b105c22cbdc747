"""The CLI: every command documented; store commands work on a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from carevault.cli import app
from carevault.config import Settings
from carevault.domain.patient import Patient
from carevault.errors import DuplicateValue, KeyDestroyed
from carevault.services import clinics, patients
from carevault.services.practice import Practice

runner = CliRunner()


def _commands(group: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for command in group.registered_commands:
        found.append((*prefix, command.name or command.callback.__name__))  # type: ignore[union-attr]
    for sub in group.registered_groups:
        found += _commands(sub.typer_instance, (*prefix, sub.name or ""))  # type: ignore[arg-type]
    return found


def test_every_command_has_help() -> None:
    commands = _commands(app)
    assert ("store", "init") in commands and ("version",) in commands
    for command in commands:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Usage" in result.output


def test_store_init_info_and_purge(tmp_path: Path) -> None:
    env = {"CAREVAULT_HOME": str(tmp_path / "home")}
    assert runner.invoke(app, ["store", "init"], env=env).exit_code == 0
    assert (tmp_path / "home" / "carevault.db").stat().st_mode & 0o077 == 0
    info = runner.invoke(app, ["store", "info"], env=env)
    assert info.exit_code == 0 and "sqlite" in info.output
    assert runner.invoke(app, ["store", "purge-expired"], env=env).exit_code == 0


def test_bad_store_url_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["store", "info", "--store", "mysql://x"])
    assert result.exit_code == 1
    assert "store URL" in result.output
    missing = runner.invoke(app, ["store", "info", "--store", f"sqlite:///{tmp_path}/none.db"])
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_init_and_key_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"CAREVAULT_HOME": str(home)}
    result = runner.invoke(app, ["init"], env=env)
    assert result.exit_code == 0, result.output
    assert (home / "root.key").stat().st_mode & 0o777 == 0o600
    assert (home / "carevault-keys.db").exists()
    assert (home / "blobs").stat().st_mode & 0o077 == 0
    settings = Settings.load(home=str(home))
    data, ring = settings.open()
    clinic = clinics.create_clinic(store=data, ring=ring, name="Rotation Clinic").id
    practice = Practice.open(data, ring, clinic)
    people = [
        patients.register(
            practice=practice,
            mrn=f"MRN-{i}",
            first_name="Ann",
            last_name="Lee",
            date_of_birth="1980-01-02",
            gender="FEMALE",
            email=f"ann{i}@example.org",
        )
        for i in (1, 2)
    ]
    gone, kept = people

    for args in (
        ["keys", "rotate-root"],
        ["keys", "rotate-branch", "--tenant", clinic],
        ["keys", "rotate-index", "--tenant", clinic],
        ["keys", "shred", "--tenant", clinic, "--subject", gone.id, "--yes"],
    ):
        result = runner.invoke(app, args, env={**env, "CAREVAULT_KEY_CACHE_TTL": "0"})
        assert result.exit_code == 0, (args, result.output)
    assert "1 records are now unreadable" in result.output

    _, fresh = settings.open()
    assert fresh.provider.current_id() == "local:2"
    assert fresh.current_branch(clinic) == 2
    assert fresh.index_keys(clinic).write == (2,)
    after = Practice.open(data, fresh, clinic)
    assert after.uow[Patient].require(kept.id).email == "ann2@example.org"
    # the index sweep re-keyed the domain's beacons and sentinels: searches still find
    assert [p.id for p in patients.find(practice=after, by="email", value="ann2@example.org")] == [
        kept.id
    ]
    assert patients.by_mrn(practice=after, mrn="mrn 2") is not None
    with pytest.raises(DuplicateValue):
        patients.register(
            practice=after,
            mrn="MRN-2",
            first_name="B",
            last_name="C",
            date_of_birth="1980-01-02",
            gender="MALE",
        )
    with pytest.raises(KeyDestroyed):
        after.uow[Patient].get(gone.id)
    refused = runner.invoke(
        app, ["keys", "shred", "--tenant", clinic, "--subject", kept.id], env=env
    )
    assert refused.exit_code == 2
    assert after.uow[Patient].get(kept.id) is not None
