"""Liveness and readiness."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from carevault.api.deps import AnonymousRequest, RuntimeDep
from carevault.api.routers.shapes import reply
from carevault.api.routing import Route

router = APIRouter(
    route_class=Route, prefix="/health", tags=["health"], dependencies=[AnonymousRequest]
)


class Live(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    engine: str = Field(description="The store's engine: sqlite, postgres or dynamodb")


@router.get("/live", response_model=Live, summary="The process answers")
def liveness() -> Response:
    return reply({"status": "ok"})


@router.get("/ready", response_model=Ready, summary="The store answers and the keys unwrap")
def readiness(rt: RuntimeDep) -> Response:
    rt.ready()
    return reply({"status": "ready", "engine": rt.store.engine})
