"""Patients: register, read, update (If-Match), search by encrypted beacons (POST)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request, Response

from carevault.api.deps import GuardDep, RuntimeDep
from carevault.api.protocol import create_once, if_match, stale
from carevault.api.routers.shapes import client_fields, with_etag
from carevault.domain.patient import Patient
from carevault.errors import ConflictError, DuplicateValue, ValidationError

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
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


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
    fields = client_fields(body, "patient")
    p = g.principal
    made = create_once(
        rt.store,
        p.tenant,
        p.user_id,
        idempotency_key,
        request,
        fields,
        lambda: g.register_patient(**fields),
        g.read_patient,
    )
    response.headers["Location"] = f"{request.url.path}/{made.id}"
    return with_etag(response, made)


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
    changes = client_fields(body, "patient")
    try:
        saved: Patient = g.update_patient(patient_id, version=expected, **changes)
    except DuplicateValue:
        raise
    except ConflictError as exc:  # changed since the caller read it
        raise stale(expected) from exc
    return with_etag(response, saved)


@router.post("/search", summary="Find patients by email, phone, MRN or name (POST: no PHI in URLs)")
def search(
    g: GuardDep,
    body: Annotated[dict[str, str], Body(examples=[{"by": "email", "value": "ana@example.org"}])],
) -> dict[str, Any]:
    by, value = body.get("by"), body.get("value")
    if not isinstance(by, str):
        raise ValidationError("search.by", "is required")
    if not isinstance(value, str):
        raise ValidationError("search.value", "is required")
    found = g.search_patients(by, value)
    return {"items": [x.model_dump(mode="json") for x in found], "next": None}
