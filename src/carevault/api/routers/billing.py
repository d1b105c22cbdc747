"""Invoices and payments: create, list by status (A10), issue, pay, void (If-Match)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from carevault.api.deps import PaymentCallerDep
from carevault.api.protocol import if_match
from carevault.api.routers.shapes import (
    PagingDep,
    created,
    new_fields,
    page,
    step_fields,
    with_etag,
)
from carevault.api.routing import Route
from carevault.domain.base import day_of
from carevault.domain.billing import Invoice, InvoiceStatus
from carevault.services import billing

router = APIRouter(route_class=Route, prefix="/invoices", tags=["invoices"])

INVOICE_EXAMPLE = {
    "patient_id": "01JCW3Q4ZJ8X2M5N7P9R1T3V5X",
    "line_items": [{"description": "Consultation", "quantity": 1, "unit_price": 15000}],
}


class Step(StrEnum):
    issue = "issue"
    payments = "payments"
    void = "void"


STEPS: dict[Step, tuple[Callable[..., Invoice], frozenset[str], frozenset[str]]] = {
    Step.issue: (billing.issue, frozenset({"due"}), frozenset()),
    Step.payments: (
        billing.record_payment,
        frozenset({"amount", "method", "reference"}),
        frozenset({"amount", "method"}),
    ),
    Step.void: (billing.void, frozenset({"reason"}), frozenset({"reason"})),
}


@router.post("", status_code=201, summary="Create a draft invoice (totals from its lines)")
def create(
    request: Request,
    response: Response,
    c: PaymentCallerDep,
    body: Annotated[dict[str, Any], Body(examples=[INVOICE_EXAMPLE])],
) -> dict[str, Any]:
    made = billing.create(practice=c.practice, **new_fields(c, body, Invoice))
    return created(request, response, made)


@router.get("", summary="The clinic's invoices in one status, by due date (A10), paged")
def by_status(
    c: PaymentCallerDep, status: Annotated[InvoiceStatus, Query()], paged: PagingDep
) -> dict[str, Any]:
    found = billing.by_status(
        practice=c.practice, status=status, limit=paged.limit, cursor=paged.cursor
    )
    return page(found.items, found.cursor)


@router.post("/overdue", summary="Mark issued invoices past their due date overdue")
def mark_overdue(c: PaymentCallerDep) -> dict[str, int]:
    return {"marked": billing.mark_overdue(practice=c.practice)}


@router.post("/{invoice_id}/{step}", summary="Issue, record a payment or void (If-Match)")
def move(
    invoice_id: str,
    step: Step,
    request: Request,
    response: Response,
    c: PaymentCallerDep,
    body: Annotated[
        dict[str, Any] | None, Body(examples=[{"amount": 15000, "method": "CARD"}])
    ] = None,
) -> dict[str, Any]:
    """A step that takes no fields (issue without a due date, …) needs no body."""
    expected = if_match(request)
    run, allowed, required = STEPS[step]
    extra = step_fields(body or {}, f"invoice.{step.value}", allowed, required)
    if "due" in extra:
        extra["due"] = day_of(extra["due"], "invoice.issue.due")
    made = run(practice=c.practice, invoice_id=invoice_id, version=expected, **extra)
    return with_etag(response, made)
