"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from carevault.api.deps import AnonymousRequest, RuntimeDep
from carevault.api.routing import Route

router = APIRouter(
    route_class=Route, prefix="/health", tags=["health"], dependencies=[AnonymousRequest]
)


@router.get("/live", summary="The process answers")
def live() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/ready", summary="The store answers and the keys unwrap")
def ready(rt: RuntimeDep) -> dict[str, Any]:
    rt.ready()
    return {"status": "ready", "engine": rt.store.engine}
