"""Self-registrations: recorded by staff, listed by status, converted into patients."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel

from carevault.api.contract import changes, new, page_of, shown
from carevault.api.deps import CallerDep
from carevault.api.protocol import ExpectedVersion
from carevault.api.routers.shapes import (
    PagingDep,
    PathId,
    created,
    new_fields,
    page,
    sent,
    with_etag,
)
from carevault.api.routing import Route
from carevault.domain.intake import Registration, RegistrationStatus
from carevault.domain.patient import Patient
from carevault.services import clinical

router = APIRouter(route_class=Route, prefix="/registrations", tags=["registrations"])


if TYPE_CHECKING:
    NewRegistration = BaseModel
    Conversion = BaseModel
else:
    NewRegistration = new(Registration)
    Conversion = changes(Patient, name="Conversion")
RegistrationOut = shown(Registration)


@router.post(
    "",
    status_code=201,
    response_model=RegistrationOut,
    summary="Record a self-registration",
)
def record_registration(
    request: Request,
    c: CallerDep,
    body: Annotated[
        NewRegistration,
        Body(examples=[{"first_name": "Mira", "last_name": "Sato", "email": "m@example.org"}]),
    ],
) -> Response:
    fields = new_fields(c, body, Registration)
    made = clinical.create(practice=c.practice, entity=Registration, **fields)
    return created(request, made)


@router.get(
    "",
    response_model=page_of(RegistrationOut),
    summary="Self-registrations in one status, oldest first",
)
def list_registrations(
    c: CallerDep,
    paged: PagingDep,
    status: Annotated[RegistrationStatus, Query()] = RegistrationStatus.PENDING,
) -> Response:
    listing = clinical.registrations(
        practice=c.practice, status=status, limit=paged.limit, cursor=paged.cursor
    )
    return page(listing.items, listing.cursor)


@router.post(
    "/{registration_id}/conversion",
    status_code=201,
    response_model=shown(Patient),
    summary="Turn a pending registration into a patient (If-Match required)",
)
def convert_registration(
    registration_id: PathId,
    expected: ExpectedVersion,
    request: Request,
    c: CallerDep,
    body: Annotated[Conversion, Body(examples=[{"mrn": "MRN-000123", "gender": "FEMALE"}])],
) -> Response:
    """The patient takes the registration's details; the body adds or overrides fields."""
    patient = clinical.convert_registration(
        practice=c.practice, registration_id=registration_id, version=expected, **sent(body)
    )
    patients_path = request.url.path.split("/registrations")[0]
    return with_etag(patient, 201, f"{patients_path}/patients/{patient.id}")
