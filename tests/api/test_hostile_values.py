"""Each class of value that once answered 500 is refused with a 422 or 412 naming the field.

Wrong JSON types for ids, ETags that are not versions, dates at the calendar's ends or with
no offset, and text no UTF-8 can hold (lone surrogates) are caught before a service runs;
nothing is written.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson

from carevault.api.app import PREFIX
from carevault.domain.clinic import Role
from carevault.domain.patient import Patient
from carevault.domain.scheduling import Appointment, AppointmentStatus
from carevault.services import scheduling
from tests.api.conftest import Api
from tests.domain.world import local

CREATES = (
    "/notes",
    "/appointments",
    "/invoices",
    "/consents",
    "/records",
    "/insurance-verifications",
    "/treatment-records",
)
NOT_IDS: tuple[Any, ...] = (1, 0, True, False, 3.5, [], {}, ["01JCW3Q4ZJ8X2M5N7P9R1T3V5X"])
ETAGS = ('"ä"'.encode(), b'"' + b"9" * 5000 + b'"', "\u00e9".encode("latin-1"), b'"\xc2\xb2"')
EDGE_INSTANTS = (
    ("9999-12-31T22:00:00Z", "9999-12-31T22:30:00Z"),
    ("0001-01-01T05:00:00+05:00", "0001-01-01T05:30:00+05:00"),
    ("1899-12-31T10:00:00Z", "1899-12-31T10:30:00Z"),
    ("2200-01-01T10:00:00Z", "2200-01-01T10:30:00Z"),
)
SURROGATES = ("\ud800", "a\udfffb", "\udc80\ud800")


def _json(value: dict[str, Any]) -> bytes:
    """JSON with ASCII escapes, as a client may send a lone surrogate (``\\ud800``)."""
    import json

    return json.dumps(value).encode()


def _book(api: Api, patient: Patient) -> Appointment:
    start = local(2031, 3, 5, 9)
    return scheduling.book(
        practice=api.world.practice,
        patient_id=patient.id,
        provider_id=api.world.doctor.id,
        start=start,
        end=start + timedelta(minutes=30),
    )


def _patients(api: Api) -> int:
    return sum(1 for _ in api.world.practice.uow[Patient].query_all("gsi1", "PATIENT"))


def _booked(api: Api) -> int:
    """The doctor's scheduled appointments (every booking starts scheduled)."""
    found = scheduling.by_status(
        practice=api.world.practice,
        provider_id=api.world.doctor.id,
        status=AppointmentStatus.SCHEDULED,
    )
    return len(found.items)


def _refused(sent: Any, status: int = 422) -> dict[str, Any]:
    assert sent.status_code == status, (sent.request.url.path, sent.text)
    assert sent.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = sent.json()
    return body


def test_ids_of_the_wrong_json_type_are_422_naming_the_field(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    for role in (Role.ADMIN, Role.DOCTOR):
        headers = api.headers(role)
        for route in CREATES:
            for value in NOT_IDS:
                sent = c.post(f"{PREFIX}{route}", json={"patient_id": value}, headers=headers)
                assert sent.status_code in (403, 422), (route, value, sent.text)
                if sent.status_code == 422:
                    assert _refused(sent)["field"].endswith("patient_id"), (route, value)
    assert _booked(api) == 0


def test_etags_that_are_not_versions_are_412(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    headers = api.headers(Role.ADMIN)
    person = api.world.patient()
    booked = _book(api, person)
    targets = (
        ("PATCH", f"/patients/{person.id}", {"json": {"preferred_name": "Lee"}}),
        ("POST", f"/appointments/{booked.id}/confirm", {"json": {}}),
        ("DELETE", "/time-blocks/01JCW3Q4ZJ8X2M5N7P9R1T3V5X", {}),
    )
    for method, path, extra in targets:
        for tag in ETAGS:
            sent = c.request(
                method, f"{PREFIX}{path}", headers={**headers, "If-Match": tag}, **extra
            )
            assert _refused(sent, 412)["detail"].startswith("If-Match:"), (path, tag)
    assert c.get(f"{PREFIX}/patients/{person.id}", headers=headers).headers["etag"] == '"1"'


def test_dates_at_the_calendars_ends_are_422_with_the_supported_range(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    headers = api.headers(Role.ADMIN)
    person, doctor = api.world.patient(), api.world.doctor.id
    for start, end in EDGE_INSTANTS:
        booking = {"patient_id": person.id, "provider_id": doctor, "start": start, "end": end}
        problem = _refused(c.post(f"{PREFIX}/appointments", json=booking, headers=headers))
        assert problem["field"] == "appointment.start"
        assert "1900-01-01" in problem["rule"] and "2199-12-31" in problem["rule"]
        timeline = c.get(
            f"{PREFIX}/providers/{doctor}/timeline",
            params={"start": start, "end": end},
            headers=headers,
        )
        assert _refused(timeline)["field"] == "query.start"
    for day in ("9999-12-31", "0001-01-01", "1899-12-31", "2200-01-01"):
        for path in (f"/providers/{doctor}/availability", "/schedule", "/audit/events"):
            sent = c.get(f"{PREFIX}{path}", params={"day": day}, headers=headers)
            assert _refused(sent)["field"] == "query.day", (path, day)
    naive = {"patient_id": person.id, "provider_id": doctor, "start": "2031-01-07T10:00"}
    naive["end"] = "2031-01-07T10:30"
    assert _refused(c.post(f"{PREFIX}/appointments", json=naive, headers=headers))["rule"] == (
        "must be an ISO 8601 instant with an offset"
    )
    assert _booked(api) == 0


def test_text_no_utf8_can_hold_is_422_on_the_body(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    admin, doctor = api.headers(Role.ADMIN), api.headers(Role.DOCTOR)
    json_type = {"content-type": "application/json"}
    booked = _book(api, api.world.patient())
    before = _patients(api)
    for value in SURROGATES:
        sends = [
            ("/patients/search", {"by": by, "value": value}, admin)
            for by in ("name", "mrn", "email", "phone")
        ]
        sends += [
            ("/notes/search", {"code": value}, doctor),
            ("/patients", {"first_name": value, "last_name": "Lopez"}, admin),
            (f"/appointments/{booked.id}/cancel", {"reason": value}, admin),
        ]
        for path, body, headers in sends:
            sent = c.post(
                f"{PREFIX}{path}",
                content=_json(body),
                headers={**headers, **json_type, "If-Match": '"1"'},
            )
            problem = _refused(sent)
            assert problem["field"] == "body" and "surrogate" in problem["rule"], path
    assert _patients(api) == before
    assert orjson.loads(c.get(f"{PREFIX}/health/live").content) == {"status": "ok"}


def test_every_invalid_field_of_a_query_is_reported_at_once(sqlite_api: Api) -> None:
    c, headers = sqlite_api.client, sqlite_api.headers(Role.ADMIN)
    sent = c.get(f"{PREFIX}/patients", params={"status": "NOPE", "limit": "0"}, headers=headers)
    fields = {e["field"] for e in _refused(sent)["errors"]}
    assert fields == {"query.status", "query.limit"}
