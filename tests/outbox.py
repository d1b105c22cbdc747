"""Reading what the clinic's outbox holds for a patient, as the clinic's messaging would."""

from __future__ import annotations

import re

from carevault.domain.intake import Message, MessageKind
from carevault.services import outbox
from carevault.services.practice import Practice


def messages_to(practice: Practice, patient_id: str) -> list[Message]:
    """The pending messages to one patient, oldest first."""
    return [m for m in outbox.pending(practice=practice).items if m.patient_id == patient_id]


def invitation_code(practice: Practice, patient_id: str) -> str:
    """The code in the newest pending invitation to the patient."""
    found = [
        m for m in messages_to(practice, patient_id) if m.kind is MessageKind.PORTAL_INVITATION
    ]
    assert found, "no invitation is waiting in the outbox for this patient"
    match = re.search(r"invitation code: (\S+)", found[-1].body)
    assert match is not None, "the invitation message carries no code"
    return match.group(1)
