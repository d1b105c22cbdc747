"""``carevault init`` and ``carevault keys …``: the key hierarchy from the command line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.progress import Progress

from carevault.blobs import open_blobs
from carevault.cli.common import StoreOption, console, fail
from carevault.config import Settings
from carevault.crypto.keyring import Keyring
from carevault.crypto.rotation import rewrap_root, rewrap_subjects, rotate_branch
from carevault.errors import CarevaultError
from carevault.repo.catalog import RECORD_TYPES
from carevault.repo.index_rotation import rotate_index
from carevault.repo.records import Records
from carevault.store import Store, redact

keys_app = typer.Typer(help="Root, branch and index keys: rotate them, shred a subject's key.")
TenantOption = Annotated[str, typer.Option("--tenant", help="The clinic (tenant) id.")]


@contextmanager
def _opened(store: str | None, create: bool = False) -> Iterator[tuple[Store, Keyring]]:
    settings = Settings.load(store)
    try:
        data, ring = settings.open(create)
    except CarevaultError as exc:
        raise fail(exc) from exc
    try:
        yield data, ring
    except CarevaultError as exc:
        raise fail(exc) from exc
    finally:
        data.close()
        ring.keys.close()


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int], None]]:
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda step: bar.advance(task, step)


def init(store: StoreOption = None) -> None:
    """Create the store, its key table and the root key (under CAREVAULT_HOME)."""
    settings = Settings.load(store)
    with _opened(store, create=True):
        pass
    try:
        open_blobs(settings.blobs_url)  # a local blob directory is created here, mode 0700
    except CarevaultError as exc:
        raise fail(exc) from exc
    console.print(f"data store: {redact(settings.store_url)}")
    console.print(f"key table:  {redact(settings.keys_url)}")
    console.print(f"root key:   {settings.provider().current_id()}")
    console.print(f"blobs:      {settings.blobs_url.split('?', 1)[0]}")


@keys_app.command("rotate-root")
def rotate_root_command(store: StoreOption = None) -> None:
    """Make a new root key current and re-wrap every branch and index key under it."""
    with _opened(store) as (_, ring), _progress("re-wrapping keys") as step:
        ring.provider.rotate()
        count = rewrap_root(ring, step)
    console.print(f"root key rotated; {count} keys re-wrapped")


@keys_app.command("rewrap-root")
def rewrap_root_command(store: StoreOption = None) -> None:
    """Finish an interrupted root rotation: re-wrap what is still under an old root."""
    with _opened(store) as (_, ring), _progress("re-wrapping keys") as step:
        count = rewrap_root(ring, step)
    console.print(f"{count} keys re-wrapped")


@keys_app.command("rotate-branch")
def rotate_branch_command(tenant: TenantOption, store: StoreOption = None) -> None:
    """New branch key for a tenant, then move every subject key onto it (resumable)."""
    with _opened(store) as (_, ring):
        version = rotate_branch(ring, tenant)
        with _progress("re-wrapping subject keys") as step:
            count = rewrap_subjects(ring, tenant, step)
    console.print(f"branch key {version} is current; {count} subject keys re-wrapped")


@keys_app.command("rewrap-subjects")
def rewrap_subjects_command(tenant: TenantOption, store: StoreOption = None) -> None:
    """Finish an interrupted branch rotation (safe to repeat)."""
    with _opened(store) as (_, ring), _progress("re-wrapping subject keys") as step:
        count = rewrap_subjects(ring, tenant, step)
    console.print(f"{count} subject keys re-wrapped")


@keys_app.command("rotate-index")
def rotate_index_command(tenant: TenantOption, store: StoreOption = None) -> None:
    """Rotate a tenant's index key: dual-write, backfill beacons, retire the old key.

    Resumes an interrupted rotation. Waits one key-cache period between steps so that
    every running process sees each step.
    """
    with _opened(store) as (data, ring), _progress("re-indexing records") as step:
        rotate_index(Records(data, ring, tenant, RECORD_TYPES), progress=step)
    console.print("index key rotated")


@keys_app.command("shred")
def shred_command(
    tenant: TenantOption,
    subject: Annotated[str, typer.Option("--subject", help="The subject (patient) id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
) -> None:
    """Destroy a subject's data key: all of its PHI, backups included, becomes unreadable."""
    if not yes:
        console.print("[red]error:[/red] --yes: shredding cannot be undone; confirm with --yes")
        raise typer.Exit(2)
    with _opened(None) as (data, ring):
        count = Records(data, ring, tenant, RECORD_TYPES).shred(subject)
    console.print(f"subject key destroyed; {count} records are now unreadable")
