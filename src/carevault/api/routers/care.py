"""Clinical care: a patient's history (A6), notes, records, treatments, insurance, consents,
documents (multipart upload, streamed download)."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from fastapi import APIRouter, Body, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from carevault.access.policy import SERVED
from carevault.api.contract import changes, inbound, named, new, page_of, shown
from carevault.api.deps import CallerDep
from carevault.api.protocol import ExpectedVersion
from carevault.api.routers.shapes import (
    Cursor,
    PageSize,
    PagingDep,
    PathId,
    created,
    new_fields,
    page,
    paged_list,
    reply,
    sent,
    with_etag,
)
from carevault.api.routing import Route, reads_only
from carevault.domain.base import Entity
from carevault.domain.clinical import (
    ClinicalNote,
    Document,
    DocumentType,
    MedicalRecord,
    RecordType,
    TreatmentRecord,
)
from carevault.domain.intake import (
    Consent,
    InsuranceVerification,
    VerificationResult,
    VerificationStatus,
)
from carevault.domain.patient import Patient, PatientStatus
from carevault.services import clinical, notes, patients

router = APIRouter(route_class=Route, tags=["care"])

CHUNK = 64 * 1024


class HistoryKind(StrEnum):
    """The kinds of item a patient's history lists."""

    appointment = "appointment"
    note = "note"
    record = "record"
    document = "document"
    invoice = "invoice"
    treatment = "treatment"
    consent = "consent"


KINDS: dict[HistoryKind, type[Entity]] = {k: SERVED[k.value] for k in HistoryKind}
HistoryItem: Any = Union[tuple(shown(e) for e in dict.fromkeys(KINDS.values()))]  # noqa: UP007


@router.get(
    "/patients/{patient_id}/history/{kind}",
    response_model=page_of(HistoryItem, "HistoryPage"),
    summary="A patient's items of one kind, by date (A6; kind=treatment is A13)",
)
def patient_history(
    patient_id: PathId, kind: HistoryKind, c: CallerDep, paged: PagingDep
) -> Response:
    found = patients.items_of(
        practice=c.practice,
        patient_id=patient_id,
        entity=KINDS[kind],
        limit=paged.limit,
        cursor=paged.cursor,
    )
    return page(found.items, found.cursor)


if TYPE_CHECKING:
    NewNote = BaseModel
    NoteChanges = BaseModel
    Amendment = BaseModel
    NewRecord = BaseModel
    NewTreatment = BaseModel
    NewVerification = BaseModel
    NewConsent = BaseModel
else:
    NewNote = new(ClinicalNote)
    NoteChanges = changes(ClinicalNote, frozenset({"patient_id", "provider_id"}), "NoteChanges")
    Amendment = changes(ClinicalNote, frozenset({"patient_id"}), "NoteAmendment")
    NewRecord, NewTreatment = new(MedicalRecord), new(TreatmentRecord)
    NewVerification, NewConsent = new(InsuranceVerification), new(Consent)
NoteOut = shown(ClinicalNote)


@router.post(
    "/notes", status_code=201, response_model=NoteOut, summary="Start a draft clinical note"
)
def draft_note(
    request: Request,
    c: CallerDep,
    body: Annotated[
        NewNote,
        Body(examples=[{"patient_id": "01JCW3Q4ZJ8X2M5N7P9R1T3V5X", "subjective": "Headache"}]),
    ],
) -> Response:
    made = notes.draft(practice=c.practice, **new_fields(c, body, ClinicalNote))
    return created(request, made)


@router.patch(
    "/notes/{note_id}",
    response_model=NoteOut,
    summary="Change a draft note's content (If-Match required)",
)
def edit_note(
    note_id: PathId,
    expected: ExpectedVersion,
    c: CallerDep,
    body: Annotated[NoteChanges, Body(examples=[{"assessment": "Tension headache"}])],
) -> Response:
    edited = notes.edit(practice=c.practice, note_id=note_id, version=expected, **sent(body))
    return with_etag(edited)


@router.post(
    "/notes/{note_id}/signature",
    response_model=NoteOut,
    summary="Sign a draft note (If-Match required)",
)
def sign_note(note_id: PathId, expected: ExpectedVersion, c: CallerDep) -> Response:
    return with_etag(notes.sign(practice=c.practice, note_id=note_id, version=expected))


@router.post(
    "/notes/{note_id}/amendments",
    status_code=201,
    response_model=NoteOut,
    summary="Start an amendment of a signed note (a new draft; the original stays)",
)
def amend_note(
    note_id: PathId,
    request: Request,
    c: CallerDep,
    body: Annotated[Amendment, Body(examples=[{"assessment": "Migraine"}])],
) -> Response:
    made = notes.amend(practice=c.practice, note_id=note_id, **sent(body))
    notes_path = request.url.path.rsplit("/", 2)[0]  # /notes/{id}
    return with_etag(made, 201, f"{notes_path}/{made.id}")


CREATED: dict[str, tuple[type[Entity], type[BaseModel]]] = {
    "records": (MedicalRecord, NewRecord),
    "treatment-records": (TreatmentRecord, NewTreatment),
    "insurance-verifications": (InsuranceVerification, NewVerification),
    "consents": (Consent, NewConsent),
}


def _creator(path: str, entity: type[Entity], model: type[BaseModel]) -> None:
    what = path[:-1].replace("-", " ")

    def create(request: Request, c: CallerDep, body: BaseModel) -> Response:
        made = clinical.create(practice=c.practice, entity=entity, **new_fields(c, body, entity))
        return created(request, made)

    create.__annotations__["body"] = model
    router.add_api_route(
        f"/{path}",
        create,
        methods=["POST"],
        status_code=201,
        response_model=shown(entity),
        summary=f"Create a {what}" if path != "consents" else "Record a consent",
        operation_id=f"create_{path.replace('-', '_')[:-1]}",
    )


for _path, (_entity, _model) in CREATED.items():
    _creator(_path, _entity, _model)


@router.post(
    "/documents",
    status_code=201,
    response_model=shown(Document),
    summary="Upload a document (multipart)",
)
async def upload_document(
    request: Request,
    c: CallerDep,
    file: Annotated[UploadFile, File(description="The document's bytes")],
    patient_id: Annotated[str, Form(max_length=40)],
    title: Annotated[str, Form(min_length=1, max_length=300)],
    doc_type: Annotated[DocumentType, Form()] = DocumentType.OTHER,
) -> Response:
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
    return created(request, made)


@router.get(
    "/documents/{document_id}/content",
    summary="Download a document's bytes (streamed)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_document(document_id: PathId, c: CallerDep) -> StreamingResponse:
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
    response_model=page_of(shown(Patient)),
    summary="Patients in one status, newest first (A4); without a status every patient, paged",
)
def list_patients(
    c: CallerDep, paged: PagingDep, status: Annotated[PatientStatus | None, Query()] = None
) -> Response:
    if status is None:
        every = patients.every(practice=c.practice, limit=paged.limit, cursor=paged.cursor)
        return page(every.items, every.cursor)
    found = patients.by_status(
        practice=c.practice, status=status, limit=paged.limit, cursor=paged.cursor
    )
    return page(found.items, found.cursor)


RecordOut = shown(MedicalRecord)


@router.get(
    "/records", response_model=page_of(RecordOut), summary="Medical records of one type (A11)"
)
def records_by_type(
    c: CallerDep, record_type: Annotated[RecordType, Query()], paged: PagingDep
) -> Response:
    found = clinical.records_by_type(
        practice=c.practice, record_type=record_type, limit=paged.limit, cursor=paged.cursor
    )
    return page(found.items, found.cursor)


@router.get(
    "/documents",
    response_model=page_of(shown(Document)),
    summary="Documents of one type (A11), paged",
)
def documents_by_type(
    c: CallerDep,
    doc_type: Annotated[DocumentType, Query()],
    paged: PagingDep,
) -> Response:
    listing = clinical.documents_by_type(
        practice=c.practice, doc_type=doc_type, limit=paged.limit, cursor=paged.cursor
    )
    return page(listing.items, listing.cursor)


@named("search")
class NoteSearch(BaseModel):
    """Notes with one diagnosis code (matched by an encrypted token)."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=20, examples=["G43.909"])
    limit: PageSize = 50
    cursor: Cursor = None


@router.post(
    "/notes/search",
    response_model=page_of(NoteOut),
    summary="Notes by diagnosis code (A12; encrypted search tokens; POST: no codes in URLs)",
)
@reads_only
def search_notes(c: CallerDep, body: NoteSearch) -> Response:
    found = notes.by_code(practice=c.practice, code=body.code)
    return page(*paged_list(found, body.limit, body.cursor))


class RecordsBy(StrEnum):
    code = "code"
    medication = "medication"


@named("search")
class RecordSearch(BaseModel):
    """Records by a diagnosis code or a medication (matched by encrypted tokens)."""

    model_config = ConfigDict(extra="forbid")
    by: RecordsBy
    value: str = Field(min_length=1, max_length=200, examples=["Metformin"])
    limit: PageSize = 50
    cursor: Cursor = None


@router.post(
    "/records/search",
    response_model=page_of(RecordOut),
    summary="Records by diagnosis code or medication (A12; encrypted tokens; POST: no PHI in URLs)",
)
@reads_only
def search_records(c: CallerDep, body: RecordSearch) -> Response:
    if body.by is RecordsBy.code:
        found = clinical.records_by_code(practice=c.practice, code=body.value)
    else:
        found = clinical.records_by_medication(practice=c.practice, medication=body.value)
    return page(*paged_list(found, body.limit, body.cursor))


class PortalInvitation(BaseModel):
    """A portal invitation sent: the code went to the patient's email, never to the caller."""

    invitation_id: str
    delivery: Literal["email"]
    expires_at: str = Field(description="When the code stops working (UTC)")


@router.post(
    "/patients/{patient_id}/invitations",
    status_code=202,
    response_model=PortalInvitation,
    summary="Invite a patient to the portal (the code goes to the patient's email, not here)",
)
def invite_patient(patient_id: PathId, c: CallerDep) -> Response:
    """The invitation code is queued in the clinic's outbox for the patient's email; the
    caller never sees it (a caller who could would sign in as the patient)."""
    invitation = patients.invite(practice=c.practice, patient_id=patient_id)
    expires = invitation.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = {"invitation_id": invitation.id, "delivery": "email", "expires_at": expires}
    return reply(answer, 202)


if TYPE_CHECKING:
    Result = BaseModel
else:
    Result = inbound(VerificationResult)  # amounts as decimal strings


@named("insurance_verification")
class VerificationOutcome(BaseModel):
    """A pending verification's outcome: verified (with what the payer said) or rejected."""

    model_config = ConfigDict(extra="forbid")
    status: Literal[VerificationStatus.VERIFIED, VerificationStatus.REJECTED]
    result: Result | None = None


@router.post(
    "/insurance-verifications/{verification_id}/outcome",
    response_model=shown(InsuranceVerification),
    summary="Record a pending insurance verification's outcome (If-Match; once)",
)
def record_verification_outcome(
    verification_id: PathId,
    expected: ExpectedVersion,
    c: CallerDep,
    body: Annotated[
        VerificationOutcome,
        Body(
            examples=[
                {
                    "status": "VERIFIED",
                    "result": {"coverage_active": True, "plan_name": "PPO", "copay": "25.00"},
                }
            ]
        ),
    ],
) -> Response:
    result = None
    if body.result is not None:
        result = VerificationResult.model_validate(body.result.model_dump())
    saved = clinical.record_outcome(
        practice=c.practice,
        verification_id=verification_id,
        version=expected,
        status=body.status,
        result=result,
    )
    return with_etag(saved)
