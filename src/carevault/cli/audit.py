"""``carevault audit …``: verify the chains, digests and proofs, disclosures, export."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from carevault.audit import proofs
from carevault.audit.digest import Digest, parse
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

audit_app = typer.Typer(
    help="The audit trail: verify it, sign digests, prove events, account for disclosures."
)
TenantOption = Annotated[str | None, typer.Option("--tenant", help="The clinic (tenant) id.")]
AgainstOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--against",
        help="A digest file (from `audit digest`) the trail must extend; may be repeated.",
    ),
]


def _digest_file(path: Path, where: str) -> Digest:
    try:
        text = path.read_bytes()
    except OSError:
        raise fail(ValidationError(where, f"cannot read {path}")) from None
    return parse(text, where)


def _json_file(path: Path, where: str) -> dict[str, object]:
    try:
        found = orjson.loads(path.read_bytes())
    except OSError:
        raise fail(ValidationError(where, f"cannot read {path}")) from None
    except orjson.JSONDecodeError:
        raise fail(ValidationError(where, "must be a JSON file")) from None
    if not isinstance(found, dict):
        raise fail(ValidationError(where, "must be a JSON object"))
    return found


def _since(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise fail(ValidationError("--since", "must be a date or time, e.g. 2027-01-31")) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@audit_app.command("verify")
def verify_command(
    store: StoreOption = None, tenant: TenantOption = None, against: AgainstOption = None
) -> None:
    """Recompute every chain, signature and index key; check the trail extends every digest
    of the witness log (and each --against file). Exit 1 if anything is broken."""
    try:
        given = [_digest_file(p, "--against") for p in against or []]
        data, ring = Settings.load(store).open()
        tenants = [tenant] if tenant else [t for t in ring.tenants() if t != PLATFORM]
        tenants += sorted({d.tenant for d in given} - set(tenants)) if not tenant else []
        broken = False
        for clinic in tenants:
            mine = [d for d in given if d.tenant == clinic]
            report = verify(AuditTrail(data, Signer(ring, clinic), clinic), against=mine)
            for found in report.breaks:
                broken = True
                where = "trail" if found.shard < 0 else f"chain {found.shard} event {found.seq}"
                console.print(f"[red]BROKEN[/red] clinic {clinic} {where}: {found.problem}")
            if report.intact:
                console.print(
                    f"ok: clinic {clinic}: {report.events} events verified, "
                    f"extends {report.digests} digests"
                )
    except CarevaultError as exc:
        raise fail(exc) from exc
    if broken:
        raise typer.Exit(1)


@audit_app.command("digest")
def digest_command(
    tenant: Annotated[str, typer.Option("--tenant", help="The clinic (tenant) id.")],
    store: StoreOption = None,
) -> None:
    """Print a signed digest of the tenant's trail (JSON), also appended to the witness log.

    Keep it: `audit verify --against FILE` later shows whether the trail still extends it."""
    try:
        data, ring = Settings.load(store).open()
        ring.require_tenant(tenant)
        trail = AuditTrail(data, Signer(ring, tenant), tenant)
        found = trail.witness_digest() or trail.digest()
        sys.stdout.buffer.write(proofs.keyed(found, trail).line() + b"\n")
    except CarevaultError as exc:
        raise fail(exc) from exc


@audit_app.command("prove")
def prove_command(
    tenant: Annotated[str, typer.Option("--tenant", help="The clinic (tenant) id.")],
    event: Annotated[
        str | None, typer.Argument(help="The event id to prove is in the trail.")
    ] = None,
    since: Annotated[
        Path | None,
        typer.Option("--since", help="A digest file: prove the trail now extends it."),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Print an inclusion proof of EVENT, or a consistency proof since a digest (JSON)."""
    if (event is None) == (since is None):
        raise fail(ValidationError("EVENT", "give an event id or --since DIGEST, not both"))
    try:
        old = _digest_file(since, "--since") if since is not None else None
        data, ring = Settings.load(store).open()
        ring.require_tenant(tenant)
        trail = AuditTrail(data, Signer(ring, tenant), tenant)
        proof = proofs.consistency(trail, old) if old else proofs.inclusion(trail, event or "")
        sys.stdout.buffer.write(orjson.dumps(proof, option=orjson.OPT_INDENT_2) + b"\n")
    except CarevaultError as exc:
        raise fail(exc) from exc


@audit_app.command("check")
def check_command(
    proof: Annotated[Path, typer.Argument(help="A proof file from `audit prove`.")],
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", help="The tenant's audit key (hex) you trust; pin it."),
    ] = None,
) -> None:
    """Check a proof offline, without the store; exit 1 if it does not hold."""
    try:
        problems = proofs.check(_json_file(proof, "PROOF"), public_key)
    except CarevaultError as exc:
        raise fail(exc) from exc
    for problem in problems:
        console.print(f"[red]FAILS[/red] {problem}")
    if problems:
        raise typer.Exit(1)
    pinned = "" if public_key else " (with the key the proof names: pin it with --public-key)"
    console.print(f"ok: the proof holds{pinned}")


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
    columns = ("time", "actor", "role", "action", "resource", "purpose", "outcome", "from")
    for column in columns:
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
            " ".join(v for v in (e.address, e.agent) if v),
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
