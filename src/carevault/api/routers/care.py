"""Clinical care: a patient's history (A6), notes, records, treatments, insurance, consents,
documents (multipart upload, streamed download)."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from carevault.access.policy import SERVED
from carevault.api.deps import CallerDep
from carevault.api.protocol import if_match
from carevault.api.routers.shapes import (
    PagingDep,
    client_fields,
    created,
    new_fields,
    page,
    search_terms,
    with_etag,
)
from carevault.api.routing import Route
from carevault.domain.base import Entity
from carevault.domain.clinical import (
    ClinicalNote,
    DocumentType,
    MedicalRecord,
    RecordType,
    TreatmentRecord,
)
from carevault.domain.intake import Consent, InsuranceVerification
from carevault.domain.patient import PatientStatus
from carevault.errors import ValidationError
from carevault.services import clinical, notes, patients

router = APIRouter(route_class=Route, tags=["care"])

CHUNK = 64 * 1024


class Kind(StrEnum):
    appointment = "appointment"
    note = "note"
    record = "record"
    document = "document"
    invoice = "invoice"
    treatment = "treatment"
    consent = "consent"


KINDS: dict[Kind, type[Entity]] = {k: SERVED[k.value] for k in Kind}


@router.get(
    "/patients/{patient_id}/history/{kind}",
    summary="A patient's items of one kind, by date (A6; kind=treatment is A13)",
)
def history(patient_id: str, kind: Kind, c: CallerDep, paged: PagingDep) -> dict[str, Any]:
    found = patients.items_of(
        practice=c.practice,
        patient_id=patient_id,
        entity=KINDS[kind],
        limit=paged.limit,
        cursor=paged.cursor,
    )
    return page(found.items, found.cursor)


@router.post("/notes", status_code=201, summary="Start a draft clinical note")
def draft_note(
    request: Request,
    response: Response,
    c: CallerDep,
    body: Annotated[
        dict[str, Any],
        Body(examples=[{"patient_id": "01JCW3Q4ZJ8X2M5N7P9R1T3V5X", "subjective": "Headache"}]),
    ],
) -> dict[str, Any]:
    made = notes.draft(practice=c.practice, **new_fields(c, body, ClinicalNote))
    return created(request, response, made)


@router.patch("/notes/{note_id}", summary="Change a draft note's content (If-Match required)")
def edit_note(
    note_id: str,
    request: Request,
    response: Response,
    c: CallerDep,
    body: Annotated[dict[str, Any], Body(examples=[{"assessment": "Tension headache"}])],
) -> dict[str, Any]:
    expected = if_match(request)
    content = client_fields(body, ClinicalNote, frozenset({"patient_id", "provider_id"}))
    edited = notes.edit(practice=c.practice, note_id=note_id, version=expected, **content)
    return with_etag(response, edited)


@router.post("/notes/{note_id}/signature", summary="Sign a draft note (If-Match required)")
def sign_note(note_id: str, request: Request, response: Response, c: CallerDep) -> dict[str, Any]:
    expected = if_match(request)
    return with_etag(response, notes.sign(practice=c.practice, note_id=note_id, version=expected))


@router.post(
    "/notes/{note_id}/amendments",
    status_code=201,
    summary="Start an amendment of a signed note (a new draft; the original stays)",
)
def amend_note(
    note_id: str,
    request: Request,
    response: Response,
    c: CallerDep,
    body: Annotated[dict[str, Any], Body(examples=[{"assessment": "Migraine"}])],
) -> dict[str, Any]:
    content = client_fields(body, ClinicalNote, frozenset({"patient_id"}))
    made = notes.amend(practice=c.practice, note_id=note_id, **content)
    response.headers["Location"] = f"{request.url.path.rsplit('/', 2)[0]}/{made.id}"  # /notes/{id}
    return with_etag(response, made)


CREATED: dict[str, type[Entity]] = {
    "records": MedicalRecord,
    "treatment-records": TreatmentRecord,
    "insurance-verifications": InsuranceVerification,
}


def _creator(path: str, entity: type[Entity]) -> None:
    @router.post(f"/{path}", status_code=201, summary=f"Create a {path[:-1].replace('-', ' ')}")
    def create(
        request: Request,
        response: Response,
        c: CallerDep,
        body: Annotated[dict[str, Any], Body()],
    ) -> dict[str, Any]:
        fields = new_fields(c, body, entity, what=path.replace("-", "_"))
        made = clinical.create(practice=c.practice, entity=entity, **fields)
        return created(request, response, made)


for _path, _entity in CREATED.items():
    _creator(_path, _entity)


@router.post("/consents", status_code=201, summary="Record a consent")
def add_consent(
    request: Request,
    response: Response,
    c: CallerDep,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    made = clinical.create(practice=c.practice, entity=Consent, **new_fields(c, body, Consent))
    return created(request, response, made)


@router.post("/documents", status_code=201, summary="Upload a document (multipart)")
async def upload(
    request: Request,
    response: Response,
    c: CallerDep,
    file: Annotated[UploadFile, File(description="The document's bytes")],
    patient_id: Annotated[str, Form(max_length=40)],
    title: Annotated[str, Form(max_length=300)],
    doc_type: Annotated[str, Form(max_length=40)] = "OTHER",
) -> dict[str, Any]:
    data = await file.read()
    fields: dict[str, Any] = {
        "patient_id": patient_id,
        "title": title,
        "doc_type": doc_type,
        "file_name": file.filename or "document",
        "mime_type": file.content_type or "application/octet-stream",
    }
    made = await run_in_threadpool(
        lambda: clinical.upload(practice=c.practice, data=data, **fields)
    )
    return created(request, response, made)


@router.get(
    "/documents/{document_id}/content",
    summary="Download a document's bytes (streamed)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download(document_id: str, c: CallerDep) -> StreamingResponse:
    document, data = clinical.download(practice=c.practice, document_id=document_id)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]

    return StreamingResponse(
        chunks(),
        media_type=document.mime_type,
        headers={"Content-Disposition": "attachment", "Content-Length": str(len(data))},
    )


@router.get(
    "/patients",
    summary="Patients in one status, newest first (A4); without a status every patient, paged",
)
def patients_by_status(
    c: CallerDep, paged: PagingDep, status: Annotated[PatientStatus | None, Query()] = None
) -> dict[str, Any]:
    if status is None:
        every = patients.every(practice=c.practice, limit=paged.limit, cursor=paged.cursor)
        return page(every.items, every.cursor)
    found = patients.by_status(
        practice=c.practice, status=status, limit=paged.limit, cursor=paged.cursor
    )
    return page(found.items, found.cursor)


@router.get("/records", summary="Medical records of one type (A11), paged")
def records_by_type(
    c: CallerDep, record_type: Annotated[RecordType, Query()], paged: PagingDep
) -> dict[str, Any]:
    found = clinical.records_by_type(
        practice=c.practice, record_type=record_type, limit=paged.limit, cursor=paged.cursor
    )
    return page(found.items, found.cursor)


@router.get("/documents", summary="Documents of one type (A11), paged")
def documents_by_type(
    c: CallerDep,
    doc_type: Annotated[DocumentType, Query()],
    paged: PagingDep,
) -> dict[str, Any]:
    listing = clinical.documents_by_type(
        practice=c.practice, doc_type=doc_type, limit=paged.limit, cursor=paged.cursor
    )
    return page(listing.items, listing.cursor)


@router.post(
    "/notes/search",
    summary="Notes by diagnosis code (A12; encrypted search tokens; POST: no codes in URLs)",
)
def notes_by_code(
    c: CallerDep,
    body: Annotated[dict[str, str], Body(examples=[{"code": "G43.909"}])],
) -> dict[str, Any]:
    code = body.get("code")
    if not isinstance(code, str) or not code:
        raise ValidationError("search.code", "is required")
    return page(notes.by_code(practice=c.practice, code=code), None)


@router.post(
    "/records/search",
    summary="Records by diagnosis code or medication (A12; encrypted tokens; POST: no PHI in URLs)",
)
def records_by(
    c: CallerDep,
    body: Annotated[dict[str, str], Body(examples=[{"by": "medication", "value": "Metformin"}])],
) -> dict[str, Any]:
    by, value = search_terms(body)
    if not value:
        raise ValidationError("search.value", "is required")
    if by == "code":
        return page(clinical.records_by_code(practice=c.practice, code=value), None)
    if by == "medication":
        return page(clinical.records_by_medication(practice=c.practice, medication=value), None)
    raise ValidationError("search.by", "must be one of code, medication")


@router.post(
    "/patients/{patient_id}/invitations",
    status_code=202,
    summary="Invite a patient to the portal (the code goes to the patient's email, not here)",
)
def invite(patient_id: str, c: CallerDep) -> dict[str, Any]:
    """The invitation code is queued in the clinic's outbox for the patient's email; the
    caller never sees it (a caller who could would sign in as the patient)."""
    invitation = patients.invite(practice=c.practice, patient_id=patient_id)
    expires = invitation.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"invitation_id": invitation.id, "delivery": "email", "expires_at": expires}
