"""The ``carevault`` command: thin commands over library calls."""

from __future__ import annotations

import os

import typer
from rich.table import Table

from carevault import __version__
from carevault.cli.audit import audit_app
from carevault.cli.common import StoreOption, console, fail
from carevault.cli.keys import init, keys_app
from carevault.cli.outbox import outbox_app
from carevault.cli.platform import platform_app
from carevault.cli.seed import demo_command, seed_command
from carevault.cli.serve import serve_command
from carevault.config import Settings
from carevault.errors import CarevaultError
from carevault.logs import configure
from carevault.store import open_store, redact

app = typer.Typer(help="carevault: encrypted, audited health data.", no_args_is_help=True)
store_app = typer.Typer(help="The item store: create it, inspect it, purge expired items.")
app.add_typer(store_app, name="store", no_args_is_help=True)
app.add_typer(keys_app, name="keys", no_args_is_help=True)
app.add_typer(audit_app, name="audit", no_args_is_help=True)
app.add_typer(platform_app, name="platform", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox", no_args_is_help=True)
app.command("init")(init)
app.command("seed")(seed_command)
app.command("demo")(demo_command)
app.command("serve")(serve_command)


def _url(store: str | None) -> str:
    return Settings.load(store).store_url


@app.command()
def version() -> None:
    """Print carevault's version."""
    console.print(__version__)


@store_app.command("init")
def store_init(store: StoreOption = None) -> None:
    """Create the store's tables and indexes (safe to run again)."""
    url = _url(store)
    try:
        with open_store(url) as opened:
            opened.create_table()
    except CarevaultError as exc:
        raise fail(exc) from exc
    console.print(f"store ready: {redact(url)}")


@store_app.command("info")
def store_info(store: StoreOption = None) -> None:
    """Show the engine, the URL and how many changes the feed holds."""
    url = _url(store)
    try:
        with open_store(url) as opened:
            changes, position = 0, None
            while True:
                page = opened.changes(position, limit=1000)
                changes += len(page.changes)
                if not page.changes:
                    break
                position = page.position
            engine = opened.engine
    except CarevaultError as exc:
        raise fail(exc) from exc
    table = Table(show_header=False)
    table.add_row("engine", engine)
    table.add_row("url", redact(url))
    table.add_row("changes in feed", str(changes))
    console.print(table)


@store_app.command("purge-expired")
def store_purge(store: StoreOption = None) -> None:
    """Remove expired items now (DynamoDB removes them by its own TTL)."""
    try:
        with open_store(_url(store)) as opened:
            removed = opened.purge_expired()
    except CarevaultError as exc:
        raise fail(exc) from exc
    console.print(f"removed {removed} expired items")


def main() -> None:
    """Entry point of the ``carevault`` script: JSON logs with PHI masked, then the command."""
    configure(os.environ.get("CAREVAULT_LOG_LEVEL", "WARNING").upper())
    app()
