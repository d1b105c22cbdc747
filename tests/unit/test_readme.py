"""The README works as written: its Python runs, and its CLI reference names every command."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from carevault.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_every_python_block_runs_as_written() -> None:
    blocks = _blocks("python")
    assert blocks, "the README shows Python"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def _commands() -> list[tuple[str, ...]]:
    root = typer.main.get_command(app)
    found: list[tuple[str, ...]] = []
    for name, command in getattr(root, "commands", {}).items():
        if hasattr(command, "commands"):  # a group: its subcommands
            found += [(name, sub) for sub in command.commands]
        else:
            found.append((name,))
    assert len(found) > 10, found
    return found


def _names(line: str, path: tuple[str, ...]) -> bool:
    """Whether a README line shows the command: ``carevault keys shred``, or a group's line
    that lists it (``carevault keys rotate-root  # also: …, shred``)."""
    if line.startswith(" ".join(("carevault", *path))):
        return True
    group = " ".join(("carevault", *path[:-1])) + " "
    return len(path) > 1 and line.startswith(group) and bool(re.search(rf"\b{path[-1]}\b", line))


def test_the_cli_reference_names_every_command() -> None:
    lines = [line.strip() for block in _blocks("sh") for line in block.splitlines()]
    missing = []
    for path in _commands():
        group = " ".join(("carevault", *path[:-1]))
        named = any(
            line.startswith(" ".join(("carevault", *path)))
            or (
                len(path) > 1
                and line.startswith(group + " ")
                and re.search(rf"\b{path[-1]}\b", line)
            )
            for line in lines
        )
        if not named:
            missing.append(" ".join(path))
    assert not missing, f"the README's CLI reference lacks: {missing}"
