"""The authorization matrix through HTTP: every guarded route x every role (and an API
client) x the caller's own patient (in the doctor's care) / another patient of the clinic /
another clinic's patient. An action's cells are the hand-written tables of the service
matrix (``tests/access/test_matrix.py``); a read's come from the policy table, and every item
a read returns, listings and searches included, is masked as the table says for its patient.
Allowed cells answer 2xx; a denial is a 403 problem whose request id is a DENIED event, or,
for an id the caller may not know exists, the same 404 an unknown id gets. Every route of
the OpenAPI document that can return PHI must be exercised here, or the test fails.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from carevault.access.clients import create_client
from carevault.access.policy import ROLE_PERMISSIONS, SERVED, decide, hidden_fields
from carevault.api.app import PREFIX
from carevault.audit.trail import fields_of
from carevault.domain.audit import Action, Level
from carevault.domain.clinic import ProviderProfile, Role
from carevault.domain.clinical import MedicalRecord, TreatmentRecord
from carevault.domain.intake import Consent, InsuranceVerification, Registration
from carevault.domain.patient import Patient
from carevault.repo.credentials import stage_password
from carevault.services import audit_trail, clinical, clinics, scheduling
from carevault.services.practice import Practice
from tests.access.test_matrix import (
    CALLER_OPS,
    CLINIC_OPS,
    PATIENT_OPS,
    A,
    B,
    Ctx,
    D,
    P,
    Read,
    S,
    U,
    _slot,
    allowed,
)
from tests.api.conftest import PASSWORD, Api
from tests.domain.world import make_world, utc

C = Role.SERVICE  # an API client whose only scope is patient:read
CLIENT_SCOPES = frozenset({"patient:read"})
ids = itertools.count()
sent: set[tuple[str, str]] = set()  # (method, path) of every request the matrix made


@dataclass
class Http:
    """One caller's requests, each with its own request id."""

    client: Any
    headers: dict[str, str]
    request_id: str = ""

    def send(self, method: str, path: str, etag: int | None = None, **extra: Any) -> httpx.Response:
        self.request_id = str(uuid.UUID(int=next(ids) + 1))
        headers = {**self.headers, "X-Request-ID": self.request_id}
        if etag is not None:
            headers["If-Match"] = f'"{etag}"'
        response: httpx.Response = self.client.request(
            method, f"{PREFIX}{path}", headers=headers, **extra
        )
        sent.add((method, f"{PREFIX}{path}"))
        return response


def _iso(value: Any) -> str:
    return str(value.isoformat())


def _booking(c: Ctx, provider: str) -> dict[str, Any]:
    slot = _slot()
    return {
        "patient_id": c.patient.id,
        "provider_id": provider,
        "start": _iso(slot["start"]),
        "end": _iso(slot["end"]),
    }


def _step(step: str, body: dict[str, Any] | None = None) -> Callable[[Http, Ctx], httpx.Response]:
    def op(h: Http, c: Ctx) -> httpx.Response:
        appt = c.appointment()
        return h.send("POST", f"/appointments/{appt.id}/{step}", appt.version, json=body or {})

    return op


def _complete(h: Http, c: Ctx) -> httpx.Response:
    """Check the patient in, then complete the visit (each step as the same caller)."""
    appt = c.appointment()
    arrived = h.send("POST", f"/appointments/{appt.id}/check-in", appt.version)
    if arrived.status_code != 200:
        return arrived
    return h.send("POST", f"/appointments/{appt.id}/complete", arrived.json()["version"])


def _reschedule(h: Http, c: Ctx) -> httpx.Response:
    appt = c.appointment()
    slot = _slot()
    when = {"start": _iso(slot["start"]), "end": _iso(slot["end"])}
    return h.send("POST", f"/appointments/{appt.id}/reschedule", appt.version, json=when)


def _bill(step: str, issued: bool, body: dict[str, Any]) -> Callable[[Http, Ctx], httpx.Response]:
    def op(h: Http, c: Ctx) -> httpx.Response:
        invoice = c.invoice(issued)
        return h.send("POST", f"/invoices/{invoice.id}/{step}", invoice.version, json=body)

    return op


def _download(h: Http, c: Ctx) -> httpx.Response:
    return h.send("GET", f"/documents/{c.document().id}/content")


def _deactivate(h: Http, c: Ctx) -> httpx.Response:
    current = c.active_patient()
    return h.send("POST", f"/patients/{current.id}/deactivation", current.version)


def _update(h: Http, c: Ctx) -> httpx.Response:
    version = c.setup.uow[Patient].require(c.patient.id).version
    return h.send("PATCH", f"/patients/{c.patient.id}", version, json={"phone": "+14155550199"})


def _history(kind: str) -> Callable[[Http, Ctx], httpx.Response]:
    return lambda h, c: h.send("GET", f"/patients/{c.patient.id}/history/{kind}")


def _record(path: str, **fields: Any) -> Callable[[Http, Ctx], httpx.Response]:
    return lambda h, c: h.send("POST", path, json={"patient_id": c.patient.id, **fields})


def _with_doctor(path: str, **fields: Any) -> Callable[[Http, Ctx], httpx.Response]:
    def op(h: Http, c: Ctx) -> httpx.Response:
        body = {"patient_id": c.patient.id, "provider_id": c.world.doctor.id, **fields}
        return h.send("POST", path, json=body)

    return op


HttpOp = Callable[[Http, Ctx], httpx.Response]
VISIT = _iso(utc(2027, 3, 1, 9))
PATIENT_HTTP: dict[str, HttpOp] = {
    "read patient": lambda h, c: h.send("GET", f"/patients/{c.patient.id}"),
    "update patient": _update,
    "deactivate patient": _deactivate,
    "invite patient": lambda h, c: h.send("POST", f"/patients/{c.patient.id}/invitations"),
    "book": lambda h, c: h.send("POST", "/appointments", json=_booking(c, c.world.colleague.id)),
    "confirm": _step("confirm"),
    "check in": _step("check-in"),
    "no-show": _step("no-show"),
    "complete": _complete,
    "cancel": _step("cancel", {"reason": "Travel"}),
    "appointment notes": _step("notes", {"notes": "Bring ECG"}),
    "reschedule": _reschedule,
    "read appointments": _history("appointment"),
    "draft note": _with_doctor("/notes"),
    "sign note": lambda h, c: h.send("POST", f"/notes/{c.note().id}/signature", 1),
    "amend note": lambda h, c: h.send(
        "POST", f"/notes/{c.note(signed=True).id}/amendments", json={"plan": "Amended"}
    ),
    "read notes": _history("note"),
    "create record": _with_doctor("/records", visit_date=VISIT),
    "read records": _history("record"),
    "create treatment": lambda h, c: h.send(
        "POST",
        "/treatment-records",
        json={
            "patient_id": c.patient.id,
            "therapist_id": c.world.doctor.id,
            "session_date": VISIT,
            "duration_minutes": 50,
        },
    ),
    "read treatments": _history("treatment"),
    "verify insurance": _record(
        "/insurance-verifications", insurance={"provider": "Aetna", "policy_number": "P1"}
    ),
    "upload document": lambda h, c: h.send(
        "POST",
        "/documents",
        data={"patient_id": c.patient.id, "title": "Scan"},
        files={"file": ("s.txt", b"scan", "text/plain")},
    ),
    "download document": _download,
    "create invoice": _record(
        "/invoices", line_items=[{"description": "Visit", "unit_price": "1.00"}]
    ),
    "issue invoice": _bill("issue", False, {}),
    "record payment": _bill("payments", True, {"amount": "0.50", "method": "CASH"}),
    "void invoice": _bill("void", False, {"reason": "Duplicate"}),
    "read invoices": _history("invoice"),
    "add consent": _record("/consents", kind="HIPAA", granted_at=_iso(utc(2027, 1, 1, 9))),
    "disclosures": lambda h, c: h.send(
        "POST", "/audit/disclosures", json={"patient_id": c.patient.id, "since": "2000-01-01"}
    ),
}


def _by_id(path: str, make: Callable[[Ctx], Any]) -> HttpOp:
    return lambda h, c: h.send("GET", f"/{path}/{make(c).id}")


def _remove_and_restore(h: Http, c: Ctx) -> httpx.Response:
    version = c.setup.uow[Patient].require(c.patient.id).version
    removed = h.send("DELETE", f"/patients/{c.patient.id}", version)
    if removed.status_code != 204:
        return removed
    return h.send("POST", f"/patients/{c.patient.id}/restoration")


PATIENT_HTTP |= {
    "remove and restore patient": _remove_and_restore,
    "edit note": lambda h, c: h.send("PATCH", f"/notes/{c.note().id}", 1, json={"plan": "Edited"}),
    "appointment by id": _by_id("appointments", Ctx.appointment),
    "note by id": _by_id("notes", Ctx.note),
    "invoice by id": _by_id("invoices", Ctx.invoice),
    "document by id": _by_id("documents", Ctx.document),
    "record by id": _by_id("records", lambda c: c.made(MedicalRecord)),
    "treatment by id": _by_id("treatment-records", lambda c: c.made(TreatmentRecord)),
    "consent by id": _by_id("consents", lambda c: c.made(Consent)),
    "insurance outcome": lambda h, c: h.send(
        "POST",
        f"/insurance-verifications/{(v := c.made(InsuranceVerification)).id}/outcome",
        v.version,
        json={"status": "VERIFIED", "result": {"coverage_active": True, "copay": "25.00"}},
    ),
    "insurance by id": _by_id("insurance-verifications", lambda c: c.made(InsuranceVerification)),
}


def _remove_block(h: Http, w: Any) -> httpx.Response:
    block = scheduling.add_block(
        practice=w.practice,
        provider_id=w.doctor.id,
        date="2027-07-01",
        start_time="12:00",
        end_time="13:00",
        reason="Lunch",
    )
    return h.send("DELETE", f"/time-blocks/{block.id}", block.version)


def _registration(w: Any) -> Any:
    return clinical.create(
        practice=w.practice,
        entity=Registration,
        first_name="I",
        last_name="Take",
        email=f"r{next(ids)}@example.org",
        date_of_birth="1990-01-01",
    )


def _convert(h: Http, w: Any) -> httpx.Response:
    reg = _registration(w)
    path = f"/registrations/{reg.id}/conversion"
    return h.send("POST", path, reg.version, json={"mrn": f"RG-{next(ids)}", "gender": "MALE"})


def _spare_client(w: Any) -> Any:
    client, _ = create_client(uow=w.practice.uow, name="Spare", scopes=["patient:read"])
    return client


def _block(w: Any) -> Any:
    return scheduling.add_block(
        practice=w.practice,
        provider_id=w.doctor.id,
        date=f"2027-08-{1 + next(ids) % 28:02d}",
        start_time="12:00",
        end_time="13:00",
        reason="Lunch",
    )


def _deactivate_client(h: Http, w: Any) -> httpx.Response:
    client, _ = create_client(uow=w.practice.uow, name="Spare", scopes=["patient:read"])
    return h.send("DELETE", f"/api-clients/{client.id}", client.version)


def _profile(h: Http, w: Any) -> httpx.Response:
    version = w.practice.uow[ProviderProfile].require(w.doctor.id).version
    body = {"accepting_patients": True}
    return h.send("PUT", f"/providers/{w.doctor.id}/profile", version, json=body)


DAY, START, END = "2027-03-01", "2027-03-01T00:00:00Z", "2027-03-02T00:00:00Z"
CLINIC_HTTP: dict[str, Callable[[Http, Any], httpx.Response]] = {
    "search patients": lambda h, w: h.send(
        "POST", "/patients/search", json={"by": "last_name", "value": "Matrix"}
    ),
    "patient by MRN": lambda h, w: h.send(
        "POST", "/patients/search", json={"by": "mrn", "value": "MRN-00001"}
    ),
    "patients by status": lambda h, w: h.send("GET", "/patients", params={"status": "ACTIVE"}),
    "register patient": lambda h, w: h.send(
        "POST",
        "/patients",
        json={
            "mrn": f"MX-{next(ids)}",
            "first_name": "N",
            "last_name": "Matrix",
            "date_of_birth": "1990-01-01",
            "gender": "MALE",
        },
    ),
    "register intake": lambda h, w: h.send(
        "POST",
        "/registrations",
        json={"first_name": "I", "last_name": "Take", "email": f"i{next(ids)}@example.org"},
    ),
    "day schedule": lambda h, w: h.send("GET", "/schedule", params={"day": DAY}),
    "provider timeline": lambda h, w: h.send(
        "GET", f"/providers/{w.doctor.id}/timeline", params={"start": START, "end": END}
    ),
    "free slots": lambda h, w: h.send(
        "GET", f"/providers/{w.doctor.id}/availability", params={"day": DAY}
    ),
    "notes by code": lambda h, w: h.send("POST", "/notes/search", json={"code": "I10"}),
    "records by type": lambda h, w: h.send(
        "GET", "/records", params={"record_type": "CONSULTATION"}
    ),
    "invoices by status": lambda h, w: h.send("GET", "/invoices", params={"status": "ISSUED"}),
    "mark overdue": lambda h, w: h.send("POST", "/invoices/overdue"),
    "users by role": lambda h, w: h.send("GET", "/users", params={"role": "DOCTOR"}),
    "set provider profile": _profile,
    "add user": lambda h, w: h.send(
        "POST",
        "/users",
        json={
            "first_name": "N",
            "last_name": "U",
            "role": "STAFF",
            "email": f"n{next(ids)}@example.org",
        },
    ),
    "add block": lambda h, w: h.send(
        "POST",
        "/time-blocks",
        json={
            "provider_id": w.doctor.id,
            "date": "2027-06-01",
            "start_time": "12:00",
            "end_time": "13:00",
            "reason": "Lunch",
        },
    ),
    "remove block": _remove_block,
    "audit day": lambda h, w: h.send("GET", "/audit/events", params={"day": DAY}),
    "verify audit": lambda h, w: h.send("GET", "/audit/verify"),
    # routes only the API has (their tables are below)
    "appointments by status": lambda h, w: h.send(
        "GET", f"/providers/{w.doctor.id}/appointments", params={"status": "SCHEDULED"}
    ),
    "documents by type": lambda h, w: h.send("GET", "/documents", params={"doc_type": "OTHER"}),
    "registrations": lambda h, w: h.send("GET", "/registrations"),
    "convert registration": _convert,
    "own clinic": lambda h, w: h.send("GET", f"/clinics/{w.tenant}"),
    "api clients": lambda h, w: h.send("GET", "/api-clients"),
    "create api client": lambda h, w: h.send(
        "POST", "/api-clients", json={"name": "Feed", "scopes": ["patient:read"]}
    ),
    "deactivate api client": _deactivate_client,
    "provider directory": lambda h, w: h.send(
        "GET", "/providers", params={"specialty": "Cardiology"}
    ),
    "provider profile": lambda h, w: h.send("GET", f"/providers/{w.doctor.id}"),
    "api client by id": lambda h, w: h.send("GET", f"/api-clients/{_spare_client(w).id}"),
    "block by id": lambda h, w: h.send("GET", f"/time-blocks/{_block(w).id}"),
    "registration by id": lambda h, w: h.send("GET", f"/registrations/{_registration(w).id}"),
    "break glass": lambda h, w: h.send(
        "POST", "/break-glass", json={"reason": "Unconscious patient, no records", "minutes": 1}
    ),
    "audit export": lambda h, w: h.send("GET", "/audit/export"),
    "shred patient": lambda h, w: h.send(
        "POST", f"/patients/{w.patient('Shred').id}/shred", json={"reason": "PATIENT_REQUEST"}
    ),
    "user by id": lambda h, w: h.send("GET", f"/users/{w.doctor.id}"),
    "records by code": lambda h, w: h.send(
        "POST", "/records/search", json={"by": "code", "value": "I10"}
    ),
    "critical events": lambda h, w: h.send(
        "GET", "/audit/events", params={"day": DAY, "level": "CRITICAL"}
    ),
}
API_ONLY: dict[str, set[Role]] = {
    "convert registration": {A, S},
    "deactivate api client": {A},
    "critical events": {A, U},
}
RULES = {name: rule for name, (_, rule) in {**PATIENT_OPS, **CALLER_OPS}.items()}


def _allowed_on_patient(name: str, role: Role, whose: str) -> bool:
    rule = RULES[name]
    return allowed(rule, role, whose, CLIENT_SCOPES if role is C else None)


def _allowed_in_clinic(name: str, role: Role) -> bool:
    if role is C:
        return False
    return role in (API_ONLY[name] if name in API_ONLY else CLINIC_OPS[name][1])


LISTS: dict[str, str] = {
    "search patients": "patient",
    "patient by MRN": "patient",
    "patients by status": "patient",
    "day schedule": "appointment",
    "provider timeline": "appointment",
    "notes by code": "note",
    "records by type": "record",
    "records by code": "record",
    "invoices by status": "invoice",
    "users by role": "user",
    "user by id": "user",
    "appointments by status": "appointment",
    "documents by type": "document",
    "registrations": "registration",
    "registration by id": "registration",
    "block by id": "block",
    "provider directory": "provider",
    "provider profile": "provider",
}
"""The clinic-wide reads, and the resource their items are."""
NO_PHI = {
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/openapi.json"),
    ("POST", "/sessions"),
    ("POST", "/sessions/mfa"),
    ("POST", "/sessions/refresh"),
    ("DELETE", "/sessions/current"),
    ("POST", "/sessions/client"),
    ("POST", "/invitations/acceptance"),
    ("GET", "/clinics"),  # the platform's directory: ids and names of clinics
    ("POST", "/clinics"),
    ("POST", "/users/{user_id}/deactivation"),  # tests/api/test_deactivation.py
    # a clinic user's own account and its lifecycle: tests/api/test_staff_lifecycle.py
    ("GET", "/me"),
    ("POST", "/me/password"),
    ("PATCH", "/users/{user_id}"),
    ("POST", "/users/{user_id}/invitations"),
    ("POST", "/users/{user_id}/password-reset"),
    ("POST", "/users/{user_id}/unlock"),
}
"""Routes the matrix need not exercise: they return no patient's data (each has its test)."""


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict) and "items" in body:
        return list(body["items"])
    if isinstance(body, dict) and "appointments" in body:
        return list(body["appointments"])
    return [body] if isinstance(body, dict) and "id" in body else []


def _patient_of(resource: str, item: dict[str, Any]) -> str | None:
    entity = SERVED[resource]
    if entity.PATIENT is None:
        return None
    return str(item["id"]) if entity.PATIENT.startswith("@") else item.get("patient_id")


def masked_as_the_table_says(
    response: httpx.Response, role: Role, resource: str, mine: str, what: str
) -> int:
    """Each item of a 2xx read shows exactly the field classes the table gives it."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return 0
    granted = CLIENT_SCOPES if role is C else None
    found = _items(response.json())
    for item in found:
        patient = _patient_of(resource, item)
        related = role in (D, P) and patient == mine
        decision, visible = decide(role, granted or ROLE_PERMISSIONS[role], resource, related)
        assert decision.value != "deny", f"{what}: a withheld {resource} was returned"
        expected = sorted(hidden_fields(SERVED[resource], visible))
        assert sorted(item.get("masked", [])) == expected, f"{what}: masked {item.get('masked')}"
        assert not set(expected) & set(item), f"{what}: a masked field is in the body"
    return len(found)


def _templates(api: Api) -> set[tuple[str, str]]:
    paths = api.client.get(f"{PREFIX}/openapi.json").json()["paths"]
    return {(m.upper(), t.removeprefix(PREFIX)) for t, ops in paths.items() for m in ops}


def _exercised(template: str, method: str) -> bool:
    pattern = re.compile("^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(PREFIX + template)) + "$")
    return any(m == method and pattern.match(path) for m, path in sent)


def test_the_http_authorization_matrix(sqlite_api: Api) -> None:
    api, world = sqlite_api, sqlite_api.world
    assert set(PATIENT_HTTP) == set(RULES)  # every operation has its route
    assert set(CLINIC_HTTP) == set(CLINIC_OPS) | set(API_ONLY)
    other = make_world(world.make_store, world.tmp, shared=world)
    mine, stranger, foreign = (
        world.patient("Matrix"),
        world.patient("Matrix"),
        other.patient("Matrix"),
    )
    colleague = world.colleague = world.provider()  # type: ignore[attr-defined]
    scheduling.book(
        practice=world.practice, patient_id=mine.id, provider_id=world.doctor.id, **_slot()
    )
    scheduling.book(
        practice=world.practice, patient_id=stranger.id, provider_id=colleague.id, **_slot()
    )
    portal = clinics.add_user(
        practice=world.practice,
        first_name="M",
        last_name="Portal",
        email=f"portal.{world.tenant.lower()}@example.org",
        role=P,
        patient_id=mine.id,
    )
    stage_password(world.practice.uow, portal.id, PASSWORD)
    world.practice.uow.commit()
    api.users[P] = portal
    callers = {role: Http(api.client, api.headers(role)) for role in (A, D, S, B, U, P)}
    _, credential = create_client(uow=world.practice.uow, name="Reader", scopes=["patient:read"])
    token = api.client.post(f"{PREFIX}/sessions/client", json={"credential": credential})
    callers[C] = Http(api.client, {"Authorization": f"Bearer {token.json()['access_token']}"})
    contexts = {
        "own": Ctx(world, mine, world.practice, world.doctor.id),
        "other": Ctx(world, stranger, world.practice, colleague.id),
        "foreign": Ctx(world, foreign, other.practice, other.doctor.id),
    }
    foreign_before = other.practice.uow[Patient].require(foreign.id).version
    denied: dict[str, str] = {}
    checked = 0

    def judge(response: httpx.Response, h: Http, allowed: bool, what: str, role: Role) -> None:
        status = response.status_code
        if allowed:
            assert 200 <= status < 300, f"{what}: {response.text}"
            return
        assert status in (403, 404), f"{what}: {status} {response.text}"
        assert response.headers["content-type"] == "application/problem+json"
        if status == 404:  # an id the caller may not know exists: as an unknown one
            assert "foreign" in what or (role is P and "other" in what), what
            assert response.json()["detail"].endswith("not found")
            return
        if "foreign" in what:  # refused for the role, before the id was looked at
            assert "role does not allow it" in response.json()["detail"], what
        denied[h.request_id] = what

    for name, op in PATIENT_HTTP.items():
        rule = RULES[name]
        for role, h in callers.items():
            for whose, ctx in contexts.items():
                allowed = _allowed_on_patient(name, role, whose)
                what = f"{name} / {role.value} / {whose} patient"
                response = op(h, ctx)
                judge(response, h, allowed, what, role)
                if allowed and isinstance(rule, Read):
                    checked += masked_as_the_table_says(
                        response, role, rule.resource, mine.id, what
                    )
    for name, clinic_op in CLINIC_HTTP.items():
        for role, h in callers.items():
            allowed = _allowed_in_clinic(name, role)
            response = clinic_op(h, world)
            judge(response, h, allowed, f"{name} / {role.value}", role)
            if allowed and name in LISTS:
                checked += masked_as_the_table_says(response, role, LISTS[name], mine.id, name)
    assert checked > 150  # masks were checked on many items, lists and searches included

    # every route that can return PHI was exercised
    missing_routes = [
        f"{m} {t}" for m, t in sorted(_templates(api) - NO_PHI) if not _exercised(t, m)
    ]
    assert not missing_routes, f"PHI routes missing from the matrix: {missing_routes}"

    # every denial is a DENIED event of the clinic's trail under its request id
    recorded = {
        e.request_id: e.action
        for e in audit_trail.by_level(
            practice=world.practice, level=Level.CRITICAL, day=world.practice.now().date()
        )
        if e.request_id in denied
    }
    missing = [what for rid, what in denied.items() if recorded.get(rid) is not Action.DENIED]
    assert not missing, missing
    assert len(denied) > 300
    # nothing reached the other clinic
    assert other.practice.uow[Patient].require(foreign.id).version == foreign_before
    theirs = Practice.open(other.store, other.ring, other.tenant)
    ours = {h_user.id for h_user in api.users.values()}
    for shard in range(theirs.audit.shards):
        assert not [i for i in theirs.audit.events(shard) if fields_of(i)["actor_id"] in ours]
