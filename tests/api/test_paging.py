"""Every paged listing honours ``limit`` and, followed by ``next``, yields each item once."""

from __future__ import annotations

from datetime import date
from typing import Any

from carevault.api.app import PREFIX
from carevault.domain.clinic import Role
from carevault.domain.clinical import MedicalRecord
from carevault.services import billing, clinical, clinics
from tests.api.conftest import Api
from tests.domain.world import utc

MANY = 9  # more than one page of LIMIT
LIMIT = 7


def _walk(api: Api, path: str, params: dict[str, str], role: Role) -> list[str]:
    """Every item id of a listing, page by page; each page at most LIMIT items."""
    headers, ids, cursor = api.headers(role), [], None
    for _ in range(50):  # a listing of this test's size ends long before
        query = {**params, "limit": str(LIMIT), **({"cursor": cursor} if cursor else {})}
        sent = api.client.get(f"{PREFIX}{path}", params=query, headers=headers)
        assert sent.status_code == 200, sent.text
        body: dict[str, Any] = sent.json()
        assert len(body["items"]) <= LIMIT, path
        ids += [item["id"] for item in body["items"]]
        cursor = body["next"]
        if cursor is None:
            return ids
    raise AssertionError(f"{path}: the cursor never ended")


def test_every_paged_listing_yields_each_item_once(sqlite_api: Api) -> None:
    api, w = sqlite_api, sqlite_api.world
    one = w.patient("Paged", primary_provider_id=w.doctor.id)  # in the doctor's care
    people = [one] + [w.patient("Paged") for _ in range(MANY - 1)]
    invoices = []
    for n in range(MANY):
        made = billing.create(
            practice=w.practice,
            patient_id=one.id,
            line_items=[{"description": "Visit", "unit_price": 100 + n}],
        )
        invoices.append(
            billing.issue(
                practice=w.practice, invoice_id=made.id, version=made.version, due=date(2030, 1, 1)
            )
        )
    staff = [
        clinics.add_user(
            practice=w.practice,
            first_name="P",
            last_name=f"Staff{n}",
            email=f"paged.staff{n}@example.org",
            role=Role.STAFF,
        )
        for n in range(MANY)
    ]
    records = [
        clinical.create(
            practice=w.practice,
            entity=MedicalRecord,
            patient_id=one.id,
            provider_id=w.doctor.id,
            visit_date=utc(2027, 3, 1, 9 + n % 8),
        )
        for n in range(MANY)
    ]
    api.headers(Role.STAFF)  # the STAFF login exists before the user listing is walked
    cases: list[tuple[str, dict[str, str], Role, set[str]]] = [
        ("/patients", {"status": "ACTIVE"}, Role.STAFF, {p.id for p in people}),
        ("/invoices", {"status": "ISSUED"}, Role.BILLING, {i.id for i in invoices}),
        ("/users", {"role": "STAFF"}, Role.ADMIN, {u.id for u in staff}),
        (f"/patients/{one.id}/history/invoice", {}, Role.BILLING, {i.id for i in invoices}),
        (f"/patients/{one.id}/history/record", {}, Role.DOCTOR, {r.id for r in records}),
    ]
    for path, params, role, made in cases:
        ids = _walk(api, path, params, role)
        assert len(ids) == len(set(ids)), f"{path}: an item came twice"
        assert made <= set(ids), f"{path}: {len(made - set(ids))} items never came"
        assert len(ids) > LIMIT, f"{path}: everything fit one page; the test proves nothing"
