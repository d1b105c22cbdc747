"""Patients: register, read, update (If-Match), search by encrypted beacons (POST)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict

from carevault.access import actions
from carevault.api.deps import CallerDep, RuntimeDep
from carevault.api.protocol import IdempotencyKey, create_once, if_match
from carevault.api.routers.shapes import (
    client_fields,
    created,
    new_fields,
    page,
    search_terms,
    with_etag,
)
from carevault.api.routing import Route
from carevault.domain.audit import ShredReason
from carevault.domain.base import day_of
from carevault.domain.patient import Patient
from carevault.errors import ValidationError
from carevault.services import patients

router = APIRouter(route_class=Route, prefix="/patients", tags=["patients"])

PATIENT_EXAMPLE = {
    "mrn": "MRN-1042",
    "first_name": "Ana",
    "last_name": "Lopez",
    "date_of_birth": "1984-03-02",
    "gender": "female",
    "email": "ana.lopez@example.org",
    "phone": "+1 415 555 0142",
}


@router.post("", status_code=201, summary="Register a patient")
def register(
    request: Request,
    response: Response,
    c: CallerDep,
    rt: RuntimeDep,
    body: Annotated[dict[str, Any], Body(examples=[PATIENT_EXAMPLE])],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """A replay with the same ``Idempotency-Key`` returns the patient the first call made."""
    fields = new_fields(c, body, Patient)
    made = create_once(
        rt.store,
        c.principal,
        idempotency_key,
        request,
        fields,
        lambda made_id: patients.register(practice=c.practice, **fields, id=made_id),
        c.practice.uow[Patient].require,
    )
    return created(request, response, made)


@router.get("/{patient_id}", summary="Read a patient (masked for the caller's role)")
def read(patient_id: str, response: Response, c: CallerDep) -> dict[str, Any]:
    return with_etag(response, c.practice.uow[Patient].require(patient_id))


@router.patch("/{patient_id}", summary="Change a patient's details (If-Match required)")
def update(
    patient_id: str,
    request: Request,
    response: Response,
    c: CallerDep,
    body: Annotated[dict[str, Any], Body(examples=[{"phone": "+1 415 555 0199"}])],
) -> dict[str, Any]:
    expected = if_match(request)
    changes = client_fields(body, Patient)
    saved = patients.change(practice=c.practice, patient_id=patient_id, version=expected, **changes)
    return with_etag(response, saved)


@router.delete(
    "/{patient_id}",
    status_code=204,
    summary="Soft-delete a patient made in error (If-Match; ADMIN; restorable)",
)
def remove(patient_id: str, request: Request, c: CallerDep) -> Response:
    expected = if_match(request)
    patients.remove(practice=c.practice, patient_id=patient_id, version=expected)
    return Response(status_code=204)


@router.post("/{patient_id}/restoration", summary="Restore a soft-deleted patient (ADMIN)")
def restore(patient_id: str, response: Response, c: CallerDep) -> dict[str, Any]:
    return with_etag(response, patients.restore(practice=c.practice, patient_id=patient_id))


@router.post("/{patient_id}/deactivation", summary="Mark a patient inactive (If-Match required)")
def deactivate(
    patient_id: str, request: Request, response: Response, c: CallerDep
) -> dict[str, Any]:
    expected = if_match(request)
    saved = patients.deactivate(practice=c.practice, patient_id=patient_id, version=expected)
    return with_etag(response, saved)


class Shred(BaseModel):
    """Why the patient's data is destroyed (a code: free text could hold PHI)."""

    model_config = ConfigDict(extra="forbid")
    reason: ShredReason


@router.post(
    "/{patient_id}/shred",
    summary="Crypto-shred a patient: destroy their data key for good (ADMIN; audited)",
)
def shred(patient_id: str, body: Shred, c: CallerDep) -> dict[str, Any]:
    """Every copy of the patient's sealed fields, backups included, becomes unreadable."""
    count = actions.shred_patient(c, patient_id, body.reason)
    return {"patient_id": patient_id, "records": count}


@router.post("/search", summary="Find patients by email, phone, MRN or name (POST: no PHI in URLs)")
def search(
    c: CallerDep,
    body: Annotated[
        dict[str, str],
        Body(
            examples=[
                {"by": "email", "value": "ana@example.org"},
                {"by": "last_name", "value": "Lopez", "date_of_birth": "1984-03-02"},
            ]
        ),
    ],
) -> dict[str, Any]:
    """``date_of_birth`` (optional) narrows the matches to that date: name and birth date
    together are how a front desk confirms who a patient is."""
    by, value = search_terms(body)
    for name in body:
        if name not in ("by", "value", "date_of_birth"):
            raise ValidationError(f"search.{name}", "is not a search field")
    born = (
        day_of(body["date_of_birth"], "search.date_of_birth") if "date_of_birth" in body else None
    )
    if by == "mrn":  # unique in the clinic: a lookup, not a search
        unique = patients.by_mrn(practice=c.practice, mrn=value)
        found = [] if unique is None else [unique]
    else:
        found = patients.find(practice=c.practice, by=by, value=value)
    if born is not None:
        found = [p for p in found if p.date_of_birth == born]
    return page(found, None)
