"""Every created resource is read back where its ``Location`` points; every list is paged.

Both sets come from the live OpenAPI document (every POST declaring a 201, every operation
taking ``limit``), so a route added without its read or its paging fails here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx

from carevault.access.clients import create_client
from carevault.api.app import PREFIX
from carevault.domain.clinic import Role
from carevault.domain.clinical import MedicalRecord, RecordType
from carevault.domain.intake import Registration
from carevault.repo.records import PLATFORM
from carevault.repo.unit import UnitOfWork
from carevault.services import audit_trail, billing, clinical, clinics, scheduling
from tests.api.conftest import Api
from tests.domain.world import local, utc

TOKENS_NOT_RESOURCES = {  # these answer 201 with tokens or a session, not a stored resource
    "/sessions",
    "/sessions/mfa",
    "/sessions/refresh",
    "/sessions/client",
    "/break-glass",
    "/invitations/acceptance",
}
CHANGED_SINCE = {"/notes", "/registrations"}  # signed, converted: a newer version is read
ids = itertools.count(1)
ROLES = (Role.STAFF, Role.DOCTOR, Role.BILLING, Role.ADMIN)


def _operations(api: Api) -> dict[str, Any]:
    paths: dict[str, Any] = api.client.get(f"{PREFIX}/openapi.json").json()["paths"]
    return {p.removeprefix(PREFIX): ops for p, ops in paths.items()}


def _platform(api: Api) -> dict[str, str]:
    world = api.world
    world.ring.ensure_tenant(PLATFORM)
    uow = UnitOfWork(world.store, world.ring, PLATFORM, actor="test")
    _, credential = create_client(uow=uow, name="Ops", scopes=["clinic:search", "clinic:write"])
    sent = api.client.post(f"{PREFIX}/sessions/client", json={"credential": credential})
    return {"Authorization": f"Bearer {sent.json()['access_token']}"}


class Maker:
    """Sends each creating request, as the first role that may, and remembers the answer."""

    def __init__(self, api: Api) -> None:
        self.api, self.c = api, api.client
        self.patient = api.world.patient()
        self.doctor = api.world.doctor.id
        start = local(2031, 3, 4, 9)
        scheduling.book(  # a booking by the clinic: the doctor cares for the patient
            practice=api.world.practice,
            patient_id=self.patient.id,
            provider_id=self.doctor,
            start=start,
            end=start + timedelta(minutes=30),
        )
        self.made: dict[str, tuple[httpx.Response, dict[str, str]]] = {}
        self.signed = {role: api.headers(role) for role in ROLES}  # one sign-in per role

    def send(self, template: str, path: str, **request: Any) -> httpx.Response:
        refusals = []
        extra = request.pop("headers", {})
        for role in ROLES:
            headers = {**self.signed[role], **extra}
            sent = self.c.post(f"{PREFIX}{path}", headers=headers, **request)
            if sent.status_code == 201:
                self.made[template] = (sent, headers)
                return sent
            refusals.append((role.value, sent.status_code, sent.text[:200]))
        raise AssertionError(f"no role could create {path}: {refusals}")

    def every(self) -> None:
        p, doctor, n = self.patient.id, self.doctor, next(ids)
        visit = "2031-03-04T09:00:00Z"
        self.send("/patients", "/patients", json=_person(n))
        self.send(
            "/appointments",
            "/appointments",
            json={
                "patient_id": p,
                "provider_id": doctor,
                "start": "2031-03-04T16:00:00Z",
                "end": "2031-03-04T16:30:00Z",
                "reason": "Follow-up",
            },
        )
        block = {"provider_id": doctor, "date": "2031-03-05", "start_time": "12:00"}
        block |= {"end_time": "13:00", "reason": "Lunch"}
        self.send("/time-blocks", "/time-blocks", json=block)
        note = self.send("/notes", "/notes", json={"patient_id": p, "provider_id": doctor})
        signed = self.c.post(
            f"{PREFIX}/notes/{note.json()['id']}/signature",
            headers={**self.made["/notes"][1], "If-Match": note.headers["etag"]},
        )
        assert signed.status_code == 200, signed.text
        self.send(
            "/notes/{note_id}/amendments",
            f"/notes/{note.json()['id']}/amendments",
            json={"plan": "Amended"},
        )
        self.send(
            "/records",
            "/records",
            json={"patient_id": p, "provider_id": doctor, "visit_date": visit},
        )
        self.send(
            "/treatment-records",
            "/treatment-records",
            json={
                "patient_id": p,
                "therapist_id": doctor,
                "session_date": visit,
                "duration_minutes": 50,
            },
        )
        self.send(
            "/insurance-verifications",
            "/insurance-verifications",
            json={"patient_id": p, "insurance": {"provider": "Aetna", "policy_number": "P1"}},
        )
        self.send(
            "/consents",
            "/consents",
            json={"patient_id": p, "kind": "HIPAA", "granted_at": "2031-01-01T09:00:00Z"},
        )
        self.send(
            "/documents",
            "/documents",
            data={"patient_id": p, "title": "Scan"},
            files={"file": ("s.txt", b"scan", "text/plain")},
        )
        self.send(
            "/invoices",
            "/invoices",
            json={"patient_id": p, "line_items": [{"description": "Visit", "unit_price": "1.00"}]},
        )
        reg = self.send(
            "/registrations",
            "/registrations",
            json={
                "first_name": "I",
                "last_name": "Take",
                "email": f"take{n}@example.org",
                "date_of_birth": "1990-01-01",
            },
        )
        self.send(
            "/registrations/{registration_id}/conversion",
            f"/registrations/{reg.json()['id']}/conversion",
            json={"mrn": f"RG-{n}", "gender": "MALE"},
            headers={"If-Match": reg.headers["etag"]},
        )
        self.send(
            "/users",
            "/users",
            json={
                "first_name": "Nia",
                "last_name": "Staff",
                "email": f"nia{n}@example.org",
                "role": "STAFF",
            },
        )
        self.send("/api-clients", "/api-clients", json={"name": "Feed", "scopes": ["patient:read"]})
        onboarding = {
            "clinic": {"name": "Harbor Family Practice", "time_zone": "America/Chicago"},
            "admin": {"first_name": "Ava", "last_name": "Lind", "email": f"ava{n}@harbor.example"},
            "password": "tidal-Orchid-42-lantern",
        }
        platform = _platform(self.api)
        made = self.c.post(f"{PREFIX}/clinics", json=onboarding, headers=platform)
        assert made.status_code == 201, made.text
        self.made["/clinics"] = (made, platform)


def _person(n: int) -> dict[str, Any]:
    return {
        "mrn": f"LOC-{n}",
        "first_name": "Ana",
        "last_name": "Lopez",
        "date_of_birth": "1984-03-02",
        "gender": "FEMALE",
    }


def test_every_created_resource_is_read_back_at_its_location(sqlite_api: Api) -> None:
    api = sqlite_api
    creates = {
        path
        for path, ops in _operations(api).items()
        if "201" in ops.get("post", {}).get("responses", {})
    }
    maker = Maker(api)
    maker.every()
    assert set(maker.made) == creates - TOKENS_NOT_RESOURCES  # every creating route is here
    for template, (made, headers) in maker.made.items():
        location = made.headers.get("location")
        assert location is not None and location.startswith(f"{PREFIX}/"), template
        read = api.client.get(location, headers={"Authorization": headers["Authorization"]})
        assert read.status_code == 200, (template, location, read.text)
        created = made.json().get("clinic", made.json())
        assert read.json()["id"] == created["id"], template
        if "etag" in made.headers and template not in CHANGED_SINCE:
            assert read.headers["etag"] == made.headers["etag"], template


def _walk(
    c: httpx.Client, path: str, params: dict[str, Any], headers: dict[str, str], method: str
) -> list[str]:
    """Every item's id, following ``next`` from the first page of 7 to the last."""
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        query = {**params, "limit": 7, **({"cursor": cursor} if cursor else {})}
        sent = c.request(method, f"{PREFIX}{path}", params=query, headers=headers)
        assert sent.status_code == 200, (path, sent.text)
        page = sent.json()
        assert len(page["items"]) <= 7, path
        seen += [item["id"] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            assert page["items"] or not seen, f"{path}: a last page may not be empty"
            return seen
        assert len(page["items"]) == 7, f"{path}: a page before the last is full"
    raise AssertionError(f"{path}: more than 100 pages")


def test_every_list_gives_each_item_once_by_pages_of_seven(sqlite_api: Api) -> None:
    api, c, world = sqlite_api, sqlite_api.client, sqlite_api.world
    p = world.practice
    day = date(2031, 3, 4)
    person = world.patient()
    patients = [person.id] + [world.patient().id for _ in range(9)]
    bookings = []
    for i in range(10):
        start = local(2031, 3, 4, 9) + timedelta(minutes=30 * i)
        made = scheduling.book(
            practice=p,
            patient_id=person.id,
            provider_id=world.doctor.id,
            start=start,
            end=start + timedelta(minutes=30),
        )
        bookings.append(made.id)
    records = [
        clinical.create(
            practice=p,
            entity=MedicalRecord,
            patient_id=person.id,
            provider_id=world.doctor.id,
            visit_date=utc(2031, 3, 4, 9),
            record_type=RecordType.CONSULTATION,
        ).id
        for _ in range(9)
    ]
    documents = [
        clinical.upload(
            practice=p,
            data=b"scan",
            patient_id=person.id,
            title="Lab",
            doc_type="LAB_REPORT",
            file_name="lab.txt",
            mime_type="text/plain",
        ).id
        for _ in range(9)
    ]
    invoices = []
    for i in range(9):
        draft = billing.create(
            practice=p,
            patient_id=person.id,
            line_items=[{"description": "Visit", "unit_price": 100}],
        )
        due = date(2031, 4, 1) + timedelta(days=i)
        invoices.append(
            billing.issue(practice=p, invoice_id=draft.id, version=draft.version, due=due).id
        )
    registrations = [
        clinical.create(
            practice=p,
            entity=Registration,
            first_name="I",
            last_name="Take",
            email=f"walk{i}@example.org",
        ).id
        for i in range(9)
    ]
    staff = [api.user(Role.STAFF).id] + [
        clinics.add_user(
            practice=p,
            first_name="S",
            last_name=f"Staff{i}",
            email=f"staff{i}@walk.example.org",
            role=Role.STAFF,
        ).id
        for i in range(8)
    ]
    doctors = [world.doctor.id] + [world.provider().id for _ in range(8)]
    for _ in range(8):  # more clinics than a page, for the platform's directory
        world.other_practice()
    admin, doctor = api.headers(Role.ADMIN), api.headers(Role.DOCTOR)
    staff_h, billing_h = api.headers(Role.STAFF), api.headers(Role.BILLING)
    platform = _platform(api)
    every_clinic = [row["id"] for row in clinics.list_clinics(store=world.store, limit=1000).items]
    Expect = Callable[[], list[str]]
    lists: dict[str, tuple[dict[str, Any], dict[str, str], Expect]] = {
        "/patients": ({"status": "ACTIVE"}, admin, lambda: patients),
        "/users": ({"role": "STAFF"}, admin, lambda: staff),
        "/registrations": ({"status": "PENDING"}, staff_h, lambda: registrations),
        "/schedule": ({"day": day.isoformat()}, staff_h, lambda: bookings),
        f"/providers/{world.doctor.id}/appointments": (
            {"status": "SCHEDULED"},
            staff_h,
            lambda: bookings,
        ),
        f"/patients/{person.id}/history/appointment": ({}, doctor, lambda: bookings),
        "/records": ({"record_type": "CONSULTATION"}, doctor, lambda: records),
        "/documents": ({"doc_type": "LAB_REPORT"}, doctor, lambda: documents),
        "/invoices": ({"status": "ISSUED"}, billing_h, lambda: invoices),
        "/clinics": ({}, platform, lambda: every_clinic),
        "/providers": ({"specialty": "Cardiology"}, staff_h, lambda: doctors),
    }
    templates = {
        path: ops
        for path, ops in _operations(api).items()
        for op in ops.values()
        if "limit" in [q["name"] for q in op.get("parameters", [])]
    }
    named = {
        "/providers/{provider_id}/appointments": f"/providers/{world.doctor.id}/appointments",
        "/patients/{patient_id}/history/{kind}": f"/patients/{person.id}/history/appointment",
    }
    walked = {named.get(t, t) for t in templates} - {"/audit/events"}
    other = world.provider(specialization="Dermatology").id
    assert other not in _walk(c, "/providers", {"specialty": "Cardiology"}, staff_h, "GET")
    assert walked == set(lists), "every paged list is walked here"
    for path, (params, headers, expected) in lists.items():
        seen = _walk(c, path, params, headers, "GET")
        assert len(seen) == len(set(seen)), f"{path}: an item came twice"
        assert sorted(seen) == sorted(expected()), path
    # the audit trail's day, walked last: the walks above are in it too
    auditor = api.headers(Role.AUDITOR)
    today = world.practice.now().date().isoformat()
    seen = _walk(c, "/audit/events", {"day": today}, auditor, "GET")
    assert len(seen) == len(set(seen)) and len(seen) > 7

    every = [
        e.id for e in audit_trail.on_day(practice=world.practice, day=date.fromisoformat(today))
    ]
    assert set(seen) <= set(every) and len(every) - len(seen) <= 2  # the walk's own last reads
