"""Patients: register, read, update (If-Match), search by encrypted beacons (POST)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from carevault.access import actions
from carevault.api.contract import changes, named, new, page_of, shown
from carevault.api.deps import CallerDep, RuntimeDep
from carevault.api.protocol import ExpectedVersion, IdempotencyKey, create_once
from carevault.api.routers.shapes import (
    Cursor,
    PageSize,
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
from carevault.domain.audit import ShredReason
from carevault.domain.base import Day
from carevault.domain.patient import Patient
from carevault.services import patients

router = APIRouter(route_class=Route, prefix="/patients", tags=["patients"])

PATIENT_EXAMPLE = {
    "mrn": "MRN-1042",
    "first_name": "Ana",
    "last_name": "Lopez",
    "date_of_birth": "1984-03-02",
    "gender": "FEMALE",
    "email": "ana.lopez@example.org",
    "phone": "+1 415 555 0142",
}

if TYPE_CHECKING:
    NewPatient = BaseModel
    PatientChanges = BaseModel
else:
    NewPatient, PatientChanges = new(Patient), changes(Patient)
PatientOut = shown(Patient)


@router.post("", status_code=201, response_model=PatientOut, summary="Register a patient")
def register_patient(
    request: Request,
    c: CallerDep,
    rt: RuntimeDep,
    body: Annotated[NewPatient, Body(examples=[PATIENT_EXAMPLE])],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A replay with the same ``Idempotency-Key`` returns the patient the first call made."""
    fields = new_fields(c, body, Patient)
    made = create_once(
        rt.store,
        c.principal,
        idempotency_key,
        request,
        body.model_dump(mode="json", exclude_unset=True),
        lambda made_id: patients.register(practice=c.practice, **fields, id=made_id),
        c.practice.uow[Patient].require,
    )
    return created(request, made)


@router.get(
    "/{patient_id}", response_model=PatientOut, summary="Read a patient (masked for the caller)"
)
def read_patient(patient_id: PathId, c: CallerDep) -> Response:
    return with_etag(c.practice.uow[Patient].require(patient_id))


@router.patch(
    "/{patient_id}", response_model=PatientOut, summary="Change a patient's details (If-Match)"
)
def update_patient(
    patient_id: PathId,
    expected: ExpectedVersion,
    c: CallerDep,
    body: Annotated[PatientChanges, Body(examples=[{"phone": "+1 415 555 0199"}])],
) -> Response:
    saved = patients.change(
        practice=c.practice, patient_id=patient_id, version=expected, **sent(body)
    )
    return with_etag(saved)


@router.delete(
    "/{patient_id}",
    status_code=204,
    summary="Soft-delete a patient made in error (If-Match; ADMIN; restorable)",
)
def remove_patient(patient_id: PathId, expected: ExpectedVersion, c: CallerDep) -> Response:
    patients.remove(practice=c.practice, patient_id=patient_id, version=expected)
    return Response(status_code=204)


@router.post(
    "/{patient_id}/restoration",
    response_model=PatientOut,
    summary="Restore a soft-deleted patient (ADMIN)",
)
def restore_patient(patient_id: PathId, c: CallerDep) -> Response:
    return with_etag(patients.restore(practice=c.practice, patient_id=patient_id))


@router.post(
    "/{patient_id}/deactivation",
    response_model=PatientOut,
    summary="Mark a patient inactive (If-Match required)",
)
def deactivate_patient(patient_id: PathId, expected: ExpectedVersion, c: CallerDep) -> Response:
    saved = patients.deactivate(practice=c.practice, patient_id=patient_id, version=expected)
    return with_etag(saved)


@named("shred")
class Shred(BaseModel):
    """Why the patient's data is destroyed (a code: free text could hold PHI)."""

    model_config = ConfigDict(extra="forbid")
    reason: ShredReason


class Shredded(BaseModel):
    """A crypto-shred done: the patient and how many of their records became unreadable."""

    patient_id: str
    records: int


@router.post(
    "/{patient_id}/shred",
    response_model=Shredded,
    summary="Crypto-shred a patient: destroy their data key for good (ADMIN; audited)",
)
def shred_patient(patient_id: PathId, body: Shred, c: CallerDep) -> Response:
    """Every copy of the patient's sealed fields, backups included, becomes unreadable."""
    count = actions.shred_patient(c, patient_id, body.reason)
    return reply({"patient_id": patient_id, "records": count})


class SearchBy(StrEnum):
    """What a patient search matches: a unique MRN, or one encrypted beacon of a field."""

    mrn = "mrn"
    email = "email"
    phone = "phone"
    last_name = "last_name"
    last_name_prefix = "last_name_prefix"
    sounds_like = "sounds_like"
    external_id = "external_id"


@named("search")
class PatientSearch(BaseModel):
    """A search by one encrypted beacon, narrowed by date of birth if given."""

    model_config = ConfigDict(extra="forbid")
    by: SearchBy
    value: str = Field(min_length=1, max_length=200)
    date_of_birth: Day | None = Field(
        default=None, description="Narrows the matches to patients born that day"
    )
    limit: PageSize = 50
    cursor: Cursor = None


@router.post(
    "/search",
    response_model=page_of(PatientOut),
    summary="Find patients by email, phone, MRN or name (POST: no PHI in URLs), paged",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "examples": {
                        "email": {"value": {"by": "email", "value": "ana@example.org"}},
                        "name and birth date": {
                            "value": {
                                "by": "last_name",
                                "value": "Lopez",
                                "date_of_birth": "1984-03-02",
                            }
                        },
                    }
                }
            }
        }
    },
)
@reads_only
def search_patients(c: CallerDep, body: PatientSearch) -> Response:
    """``date_of_birth`` narrows the matches to that date: name and birth date together are
    how a front desk confirms who a patient is."""
    if body.by is SearchBy.mrn:  # unique in the clinic: a lookup, not a search
        unique = patients.by_mrn(practice=c.practice, mrn=body.value)
        found = [] if unique is None else [unique]
    else:
        found = patients.find(practice=c.practice, by=body.by.value, value=body.value)
    if body.date_of_birth is not None:
        found = [p for p in found if p.date_of_birth == body.date_of_birth]
    return page(*paged_list(found, body.limit, body.cursor))
