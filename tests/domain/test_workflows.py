"""Workflows on every engine: notes, billing, the patient portal, documents, soft delete."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from carevault.domain.billing import InvoiceStatus
from carevault.domain.clinic import User
from carevault.domain.clinical import ClinicalNote, Document, NoteStatus
from carevault.domain.intake import Registration
from carevault.domain.patient import AccountStatus, Patient
from carevault.errors import (
    ConflictError,
    IntegrityError,
    InvalidTransition,
    NotFound,
    ValidationError,
)
from carevault.repo.credentials import check_password, stage_password
from carevault.services import billing, clinical, clinics, notes, patients
from tests.domain.world import World, make_world
from tests.outbox import invitation_code, messages_to


def test_signing_locks_a_note_and_an_amendment_keeps_the_original(world: World) -> None:
    p, patient = world.practice, world.patient()
    note = notes.draft(
        practice=p,
        patient_id=patient.id,
        provider_id=world.doctor.id,
        subjective="Chest pain",
        diagnosis_codes=["I20.9"],
    )
    note = notes.edit(practice=p, note_id=note.id, version=note.version, plan="ECG")
    signed = notes.sign(practice=p, note_id=note.id, version=note.version)
    assert signed.status is NoteStatus.SIGNED and signed.signed_by == world.doctor.id
    with pytest.raises(InvalidTransition):
        notes.edit(practice=p, note_id=note.id, version=signed.version, plan="changed")
    amendment = notes.amend(practice=p, note_id=note.id, assessment="Stable angina")
    assert amendment.status is NoteStatus.DRAFT and amendment.plan == "ECG"
    notes.sign(practice=p, note_id=amendment.id, version=amendment.version)
    old = p.uow[ClinicalNote].require(note.id)
    assert old.status is NoteStatus.AMENDED and old.amended_by == amendment.id
    assert old.subjective == "Chest pain" and old.assessment == ""  # the original is kept
    with pytest.raises(InvalidTransition):
        notes.amend(practice=p, note_id=note.id)  # only the current signed version


def test_invoice_totals_payments_overdue_and_void(world: World) -> None:
    p, patient = world.practice, world.patient()
    lines = [
        {"description": "Visit", "unit_price": 15000},
        {"description": "Lab", "quantity": 2, "unit_price": 2500},
    ]
    invoice = billing.create(
        practice=p, patient_id=patient.id, line_items=lines, tax=500, discount=1000
    )
    assert (invoice.subtotal, invoice.total, invoice.balance) == (20000, 19500, 19500)
    issued = billing.issue(
        practice=p, invoice_id=invoice.id, version=invoice.version, due=date(2027, 3, 31)
    )
    part = billing.record_payment(
        practice=p, invoice_id=issued.id, version=issued.version, amount=9500, method="CARD"
    )
    assert part.status is InvoiceStatus.PARTIALLY_PAID and part.balance == 10000
    with pytest.raises(ValidationError) as over:
        billing.record_payment(
            practice=p, invoice_id=part.id, version=part.version, amount=10001, method="CASH"
        )
    assert over.value.field == "payment.amount"
    assert billing.mark_overdue(practice=p, today=date(2027, 3, 31)) == 0  # due today: not yet
    assert billing.mark_overdue(practice=p, today=date(2027, 4, 1)) == 1
    late = p.uow[type(invoice)].require(invoice.id)
    assert late.status is InvoiceStatus.OVERDUE
    paid = billing.record_payment(
        practice=p, invoice_id=late.id, version=late.version, amount=10000, method="INSURANCE"
    )
    assert paid.status is InvoiceStatus.PAID and paid.balance == 0
    draft = billing.create(practice=p, patient_id=patient.id, line_items=lines)
    voided = billing.void(practice=p, invoice_id=draft.id, version=draft.version, reason="Dup")
    assert voided.status is InvoiceStatus.VOID
    with pytest.raises(InvalidTransition):
        billing.issue(practice=p, invoice_id=draft.id, version=voided.version)


def test_portal_invitation_activates_once(world: World) -> None:
    p, patient = world.practice, world.patient()
    invitation = patients.invite(practice=p, patient_id=patient.id)
    token = invitation_code(p, patient.id)  # only the patient's email receives it
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    (message,) = messages_to(p, patient.id)
    assert message.to == patient.email and token not in message.subject
    assert p.uow[Patient].require(patient.id).account_status is AccountStatus.PENDING
    user = patients.activate(store=world.store, ring=world.ring, token=token)
    assert user.role.value == "PATIENT" and user.patient_id == patient.id
    again = p.uow[Patient].require(patient.id)
    assert again.account_status is AccountStatus.ACTIVE and again.portal_user_id == user.id
    with pytest.raises(ValidationError) as spent:
        patients.activate(store=world.store, ring=world.ring, token=token)
    assert spent.value.field == "token"
    with pytest.raises(ValidationError):
        patients.activate(store=world.store, ring=world.ring, token="x" * 43)


def test_documents_are_sealed_and_checked_on_the_way_out(world: World) -> None:
    p, patient = world.practice, world.patient()
    data = b"%PDF-1.4 troponin 0.01 ng/mL"
    doc = clinical.upload(
        practice=p,
        data=data,
        patient_id=patient.id,
        title="Troponin",
        file_name="trop.pdf",
        mime_type="application/pdf",
        checksum="sha256:" + hashlib.sha256(data).hexdigest(),
    )
    stored = world.blobs.get(doc.blob_key)
    assert b"troponin" not in stored and len(stored) > len(data)
    got, back = clinical.download(practice=p, document_id=doc.id)
    assert back == data and got.size == len(data) and got.title == "Troponin"
    world.blobs.put(doc.blob_key, stored[:-1] + bytes([stored[-1] ^ 1]))
    with pytest.raises(IntegrityError):
        clinical.download(practice=p, document_id=doc.id)
    other = clinical.upload(
        practice=p,
        data=b"other",
        patient_id=patient.id,
        title="x",
        file_name="x.txt",
        mime_type="text/plain",
    )
    world.blobs.put(doc.blob_key, world.blobs.get(other.blob_key))  # a blob moved across rows
    with pytest.raises(IntegrityError):
        clinical.download(practice=p, document_id=doc.id)
    assert p.uow[Document].get(doc.id) is not None


def test_soft_delete_hides_and_restore_brings_back(world: World) -> None:
    p = world.practice
    patient = world.patient("Ashdown")
    p.uow[Patient].delete(patient.id, version=patient.version)
    p.uow.commit()
    assert p.uow[Patient].get(patient.id) is None
    assert p.uow[Patient].get(patient.id, deleted=True) is not None
    assert patients.find(practice=p, by="last_name", value="Ashdown") == []
    assert patients.by_mrn(practice=p, mrn=patient.mrn) is None
    with pytest.raises(ValidationError) as refused:  # a deleted patient cannot get new notes
        notes.draft(practice=p, patient_id=patient.id, provider_id=world.doctor.id)
    assert refused.value.field == "clinical_note.patient_id"
    with pytest.raises(ConflictError):  # its MRN stays reserved until it is purged
        world.patient(mrn=patient.mrn)
    p.uow[Patient].restore(patient.id)
    p.uow.commit()
    assert [x.id for x in patients.find(practice=p, by="last_name", value="Ashdown")] == [
        patient.id
    ]
    with pytest.raises(NotFound):
        p.uow[Patient].restore(patient.id)


def test_registration_converts_into_a_patient(world: World) -> None:
    p = world.practice
    reg = clinical.create(
        practice=p,
        entity=Registration,
        first_name="Ivy",
        last_name="Lark",
        email="ivy.lark@example.org",
        date_of_birth="1990-02-03",
        concerns=["anxiety"],
    )
    patient = clinical.convert_registration(
        practice=p, registration_id=reg.id, mrn="MRN-IVY", gender="FEMALE"
    )
    assert patient.conditions == ["anxiety"] and patient.email == "ivy.lark@example.org"
    assert p.uow[Registration].require(reg.id).patient_id == patient.id
    with pytest.raises(InvalidTransition):
        clinical.convert_registration(
            practice=p, registration_id=reg.id, mrn="MRN-IVY2", gender="FEMALE"
        )


def test_no_repository_reaches_another_clinic(world: World) -> None:
    neighbour = make_world(world.make_store, world.tmp, shared=world)
    theirs = neighbour.patient("Private")
    mine = world.practice
    assert mine.uow[Patient].get(theirs.id) is None
    assert patients.find(practice=mine, by="last_name", value="Private") == []
    assert patients.by_mrn(practice=mine, mrn=theirs.mrn) is None
    assert clinics.user_by_login(practice=mine, email=neighbour.doctor.email) is None
    assert mine.uow.history(theirs.id).items == []
    mine_patient = world.patient(mrn=theirs.mrn)  # MRNs are unique per clinic only
    assert mine_patient.mrn == theirs.mrn


def test_passwords_are_hashed_with_argon2id(world: World) -> None:
    uow = world.practice.uow
    with pytest.raises(ValidationError):
        stage_password(uow, world.doctor.id, "short")
    stage_password(uow, world.doctor.id, "correct horse battery")
    uow.commit()
    pk = f"T#{world.tenant}#USER#{world.doctor.id}"
    stored = world.store.get(pk, "CREDENTIAL")
    assert stored is not None and stored["hash"].startswith("$argon2id$")
    assert check_password(uow, world.doctor.id, "correct horse battery")
    assert not check_password(uow, world.doctor.id, "correct horse batterY")
    assert uow[User].require(world.doctor.id).email.startswith("doc")
