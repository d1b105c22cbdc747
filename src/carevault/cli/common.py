"""What every command shares: the console, the --store option, error output."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from carevault.errors import CarevaultError

console = Console()

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="CAREVAULT_STORE",
        help="Store URL: sqlite:///path, postgresql://…, dynamodb://TABLE?region=…&endpoint=…",
        show_default="sqlite:///$CAREVAULT_HOME/carevault.db",
    ),
]


def fail(exc: CarevaultError) -> typer.Exit:
    """Print a carevault error (it names field and rule, never stored values); exit 1."""
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(1)
