"""Medical records, documents (sealed blobs), treatment records, consents and intake."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, TypeVar

from carevault.crypto import aead
from carevault.domain.base import Entity
from carevault.domain.clinical import (
    Document,
    DocumentType,
    MedicalRecord,
    RecordType,
)
from carevault.domain.ids import new_id
from carevault.domain.intake import (
    InsuranceVerification,
    Registration,
    RegistrationStatus,
    VerificationResult,
    VerificationStatus,
)
from carevault.domain.patient import Patient
from carevault.errors import (
    ConfigurationError,
    IntegrityError,
    InvalidTransition,
    StaleVersion,
    ValidationError,
)
from carevault.repo.unit import Listing
from carevault.services.practice import Practice

E = TypeVar("E", bound=Entity)
MAX_DOCUMENT_BYTES = 25 * 1024 * 1024


def create(*, practice: Practice, entity: type[E], **fields: Any) -> E:
    """Create any clinical or intake entity (references are checked in the transaction)."""
    p = practice
    saved = p.uow[entity].add(
        entity.create(**fields, created_by=p.uow.actor, updated_by=p.uow.actor)
    )
    p.uow.commit()
    return saved


def records_by_type(
    *, practice: Practice, record_type: RecordType, limit: int = 100, cursor: str | None = None
) -> Listing[MedicalRecord]:
    """Medical records of one type, by visit date (A11: one query)."""
    return practice.uow[MedicalRecord].query(
        "gsi5", f"RECORD#TYPE#{record_type.value}", limit=limit, cursor=cursor
    )


def records_by_code(*, practice: Practice, code: str) -> list[MedicalRecord]:
    """Records with an ICD-10 diagnosis code (A12: encrypted search)."""
    return practice.uow[MedicalRecord].find("diagnosis", code)


def records_by_medication(*, practice: Practice, medication: str) -> list[MedicalRecord]:
    """Records prescribing a medication (A12: encrypted search)."""
    return practice.uow[MedicalRecord].find("medication", medication)


def documents_by_type(
    *, practice: Practice, doc_type: DocumentType, limit: int = 100, cursor: str | None = None
) -> Listing[Document]:
    """Documents of one type, newest last (A11: one query)."""
    return practice.uow[Document].query(
        "gsi5", f"DOC#TYPE#{doc_type.value}", limit=limit, cursor=cursor
    )


def treatment_records(
    *, practice: Practice, patient_id: str, limit: int = 100, cursor: str | None = None
) -> Listing[Entity]:
    """A client's treatment records by session date (A13: one query)."""
    return practice.uow.history(patient_id, prefix="TREATMENT#", limit=limit, cursor=cursor)


# -- documents --------------------------------------------------------------------------


def _blob_context(p: Practice, document_id: str, version: int) -> bytes:
    return f"{p.tenant}|DOC|{document_id}|blob|{version}".encode()


def upload(
    *,
    practice: Practice,
    data: bytes,
    checksum: str | None = None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    **fields: Any,
) -> Document:
    """Store a document: its bytes sealed under the patient's key in the blob store."""
    p = practice
    if p.blobs is None:
        raise ConfigurationError("documents need a blob store (CAREVAULT_HOME/blobs or s3://)")
    if not data:
        raise ValidationError("document.size", "must not be empty")
    if len(data) > max_bytes:
        raise ValidationError("document.size", f"must be at most {max_bytes} bytes")
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if checksum is not None and not hmac.compare_digest(checksum.lower(), digest):
        raise ValidationError("document.checksum", "does not match the uploaded bytes")
    document_id = new_id()
    document = Document.create(
        **fields,
        size=len(data),
        checksum=digest,
        id=document_id,
        blob_key=f"{p.tenant}/{document_id}",
        created_by=p.uow.actor,
        updated_by=p.uow.actor,
    )
    p.uow.may_create(Document, document.patient_id)  # before any key or blob is made for it
    kv, key = p.uow.records.ring.subject_key(p.tenant, document.patient_id, create=True)
    p.blobs.put(document.blob_key, aead.seal(key, kv, data, _blob_context(p, document.id, kv)))
    try:
        saved = p.uow[Document].add(document)
        p.uow.commit()
    except BaseException:
        p.blobs.delete(document.blob_key)
        raise
    return saved


def download(*, practice: Practice, document_id: str) -> tuple[Document, bytes]:
    """A document and its bytes, decrypted and checked against the stored checksum."""
    p = practice
    if p.blobs is None:
        raise ConfigurationError("documents need a blob store (CAREVAULT_HOME/blobs or s3://)")
    document = p.uow[Document].require(document_id)
    sealed = p.blobs.get(document.blob_key)
    _, key = p.uow.records.ring.subject_key(p.tenant, document.patient_id)
    data = aead.open_sealed(key, sealed, _blob_context(p, document.id, aead.version_of(sealed)))
    if "sha256:" + hashlib.sha256(data).hexdigest() != document.checksum:
        raise IntegrityError("document bytes do not match their checksum")
    return document, data


# -- registrations ----------------------------------------------------------------------


def registrations(
    *, practice: Practice, status: RegistrationStatus, limit: int = 100, cursor: str | None = None
) -> Listing[Registration]:
    """Self-registrations in one status, oldest first."""
    return practice.uow[Registration].query(
        "gsi4", f"REGISTRATION#STATUS#{status.value}", limit=limit, cursor=cursor
    )


def convert_registration(
    *, practice: Practice, registration_id: str, version: int | None = None, **extra: Any
) -> Patient:
    """Turn a pending registration into a patient, in one transaction (only if the
    registration is still at ``version``, when given)."""
    p = practice
    reg = p.uow[Registration].for_change(registration_id)
    if version is not None and reg.version != version:
        raise StaleVersion(f"registration: is at version {reg.version}, not {version}")
    if reg.status is not RegistrationStatus.PENDING:
        raise InvalidTransition("registration.status", f"cannot convert a {reg.status.value} one")
    if reg.date_of_birth is None:
        raise ValidationError("registration.date_of_birth", "is needed to create a patient")
    patient = Patient.create(
        first_name=reg.first_name,
        last_name=reg.last_name,
        email=reg.email,
        phone=reg.phone,
        date_of_birth=reg.date_of_birth,
        conditions=reg.concerns,
        **extra,
        created_by=p.uow.actor,
        updated_by=p.uow.actor,
    )
    saved = p.uow[Patient].add(patient)
    p.uow[Registration].update(
        reg.changed(status=RegistrationStatus.CONVERTED, patient_id=patient.id)
    )
    p.uow.commit()
    return saved


def record_outcome(
    *,
    practice: Practice,
    verification_id: str,
    version: int,
    status: VerificationStatus,
    result: VerificationResult | None = None,
) -> InsuranceVerification:
    """Record what the payer said of a pending insurance verification (If-Match)."""
    p = practice
    found = p.uow[InsuranceVerification].for_change(verification_id)
    if found.version != version:
        raise StaleVersion(f"insurance verification: is at version {found.version}, not {version}")
    saved = p.uow[InsuranceVerification].update(found.decided(status, result, p.now()))
    p.uow.commit()
    return saved
