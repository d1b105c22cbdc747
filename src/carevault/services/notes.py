"""SOAP notes: drafts are edited, signing locks them, an amendment is a new signed note."""

from __future__ import annotations

from typing import Any

from carevault.domain.clinical import ClinicalNote, NoteStatus
from carevault.errors import InvalidTransition, ValidationError
from carevault.repo.care import stage_care
from carevault.services.practice import Practice


def draft(*, practice: Practice, **fields: Any) -> ClinicalNote:
    """Start a draft note for a patient."""
    p = practice
    if fields.get("status", NoteStatus.DRAFT) != NoteStatus.DRAFT or "amends" in fields:
        raise ValidationError("note.status", "a new note starts as a draft (use amend)")
    note = ClinicalNote.create(**fields, created_by=p.uow.actor, updated_by=p.uow.actor)
    saved = p.uow[ClinicalNote].add(note)
    p.uow.stage([stage_care(p.tenant, note.provider_id, note.patient_id)])
    p.uow.commit()
    return saved


def edit(*, practice: Practice, note_id: str, version: int, **content: Any) -> ClinicalNote:
    """Change a draft's content."""
    p = practice
    note = p.uow[ClinicalNote].for_change(note_id).model_copy(update={"version": version})
    saved = p.uow[ClinicalNote].update(note.edited(**content))
    p.uow.commit()
    return saved


def sign(*, practice: Practice, note_id: str, version: int) -> ClinicalNote:
    """Sign a draft; signing an amendment marks the note it amends as amended."""
    p = practice
    if p.uow.actor is None:
        raise ValidationError("note.signed_by", "a note is signed by a known user")
    note = p.uow[ClinicalNote].for_change(note_id).model_copy(update={"version": version})
    saved = p.uow[ClinicalNote].update(note.signed(p.now(), p.uow.actor))
    if note.amends is not None:
        old = p.uow[ClinicalNote].for_change(note.amends)
        if old.status is not NoteStatus.SIGNED:
            raise InvalidTransition("note.amends", "only a signed note can be amended")
        p.uow[ClinicalNote].update(old.changed(status=NoteStatus.AMENDED, amended_by=note.id))
    p.uow.commit()
    return saved


def amend(*, practice: Practice, note_id: str, **content: Any) -> ClinicalNote:
    """Start an amendment of a signed note: a new draft carrying the old content to edit."""
    p = practice
    old = p.uow[ClinicalNote].for_change(note_id)
    if old.status is not NoteStatus.SIGNED:
        raise InvalidTransition("note.status", f"cannot amend a {old.status.value} note")
    base = {k: getattr(old, k) for k in ClinicalNote.CONTENT}
    note = ClinicalNote.create(
        **{**base, **content},
        patient_id=old.patient_id,
        provider_id=old.provider_id,
        appointment_id=old.appointment_id,
        amends=old.id,
        created_by=p.uow.actor,
        updated_by=p.uow.actor,
    )
    saved = p.uow[ClinicalNote].add(note)
    p.uow.commit()
    return saved


def by_code(*, practice: Practice, code: str) -> list[ClinicalNote]:
    """Notes mentioning an ICD-10 diagnosis code (A12: encrypted search)."""
    return practice.uow[ClinicalNote].find("diagnosis", code)


def by_medication(*, practice: Practice, medication: str) -> list[ClinicalNote]:
    """Notes naming a medication (A12: encrypted search)."""
    return practice.uow[ClinicalNote].find("medication", medication)
