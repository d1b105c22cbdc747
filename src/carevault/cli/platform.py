"""Platform commands: the API clients that operate the clinic directory."""

from __future__ import annotations

from typing import Annotated

import typer

from carevault.access.clients import create_client
from carevault.cli.common import StoreOption, console, fail
from carevault.config import Settings
from carevault.errors import CarevaultError
from carevault.repo.records import PLATFORM
from carevault.repo.unit import UnitOfWork

platform_app = typer.Typer(help="Platform operations: clients of the clinic directory.")
PLATFORM_SCOPES = ("clinic:search", "clinic:write")


@platform_app.command("client")
def client_command(
    name: Annotated[str, typer.Option("--name", help="What the client is for")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="clinic:search (list clinics), clinic:write (onboard)"),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Create a platform API client and print its credential (shown this once)."""
    scopes = scope or list(PLATFORM_SCOPES)
    for i, value in enumerate(scopes):
        if value not in PLATFORM_SCOPES:
            console.print(
                f"[red]error:[/red] scope[{i}]: must be one of {', '.join(PLATFORM_SCOPES)}"
            )
            raise typer.Exit(2)
    try:
        data, ring = Settings.load(store).open()
        ring.ensure_tenant(PLATFORM)
        uow = UnitOfWork(data, ring, PLATFORM, actor="cli:platform")
        client, credential = create_client(uow=uow, name=name, scopes=scopes)
    except CarevaultError as exc:
        raise fail(exc) from exc
    console.print(f"platform client {client.id} ({', '.join(client.scopes)})")
    console.print(f"credential (shown once): {credential}", soft_wrap=True)
