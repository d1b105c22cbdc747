"""Outbox commands: hand the clinics' pending messages to the operator's messaging.

Without a mail relay configured (the demo), ``send`` prints each message: the operator's
terminal stands where the clinic's mailer would.
"""

from __future__ import annotations

from typing import Annotated

import typer

from carevault.cli.common import StoreOption, console, fail
from carevault.config import Settings
from carevault.domain.intake import Message
from carevault.domain.staffing import StaffMessage
from carevault.errors import CarevaultError
from carevault.services import outbox
from carevault.services.clinics import list_clinics
from carevault.services.practice import Practice
from carevault.store import Store

outbox_app = typer.Typer(help="The clinics' outbox: messages to patients and staff.")


@outbox_app.command("send")
def send_command(
    clinic: Annotated[
        str | None, typer.Option("--clinic", help="One clinic's id (default: every clinic)")
    ] = None,
    store: StoreOption = None,
) -> None:
    """Print every pending message (to, subject, body) and mark it sent."""
    try:
        data, ring = Settings.load(store).open()
        tenants = [clinic] if clinic else _clinics(data)
        count = 0
        for tenant in tenants:
            practice = Practice.open(data, ring, tenant, actor="cli:outbox")
            messages: list[Message | StaffMessage] = [
                *outbox.pending(practice=practice).items,
                *outbox.pending_staff(practice=practice).items,
            ]
            for message in messages:
                console.print(f"[bold]to:[/bold] {message.to}", soft_wrap=True)
                console.print(f"[bold]subject:[/bold] {message.subject}", soft_wrap=True)
                console.print(message.body, soft_wrap=True, markup=False, highlight=False)
                console.print()
                outbox.mark_sent(practice=practice, message=message)
                count += 1
    except CarevaultError as exc:
        raise fail(exc) from exc
    console.print(f"{count} message{'s' if count != 1 else ''} sent")


def _clinics(data: Store) -> list[str]:
    """Every clinic of the directory."""
    ids: list[str] = []
    cursor = None
    while True:
        page = list_clinics(store=data, cursor=cursor)
        ids += [row["id"] for row in page.items]
        cursor = page.cursor
        if cursor is None:
            return ids
