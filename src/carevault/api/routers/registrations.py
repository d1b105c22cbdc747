"""Self-registrations: recorded by staff, listed by status, converted into patients."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from carevault.api.deps import CallerDep
from carevault.api.protocol import if_match
from carevault.api.routers.shapes import (
    PagingDep,
    client_fields,
    created,
    new_fields,
    page,
    with_etag,
)
from carevault.api.routing import Route
from carevault.domain.intake import Registration, RegistrationStatus
from carevault.domain.patient import Patient
from carevault.services import clinical

router = APIRouter(route_class=Route, prefix="/registrations", tags=["registrations"])


@router.post("", status_code=201, summary="Record a self-registration")
def register(
    request: Request,
    response: Response,
    c: CallerDep,
    body: Annotated[
        dict[str, Any],
        Body(examples=[{"first_name": "Mira", "last_name": "Sato", "email": "m@example.org"}]),
    ],
) -> dict[str, Any]:
    fields = new_fields(c, body, Registration)
    made = clinical.create(practice=c.practice, entity=Registration, **fields)
    return created(request, response, made)


@router.get("", summary="Self-registrations in one status, oldest first")
def registrations(
    c: CallerDep,
    paged: PagingDep,
    status: Annotated[RegistrationStatus, Query()] = RegistrationStatus.PENDING,
) -> dict[str, Any]:
    listing = clinical.registrations(
        practice=c.practice, status=status, limit=paged.limit, cursor=paged.cursor
    )
    return page(listing.items, listing.cursor)


@router.post(
    "/{registration_id}/conversion",
    status_code=201,
    summary="Turn a pending registration into a patient (If-Match required)",
)
def convert(
    registration_id: str,
    request: Request,
    response: Response,
    c: CallerDep,
    body: Annotated[dict[str, Any], Body(examples=[{"mrn": "MRN-000123", "gender": "female"}])],
) -> dict[str, Any]:
    fields = client_fields(body, Patient, what="conversion")
    expected = if_match(request)
    patient = clinical.convert_registration(
        practice=c.practice, registration_id=registration_id, version=expected, **fields
    )
    response.headers["Location"] = (
        f"{request.url.path.split('/registrations')[0]}/patients/{patient.id}"
    )
    return with_etag(response, patient)
