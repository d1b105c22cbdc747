"""Invoices and payments: create, list by status (A10), issue, pay, void (If-Match)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from carevault.api.contract import Money, named, new, page_of, shown
from carevault.api.deps import PaymentCallerDep
from carevault.api.protocol import ExpectedVersion
from carevault.api.routers.shapes import (
    PagingDep,
    PathId,
    created,
    new_fields,
    page,
    reply,
    sent,
    with_etag,
)
from carevault.api.routing import Route
from carevault.domain.base import Day
from carevault.domain.billing import Invoice, InvoiceStatus, PaymentMethod
from carevault.services import billing

router = APIRouter(route_class=Route, prefix="/invoices", tags=["invoices"])

INVOICE_EXAMPLE = {
    "patient_id": "01JCW3Q4ZJ8X2M5N7P9R1T3V5X",
    "currency": "USD",
    "line_items": [{"description": "Consultation", "quantity": 1, "unit_price": "150.00"}],
}

if TYPE_CHECKING:
    NewInvoice = BaseModel
else:
    NewInvoice = new(Invoice, optional=frozenset({"number", "currency"}))
InvoiceOut = shown(Invoice)


@named("invoice.issue")
class Issue(BaseModel):
    """Issue a draft: due on ``due``, or after the clinic's payment terms."""

    model_config = ConfigDict(extra="forbid")
    due: Day | None = Field(default=None, description="The due date, YYYY-MM-DD")


@named("invoice.payments")
class NewPayment(BaseModel):
    """A payment against the balance (never more than it)."""

    model_config = ConfigDict(extra="forbid")
    amount: Annotated[Money, Field(gt=0)]
    method: PaymentMethod
    reference: str | None = Field(default=None, max_length=60)


@named("invoice.void")
class Void(BaseModel):
    """Why an invoice without payments is voided."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


NO_DUE = Issue()


@router.post("", status_code=201, response_model=InvoiceOut, summary="Create a draft invoice")
def create_invoice(
    request: Request,
    c: PaymentCallerDep,
    body: Annotated[NewInvoice, Body(examples=[INVOICE_EXAMPLE])],
) -> Response:
    """Its totals are computed from its lines; amounts are decimal strings in its currency."""
    made = billing.create(practice=c.practice, **new_fields(c, body, Invoice))
    return created(request, made)


@router.get(
    "",
    response_model=page_of(InvoiceOut),
    summary="The clinic's invoices in one status, by due date (A10; drafts by creation), paged",
)
def invoices_by_status(
    c: PaymentCallerDep, status: Annotated[InvoiceStatus, Query()], paged: PagingDep
) -> Response:
    found = billing.by_status(
        practice=c.practice, status=status, limit=paged.limit, cursor=paged.cursor
    )
    return page(found.items, found.cursor)


class Marked(BaseModel):
    marked: int = Field(description="How many invoices became overdue")


@router.post(
    "/overdue",
    response_model=Marked,
    summary="Mark issued invoices past their due date overdue",
)
def mark_overdue(c: PaymentCallerDep) -> Response:
    return reply({"marked": billing.mark_overdue(practice=c.practice)})


@router.post(
    "/{invoice_id}/issue",
    response_model=InvoiceOut,
    summary="Issue a draft invoice (If-Match; the body is optional)",
)
def issue_invoice(
    invoice_id: PathId,
    expected: ExpectedVersion,
    c: PaymentCallerDep,
    body: Annotated[Issue, Body(examples=[{"due": "2026-12-31"}])] = NO_DUE,
) -> Response:
    due = body.due
    made = billing.issue(practice=c.practice, invoice_id=invoice_id, version=expected, due=due)
    return with_etag(made)


@router.post(
    "/{invoice_id}/payments",
    response_model=InvoiceOut,
    summary="Record a payment against an issued invoice (If-Match)",
)
def pay_invoice(
    invoice_id: PathId,
    expected: ExpectedVersion,
    c: PaymentCallerDep,
    body: Annotated[NewPayment, Body(examples=[{"amount": "150.00", "method": "CARD"}])],
) -> Response:
    made = billing.record_payment(
        practice=c.practice, invoice_id=invoice_id, version=expected, **sent(body)
    )
    return with_etag(made)


@router.post(
    "/{invoice_id}/void",
    response_model=InvoiceOut,
    summary="Void an invoice that has no payments (If-Match)",
)
def void_invoice(
    invoice_id: PathId,
    expected: ExpectedVersion,
    c: PaymentCallerDep,
    body: Annotated[Void, Body(examples=[{"reason": "Billed in error"}])],
) -> Response:
    made = billing.void(
        practice=c.practice, invoice_id=invoice_id, version=expected, reason=body.reason
    )
    return with_etag(made)
