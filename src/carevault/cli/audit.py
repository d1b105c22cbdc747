"""``carevault audit …``: verify the chains, the accounting of disclosures, export."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer
from rich.table import Table

from carevault.audit.recorder import AuditContext, Auditor
from carevault.audit.signing import Signer
from carevault.audit.trail import AuditTrail, exported, verify
from carevault.cli.common import StoreOption, console, fail
from carevault.config import Settings
from carevault.domain.audit import Action, Level, Outcome
from carevault.errors import CarevaultError, ValidationError
from carevault.repo.records import PLATFORM
from carevault.services import audit_trail
from carevault.services.practice import Practice

audit_app = typer.Typer(help="The audit trail: verify it, account for disclosures, export it.")
TenantOption = Annotated[str | None, typer.Option("--tenant", help="The clinic (tenant) id.")]


def _since(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise fail(ValidationError("--since", "must be a date or time, e.g. 2027-01-31")) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@audit_app.command("verify")
def verify_command(store: StoreOption = None, tenant: TenantOption = None) -> None:
    """Recompute every hash chain and signature; exit 1 at the first broken link."""
    try:
        data, ring = Settings.load(store).open()
        tenants = [tenant] if tenant else [t for t in ring.tenants() if t != PLATFORM]
        broken = False
        for clinic in tenants:
            report = verify(AuditTrail(data, Signer(ring, clinic), clinic))
            for found in report.breaks:
                broken = True
                console.print(
                    f"[red]BROKEN[/red] clinic {clinic} chain {found.shard} "
                    f"event {found.seq}: {found.problem}"
                )
            if report.intact:
                console.print(f"ok: clinic {clinic}: {report.events} events verified")
    except CarevaultError as exc:
        raise fail(exc) from exc
    if broken:
        raise typer.Exit(1)


@audit_app.command("disclosures")
def disclosures_command(
    patient: Annotated[str, typer.Option("--patient", help="The patient id.")],
    since: Annotated[str, typer.Option("--since", help="From this date (YYYY-MM-DD).")],
    tenant: Annotated[str, typer.Option("--tenant", help="The clinic (tenant) id.")],
    store: StoreOption = None,
) -> None:
    """The accounting of disclosures: every access to one patient's records since a date."""
    start = _since(since)
    try:
        data, ring = Settings.load(store).open()
        events = audit_trail.disclosures(
            practice=Practice.open(data, ring, tenant), patient_id=patient, since=start
        )
    except CarevaultError as exc:
        raise fail(exc) from exc
    table = Table(title=f"disclosures of patient {patient} since {start:%Y-%m-%d}")
    for column in ("time", "actor", "role", "action", "resource", "purpose", "outcome"):
        table.add_column(column, overflow="fold")
    for e in events:
        table.add_row(
            f"{e.at:%Y-%m-%d %H:%M:%S}",
            e.actor_id,
            e.role,
            e.action.value,
            f"{e.resource_type} {e.resource_id or ''}",
            e.purpose,
            e.outcome.value,
        )
    console.print(table)


def _record_export(trail: AuditTrail) -> None:
    """The export itself is an audited event (data-export tracking)."""
    actor = f"cli:{getpass.getuser()}"[:64].replace(" ", "_")
    context = AuditContext(actor=actor, role="AUDITOR", purpose="OPERATIONS")
    Auditor(trail, context).record(
        Action.EXPORT, "AUDIT", None, None, Outcome.SUCCESS, Level.CRITICAL
    )


@audit_app.command("export")
def export_command(store: StoreOption = None, tenant: TenantOption = None) -> None:
    """Write every event as JSON Lines on standard output (chain by chain, in order)."""
    try:
        data, ring = Settings.load(store).open()
        tenants = [tenant] if tenant else [t for t in ring.tenants() if t != PLATFORM]
        for clinic in tenants:
            trail = AuditTrail(data, Signer(ring, clinic), clinic)
            _record_export(trail)
            for shard in range(trail.shards):
                for item in trail.events(shard):
                    row = {**exported(item), "tenant": clinic}
                    sys.stdout.buffer.write(orjson.dumps(row) + b"\n")
    except CarevaultError as exc:
        raise fail(exc) from exc
