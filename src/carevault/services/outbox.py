"""The clinic's outbox: messages to patients and staff, sealed until the clinic's mailer sends
them.

Secrets meant for a patient (a portal invitation's token) go here and nowhere else: never
back to the staff member whose action produced them.
"""

from __future__ import annotations

from datetime import datetime

from carevault.domain.intake import Message, MessageKind, MessageStatus
from carevault.domain.staffing import StaffMessage
from carevault.repo.unit import Listing
from carevault.services.practice import Practice


def stage(
    p: Practice,
    *,
    patient_id: str,
    to: str,
    kind: MessageKind,
    subject: str,
    body: str,
    expires_at: datetime,
) -> Message:
    """Stage a message in the pending transaction (it is queued when that commits)."""
    message = Message.create(
        patient_id=patient_id,
        kind=kind,
        to=to,
        subject=subject,
        body=body,
        expires_at=expires_at,
        created_by=p.uow.actor,
        updated_by=p.uow.actor,
    )
    return p.uow[Message].add(message)


def pending(*, practice: Practice, limit: int = 100) -> Listing[Message]:
    """The oldest messages not sent yet."""
    return practice.uow[Message].query(
        "gsi4", f"MESSAGE#STATUS#{MessageStatus.PENDING.value}", limit=limit
    )


def pending_staff(*, practice: Practice, limit: int = 100) -> Listing[StaffMessage]:
    """The oldest messages to the clinic's users not sent yet (invitations, resets)."""
    return practice.uow[StaffMessage].query(
        "gsi4", f"STAFFMSG#STATUS#{MessageStatus.PENDING.value}", limit=limit
    )


def mark_sent(*, practice: Practice, message: Message | StaffMessage) -> Message | StaffMessage:
    """Record that the clinic's messaging handed the message over."""
    p = practice
    current = p.uow[type(message)].for_change(message.id)
    saved = p.uow[type(message)].update(current.changed(status=MessageStatus.SENT, sent_at=p.now()))
    p.uow.commit()
    return saved
