"""Clinics: a user's own clinic (A1 by id); the directory and onboarding for platform clients."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from carevault.api.deps import PlatformDep, PrincipalDep, RuntimeDep, caller, platform
from carevault.api.routers.shapes import client_fields, page, public, with_etag
from carevault.api.routing import Route
from carevault.domain.clinic import Clinic, User
from carevault.repo.records import PLATFORM

router = APIRouter(route_class=Route, prefix="/clinics", tags=["clinics"])


class Onboarding(BaseModel):
    clinic: dict[str, Any] = Field(examples=[{"name": "Harbor Family Practice"}])
    admin: dict[str, Any] = Field(
        examples=[{"first_name": "Ava", "last_name": "Lind", "email": "ava@harbor.example"}]
    )
    password: str = Field(max_length=1024)


@router.get("", summary="Every clinic: id, name, state (A1; platform clients)")
def directory(
    p: PlatformDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    listing = p.list_clinics(limit, cursor)
    return page(listing.items, listing.cursor)


@router.post(
    "",
    status_code=201,
    summary="Onboard a clinic and its first administrator (platform clients)",
    description="The administrator's TOTP secret is in this response only.",
)
def onboard(
    body: Onboarding, request: Request, response: Response, p: PlatformDep
) -> dict[str, Any]:
    clinic, admin, secret = p.onboard(
        client_fields(body.clinic, Clinic, what="clinic.clinic"),
        client_fields(body.admin, User, frozenset({"role"}), what="clinic.admin"),
        body.password,
    )
    response.headers["Location"] = f"{request.url.path}/{clinic.id}"
    return {"clinic": public(clinic), "admin_id": admin.id, "admin_totp_secret": secret}


@router.get(
    "/{clinic_id}",
    summary="A clinic: the caller's own (A1), or its directory entry for a platform client",
)
def clinic(
    clinic_id: str, request: Request, response: Response, rt: RuntimeDep, who: PrincipalDep
) -> dict[str, Any]:
    if who.tenant == PLATFORM:
        return platform(rt, who).clinic(clinic_id)
    return with_etag(response, caller(rt, who).practice.uow[Clinic].require(clinic_id))
