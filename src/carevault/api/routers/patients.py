"""Patients: register, read, update (If-Match), search by encrypted beacons (POST)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict

from carevault.api.deps import GuardDep, RuntimeDep
from carevault.api.protocol import IdempotencyKey, create_once, if_match
from carevault.api.routers.shapes import (
    client_fields,
    created,
    page,
    search_terms,
    with_etag,
)
from carevault.domain.audit import ShredReason
from carevault.domain.patient import Patient

router = APIRouter(prefix="/patients", tags=["patients"])

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
    g: GuardDep,
    rt: RuntimeDep,
    body: Annotated[dict[str, Any], Body(examples=[PATIENT_EXAMPLE])],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """A replay with the same ``Idempotency-Key`` returns the patient the first call made."""
    fields = client_fields(body, Patient)
    made = create_once(
        rt.store,
        g.principal,
        idempotency_key,
        request,
        fields,
        lambda: g.register_patient(**fields),
        g.read_patient,
    )
    return created(request, response, made)


@router.get("/{patient_id}", summary="Read a patient (masked for the caller's role)")
def read(patient_id: str, response: Response, g: GuardDep) -> dict[str, Any]:
    return with_etag(response, g.read_patient(patient_id))


@router.patch("/{patient_id}", summary="Change a patient's details (If-Match required)")
def update(
    patient_id: str,
    request: Request,
    response: Response,
    g: GuardDep,
    body: Annotated[dict[str, Any], Body(examples=[{"phone": "+1 415 555 0199"}])],
) -> dict[str, Any]:
    expected = if_match(request)
    changes = client_fields(body, Patient)
    saved: Patient = g.update_patient(patient_id, version=expected, **changes)
    return with_etag(response, saved)


@router.post("/{patient_id}/deactivation", summary="Mark a patient inactive (If-Match required)")
def deactivate(
    patient_id: str, request: Request, response: Response, g: GuardDep
) -> dict[str, Any]:
    return with_etag(response, g.deactivate_patient(patient_id, if_match(request)))


class Shred(BaseModel):
    """Why the patient's data is destroyed (a code: free text could hold PHI)."""

    model_config = ConfigDict(extra="forbid")
    reason: ShredReason


@router.post(
    "/{patient_id}/shred",
    summary="Crypto-shred a patient: destroy their data key for good (ADMIN; audited)",
)
def shred(patient_id: str, body: Shred, g: GuardDep) -> dict[str, Any]:
    """Every copy of the patient's sealed fields, backups included, becomes unreadable."""
    return {"patient_id": patient_id, "records": g.shred_patient(patient_id, body.reason)}


@router.post("/search", summary="Find patients by email, phone, MRN or name (POST: no PHI in URLs)")
def search(
    g: GuardDep,
    body: Annotated[dict[str, str], Body(examples=[{"by": "email", "value": "ana@example.org"}])],
) -> dict[str, Any]:
    by, value = search_terms(body)
    if by == "mrn":  # unique in the clinic: a lookup, not a search
        found = g.patient_by_mrn(value)
        return page([] if found is None else [found], None)
    return page(g.search_patients(by, value), None)
