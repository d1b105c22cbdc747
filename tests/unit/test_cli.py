"""The CLI: every command documented; store commands work on a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from carevault.cli import app

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
    from carevault.config import Settings
    from carevault.repo.records import Records
    from tests.contract.sealed import TYPES, patient

    home = tmp_path / "home"
    env = {"CAREVAULT_HOME": str(home)}
    result = runner.invoke(app, ["init"], env=env)
    assert result.exit_code == 0, result.output
    assert (home / "root.key").stat().st_mode & 0o777 == 0o600
    assert (home / "carevault-keys.db").exists()
    settings = Settings.load(home=str(home))
    data, ring = settings.open()
    records = Records(data, ring, "c1", TYPES)
    records.put("PATIENT", "p1", patient(1))
    records.put("PATIENT", "p2", patient(2))

    for args in (
        ["keys", "rotate-root"],
        ["keys", "rotate-branch", "--tenant", "c1"],
        ["keys", "rotate-index", "--tenant", "c1"],
        ["keys", "shred", "--tenant", "c1", "--subject", "p1", "--yes"],
    ):
        result = runner.invoke(app, args, env={**env, "CAREVAULT_KEY_CACHE_TTL": "0"})
        assert result.exit_code == 0, (args, result.output)
    assert "1 records are now unreadable" in result.output

    _, fresh = settings.open()
    assert fresh.provider.current_id() == "local:2"
    assert fresh.current_branch("c1") == 2
    assert fresh.index_keys("c1").write == (2,)
    after = Records(data, fresh, "c1", TYPES)
    assert after.get("PATIENT", "p2").fields == patient(2)  # type: ignore[union-attr]
    from carevault.errors import KeyDestroyed

    try:
        after.get("PATIENT", "p1")
        raise AssertionError("shredded subject was readable")
    except KeyDestroyed:
        pass
    refused = runner.invoke(app, ["keys", "shred", "--tenant", "c1", "--subject", "p2"], env=env)
    assert refused.exit_code == 2
    assert after.get("PATIENT", "p2") is not None
