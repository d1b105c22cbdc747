"""Clinics: a user's own clinic (A1 by id); the directory and onboarding for platform clients."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from carevault.api.contract import named, new, page_of, shown
from carevault.api.deps import PlatformDep, PrincipalDep, RuntimeDep, clinic_caller, platform_of
from carevault.api.routers.shapes import PathId, page, reply, sent, with_etag
from carevault.api.routing import Route
from carevault.domain.clinic import Clinic, User
from carevault.repo.records import PLATFORM

router = APIRouter(route_class=Route, prefix="/clinics", tags=["clinics"])


if TYPE_CHECKING:
    NewClinic = BaseModel
    NewAdmin = BaseModel
else:
    NewClinic = new(Clinic)
    NewAdmin = new(User, frozenset({"role"}), "NewAdministrator")
ClinicOut = shown(Clinic)


@named("clinic")
class Onboarding(BaseModel):
    """A new clinic, its first administrator and the administrator's password."""

    model_config = ConfigDict(extra="forbid")
    clinic: NewClinic = Field(examples=[{"name": "Harbor Family Practice"}])
    admin: NewAdmin = Field(
        examples=[{"first_name": "Ava", "last_name": "Lind", "email": "ava@harbor.example"}]
    )
    password: str = Field(max_length=1024)


class DirectoryEntry(BaseModel):
    """A clinic as the directory shows it to platform clients: no settings, no contacts."""

    id: str
    name: str
    active: bool


class Onboarded(BaseModel):
    """The clinic made, its administrator's id and TOTP secret (shown this once)."""

    clinic: ClinicOut  # type: ignore[valid-type]
    admin_id: str
    admin_totp_secret: str


@router.get(
    "",
    response_model=page_of(DirectoryEntry, "DirectoryPage"),
    summary="Every clinic: id, name, state (A1; platform clients)",
)
def clinic_directory(
    p: PlatformDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    listing = p.list_clinics(limit, cursor)
    return page(listing.items, listing.cursor)


@router.post(
    "",
    status_code=201,
    response_model=Onboarded,
    summary="Onboard a clinic and its first administrator (platform clients)",
    description="The administrator's TOTP secret is in this response only.",
)
def onboard_clinic(body: Onboarding, request: Request, p: PlatformDep) -> Response:
    clinic, admin, secret = p.onboard(sent(body.clinic), sent(body.admin), body.password)
    answer = {"clinic": clinic, "admin_id": admin.id, "admin_totp_secret": secret}
    return reply(answer, 201, {"Location": f"{request.url.path}/{clinic.id}"})


@router.get(
    "/{clinic_id}",
    response_model=ClinicOut | DirectoryEntry,
    summary="A clinic: the caller's own (A1), or its directory entry for a platform client",
)
def read_clinic(clinic_id: PathId, rt: RuntimeDep, who: PrincipalDep) -> Response:
    if who.tenant == PLATFORM:
        return reply(platform_of(rt, who).clinic(clinic_id))
    return with_etag(clinic_caller(rt, who).practice.uow[Clinic].require(clinic_id))
