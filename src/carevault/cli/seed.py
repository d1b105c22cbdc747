"""``carevault seed`` and ``carevault demo``: demo data, synthetic data at scale, a short tour."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from carevault.blobs import open_blobs
from carevault.cli.common import StoreOption, console, fail
from carevault.cli.serve import HostOption, PortOption, WorkersOption, serve_command
from carevault.config import Settings
from carevault.crypto.keyring import Keyring
from carevault.domain.patient import PatientStatus
from carevault.errors import CarevaultError, ValidationError
from carevault.services import clinics, patients, scheduling, seed
from carevault.services.practice import Practice
from carevault.services.seed import Seeded
from carevault.store import Store


def _print_seeded(out: Seeded) -> None:
    table = Table(title="created")
    table.add_column("kind")
    table.add_column("count", justify="right")
    for kind, count in out.counts.items():
        table.add_row(kind, str(count))
    console.print(table)
    logins = Table(title="demo logins (passwords are shown this once)")
    columns = ("clinic", "email", "role", "password", "TOTP secret")
    for column in columns:
        logins.add_column(column, no_wrap=True)
    rows = [(x.clinic, x.email, x.role, x.password, x.totp) for x in out.logins]
    for row in rows:
        logins.add_row(*row)
    # as wide as its longest row, whatever the terminal: a log keeps each login on one line
    widest = [max(len(c) for c in (name, *(r[i] for r in rows))) for i, name in enumerate(columns)]
    needed = sum(widest) + 3 * len(columns) + 1
    wide = Console(file=console.file, width=max(console.width, needed), color_system=None)
    wide.print(logins)


def seed_command(
    store: StoreOption = None,
    demo: Annotated[bool, typer.Option("--demo", help="Create the demo clinics and data.")] = False,
    count: Annotated[
        int, typer.Option("--patients", help="Generate this many synthetic patients.", min=0)
    ] = 0,
    clinic: Annotated[
        str | None, typer.Option("--clinic", help="Clinic id for --patients (default: new).")
    ] = None,
) -> None:
    """Load demo data (--demo) or synthetic patients at scale (--patients N)."""
    if not demo and not count:
        raise fail(ValidationError("seed", "give --demo or --patients N"))
    settings = Settings.load(store)
    try:
        data, ring = settings.open()
        blobs = open_blobs(settings.blobs_url)
        with Progress(console=console, transient=True) as bar:
            if demo:
                task = bar.add_task("demo data", total=59)
                out = seed.demo(data, ring, blobs, progress=lambda n: bar.advance(task, n))
            if count:
                if clinic is None:
                    clinic = clinics.create_clinic(
                        store=data, ring=ring, name="Synthetic Clinic", time_zone="UTC"
                    ).id
                task = bar.add_task("patients", total=count)
                seed.synthetic(data, ring, clinic, count,
                               progress=lambda n: bar.advance(task, n))  # fmt: skip
    except CarevaultError as exc:
        raise fail(exc) from exc
    if demo:
        _print_seeded(out)
    if count:
        console.print(f"registered {count} synthetic patients in clinic {clinic}")


def demo_command(
    store: StoreOption = None,
    serve: Annotated[bool, typer.Option("--serve", help="Then serve the API (see --port)")] = False,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    workers: WorkersOption = 1,
) -> None:
    """Initialize the store, load the demo data if it is empty, show it (and serve the API)."""
    from carevault.cli.keys import init  # noqa: PLC0415 (one command reusing another)

    init(store)
    settings = Settings.load(store)
    try:
        data, ring = settings.open()
        existing = clinics.list_clinics(store=data).items
    except CarevaultError as exc:
        raise fail(exc) from exc
    if existing:
        console.print(f"the store already holds {len(existing)} clinics; not seeding again")
    else:
        seed_command(store=store, demo=True)
    try:
        _tour(data, ring)
    except CarevaultError as exc:
        raise fail(exc) from exc
    if serve:
        console.print(
            f"Interactive API docs: http://{host}:{port}/api/v1/docs — sign in with "
            "POST /api/v1/sessions using a demo login printed when the demo was loaded."
        )
        serve_command(store=store, host=host, port=port, workers=workers)


def _tour(data: Store, ring: Keyring) -> None:
    """Each clinic: its id, active patients and today's schedule, read through the services."""
    table = Table(title="what is there")
    for column in ("clinic", "id", "active patients", "appointments today"):
        table.add_column(column, overflow="fold")
    for row in clinics.list_clinics(store=data).items:
        practice = Practice.open(data, ring, row["id"])
        practice.audit.witness_digest()  # the seeded trail is witnessed from the start
        active = patients.by_status(practice=practice, status=PatientStatus.ACTIVE, limit=1000)
        today = practice.local_date(practice.now())
        day = scheduling.day_schedule(practice=practice, day=today)
        table.add_row(row["name"], row["id"], str(len(active.items)), str(len(day.items)))
    console.print(table)
    console.print(
        "Names, contact details, SSNs and clinical content are sealed with AES-256-GCM under "
        "each patient's own key; searches by email, phone, MRN or last name go through "
        "blind-index beacons. `carevault audit verify` checks the audit trail the seeding wrote "
        "against the digests in its witness log; "
        "`carevault store info` shows the engine and its change feed."
    )
