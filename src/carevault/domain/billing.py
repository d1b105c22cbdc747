"""Invoices: line items, totals computed from them, payments and the status workflow."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carevault.domain.base import Cents, Currency, Entity, FieldClass, Id, Key, Short, UtcDateTime
from carevault.domain.base import FieldClass as C
from carevault.errors import InvalidTransition, ValidationError


class LineItem(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    description: Short
    code: str | None = Field(default=None, max_length=20)  # CPT/HCPCS
    quantity: int = Field(default=1, ge=1, le=1000)
    unit_price: Cents

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


class PaymentMethod(StrEnum):
    CASH = "CASH"
    CARD = "CARD"
    INSURANCE = "INSURANCE"
    BANK_TRANSFER = "BANK_TRANSFER"


class Payment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Annotated[Cents, Field(gt=0)]
    method: PaymentMethod
    at: UtcDateTime
    reference: str | None = Field(default=None, max_length=60)


class InvoiceStatus(StrEnum):
    DRAFT = "DRAFT"
    ISSUED = "ISSUED"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    OVERDUE = "OVERDUE"
    VOID = "VOID"


OPEN = frozenset({InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE})
"""Statuses with money still owed."""


class Invoice(Entity):
    """A bill to a patient; totals are always recomputed from the lines and payments."""

    TYPE: ClassVar[str] = "INVOICE"
    SERVER_OWNED: ClassVar[frozenset[str]] = frozenset(
        {
            "status",
            "payments",
            "issued_at",
            "voided_at",
            "void_reason",
            "subtotal",
            "total",
            "paid",
            "balance",
            "listed_on",
        }
    )
    RESOURCE: ClassVar[str | None] = "invoice"
    CLASSES: ClassVar[dict[str, FieldClass]] = {
        "line_items": C.FINANCIAL,
        "memo": C.FINANCIAL,
        "payments": C.FINANCIAL,
        "subtotal": C.FINANCIAL,
        "discount": C.FINANCIAL,
        "tax": C.FINANCIAL,
        "total": C.FINANCIAL,
        "paid": C.FINANCIAL,
        "balance": C.FINANCIAL,
    }
    PHI: ClassVar[frozenset[str]] = frozenset({"line_items", "memo"})
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(
            index="gsi4",
            pk="INVOICE#STATUS#{status}",
            sk="{listed_on}#{id}",
            purpose="invoices by status, by due date (A10; drafts by the day they were made)",
        ),
    )
    WHEN: ClassVar[str] = "{created_at}"
    REFS: ClassVar[dict[str, str]] = {"patient_id": "PATIENT", "appointment_id": "APPT"}

    patient_id: Id
    appointment_id: Id | None = None
    number: str = Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9-]+$")
    currency: Currency = "USD"
    line_items: list[LineItem] = Field(min_length=1, max_length=100)
    tax: Cents = 0
    discount: Cents = 0
    subtotal: Cents = 0
    total: Cents = 0
    paid: Cents = 0
    balance: Cents = 0
    payments: list[Payment] = Field(default_factory=list, max_length=200)
    memo: str | None = Field(default=None, max_length=2000)
    status: InvoiceStatus = InvoiceStatus.DRAFT
    issued_at: UtcDateTime | None = None
    due_date: date | None = None
    voided_at: UtcDateTime | None = None
    void_reason: str | None = Field(default=None, max_length=500)
    listed_on: str = ""  # derived: the due date, or a draft's creation date (its listing)

    @model_validator(mode="after")
    def _totals(self) -> Invoice:
        subtotal = sum(line.amount for line in self.line_items)
        if self.discount > subtotal:
            raise ValueError("discount must not exceed the subtotal")
        total = subtotal - self.discount + self.tax
        paid = sum(p.amount for p in self.payments)
        for name, value in (
            ("subtotal", subtotal),
            ("total", total),
            ("paid", paid),
            ("balance", total - paid),
            ("listed_on", (self.due_date or self.created_at.date()).isoformat()),
        ):
            object.__setattr__(self, name, value)
        if self.status in {*OPEN, InvoiceStatus.PAID} and self.due_date is None:
            raise ValueError("due_date is required once the invoice is issued")
        return self

    def issued(self, at: datetime, due: date) -> Invoice:
        """The draft issued, due on ``due``."""
        self._require({InvoiceStatus.DRAFT}, InvoiceStatus.ISSUED)
        if due < at.date():
            raise ValidationError("invoice.due_date", "must not be before the issue date")
        return self.changed(status=InvoiceStatus.ISSUED, issued_at=at, due_date=due, updated_at=at)

    def with_payment(self, payment: Payment) -> Invoice:
        """The invoice with a payment recorded (never more than the balance)."""
        self._require(OPEN, InvoiceStatus.PAID)
        if payment.amount > self.balance:
            raise ValidationError("payment.amount", "must not exceed the balance due")
        left = self.balance - payment.amount
        status = InvoiceStatus.PAID if left == 0 else InvoiceStatus.PARTIALLY_PAID
        if left and self.status is InvoiceStatus.OVERDUE:
            status = InvoiceStatus.OVERDUE
        return self.changed(
            payments=[*self.payments, payment], status=status, updated_at=payment.at
        )

    def voided(self, at: datetime, reason: str) -> Invoice:
        """The invoice voided; an invoice with payments cannot be voided."""
        self._require({InvoiceStatus.DRAFT, *OPEN}, InvoiceStatus.VOID)
        if self.payments:
            raise InvalidTransition("invoice.status", "an invoice with payments cannot be voided")
        return self.changed(
            status=InvoiceStatus.VOID, voided_at=at, void_reason=reason, updated_at=at
        )

    def overdue(self, today: date) -> Invoice:
        """The invoice marked overdue, if its due date has passed with money owed."""
        self._require({InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID}, InvoiceStatus.OVERDUE)
        if self.due_date is None or self.due_date >= today:
            raise InvalidTransition("invoice.due_date", "is not past yet")
        return self.changed(status=InvoiceStatus.OVERDUE)

    def _require(
        self, allowed: set[InvoiceStatus] | frozenset[InvoiceStatus], target: InvoiceStatus
    ) -> None:
        if self.status not in allowed:
            raise InvalidTransition(
                "invoice.status", f"cannot go from {self.status.value} to {target.value}"
            )
