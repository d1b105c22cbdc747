"""Billing: draft, issue, record payments, void, and mark overdue by due date (A10)."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any

from carevault.domain.base import checked
from carevault.domain.billing import Invoice, InvoiceStatus, Payment
from carevault.repo.unit import Listing
from carevault.services.practice import Practice
from carevault.store import SortKey


def create(*, practice: Practice, **fields: Any) -> Invoice:
    """A draft invoice; its number is generated unless given, its currency the clinic's."""
    p = practice
    number = fields.pop("number", None) or f"INV-{p.now():%Y%m%d}-{secrets.token_hex(3).upper()}"
    currency = fields.pop("currency", None) or p.clinic.settings.currency
    invoice = Invoice.create(
        **fields,
        number=number,
        currency=currency,
        created_by=p.uow.actor,
        updated_by=p.uow.actor,
    )
    saved = p.uow[Invoice].add(invoice)
    p.uow.commit()
    return saved


def _save(p: Practice, invoice: Invoice) -> Invoice:
    saved = p.uow[Invoice].update(invoice)
    p.uow.commit()
    return saved


def _read(p: Practice, invoice_id: str, version: int) -> Invoice:
    return p.uow[Invoice].for_change(invoice_id).model_copy(update={"version": version})


def issue(*, practice: Practice, invoice_id: str, version: int, due: date | None = None) -> Invoice:
    """Issue a draft; due after the clinic's payment terms unless given."""
    p = practice
    now = p.now()
    due = due or (p.local_date(now) + timedelta(days=p.clinic.settings.invoice_due_days))
    return _save(p, _read(p, invoice_id, version).issued(now, due))


def record_payment(*, practice: Practice, invoice_id: str, version: int, **payment: Any) -> Invoice:
    """Record a payment (never more than the balance)."""
    p = practice
    paid = checked(Payment, {"at": p.now(), **payment})
    return _save(p, _read(p, invoice_id, version).with_payment(paid))


def void(*, practice: Practice, invoice_id: str, version: int, reason: str) -> Invoice:
    """Void an invoice that has no payments."""
    p = practice
    return _save(p, _read(p, invoice_id, version).voided(p.now(), reason))


def by_status(
    *,
    practice: Practice,
    status: InvoiceStatus,
    due_before: date | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Listing[Invoice]:
    """Invoices in one status by due date, optionally due before a date (A10: one query)."""
    sk = SortKey.lt(due_before.isoformat()) if due_before else None
    return practice.uow[Invoice].query(
        "gsi4", f"INVOICE#STATUS#{status.value}", sk=sk, limit=limit, cursor=cursor
    )


def mark_overdue(*, practice: Practice, today: date | None = None) -> int:
    """Mark every issued or partly paid invoice past its due date as overdue; returns how many."""
    p = practice
    today = today or p.local_date(p.now())
    count = 0
    for status in (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID):
        partition = f"INVOICE#STATUS#{status.value}"
        for invoice in list(
            p.uow[Invoice].query_all("gsi4", partition, sk=SortKey.lt(today.isoformat()))
        ):
            _save(p, invoice.overdue(today))
            count += 1
    return count
