"""Conventions a clinic's integrator relies on: names as the API gave them, steps without a
body, phones that are phones, no bookings in the past by mistake, billing audited as such."""

from __future__ import annotations

import uuid
from typing import Any

import pyotp

from carevault.api.app import PREFIX
from carevault.domain.clinic import Role
from carevault.services import audit_trail
from tests.api.conftest import PASSWORD, Api
from tests.api.test_http import PERSON, P


def _problem(sent: Any, status: int) -> dict[str, Any]:
    assert sent.status_code == status, sent.text
    body: dict[str, Any] = sent.json()
    return body


def test_the_mfa_step_takes_the_ticket_by_the_name_sign_in_gave_it(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    admin = api.user(Role.ADMIN)
    secret = api.rt.auth.enroll_totp(api.world.tenant, admin.id)
    step = c.post(f"{PREFIX}/sessions", json={"email": admin.email, "password": PASSWORD})
    assert step.status_code == 202 and set(step.json()) == {"mfa_ticket"}
    done = c.post(
        f"{PREFIX}/sessions/mfa",
        json={"mfa_ticket": step.json()["mfa_ticket"], "code": pyotp.TOTP(secret).now()},
    )
    assert done.status_code == 201, done.text
    schema = c.get(f"{PREFIX}/openapi.json").json()["components"]["schemas"]["Mfa"]
    assert "mfa_ticket" in schema["properties"]


def test_steps_that_take_no_fields_need_no_body(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    billing, staff = api.headers(Role.BILLING), api.headers(Role.STAFF)
    person = api.world.patient()
    draft = c.post(
        f"{PREFIX}/invoices",
        json={
            "patient_id": person.id,
            "line_items": [{"description": "Visit", "unit_price": "0.01"}],
        },
        headers=billing,
    )
    assert draft.status_code == 201, draft.text
    issued = c.post(
        f"{PREFIX}/invoices/{draft.json()['id']}/issue",
        headers={**billing, "If-Match": draft.headers["etag"]},
    )
    assert issued.status_code == 200 and issued.json()["status"] == "ISSUED", issued.text
    booking = {
        "patient_id": person.id,
        "provider_id": api.world.doctor.id,
        "start": "2031-03-04T15:00:00Z",
        "end": "2031-03-04T15:30:00Z",
    }
    booked = c.post(f"{PREFIX}/appointments", json=booking, headers=staff)
    assert booked.status_code == 201, booked.text
    confirmed = c.post(
        f"{PREFIX}/appointments/{booked.json()['id']}/confirm",
        headers={**staff, "If-Match": booked.headers["etag"]},
    )
    assert confirmed.status_code == 200, confirmed.text


def test_a_phone_must_be_a_phone(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    staff = api.headers(Role.STAFF)
    for bad in ("not a phone", "12", "+1 000", "555"):
        refused = _problem(c.post(P, json={**PERSON, "phone": bad}, headers=staff), 422)
        assert refused["field"] == "patient.phone", bad
    wordy = _problem(c.post(P, json={**PERSON, "phone": "call me"}, headers=staff), 422)
    assert "phone number" in wordy["rule"]
    made = c.post(P, json={**PERSON, "phone": "(415) 555-0132"}, headers=staff)
    assert made.status_code == 201, made.text
    change = {**staff, "If-Match": made.headers["etag"]}
    sent = c.patch(f"{P}/{made.json()['id']}", json={"phone": "call me"}, headers=change)
    assert _problem(sent, 422)["field"] == "patient.phone"


def test_a_booking_in_the_past_is_refused_unless_it_records_a_past_visit(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    staff = api.headers(Role.STAFF)
    person = api.world.patient()
    past = {
        "patient_id": person.id,
        "provider_id": api.world.doctor.id,
        "start": "2020-03-03T15:00:00Z",  # a Tuesday, within the doctor's hours
        "end": "2020-03-03T15:30:00Z",
    }
    refused = _problem(c.post(f"{PREFIX}/appointments", json=past, headers=staff), 422)
    assert refused["field"] == "appointment.start" and "past" in refused["rule"]
    wrong = c.post(f"{PREFIX}/appointments", json={**past, "past_visit": "yes"}, headers=staff)
    assert _problem(wrong, 422)["field"] == "appointment.past_visit"
    recorded = c.post(f"{PREFIX}/appointments", json={**past, "past_visit": True}, headers=staff)
    assert recorded.status_code == 201, recorded.text


def test_billing_is_audited_with_the_purpose_payment(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    request_id = str(uuid.uuid4())
    admin = {**api.headers(Role.ADMIN), "X-Request-ID": request_id}
    person = api.world.patient()
    made = c.post(
        f"{PREFIX}/invoices",
        json={
            "patient_id": person.id,
            "line_items": [{"description": "Visit", "unit_price": "0.01"}],
        },
        headers=admin,
    )
    assert made.status_code == 201, made.text
    read = c.get(f"{PREFIX}/invoices/{made.json()['id']}", headers=admin)
    assert read.status_code == 200
    day = api.world.practice.now().date()
    events = [
        e
        for e in audit_trail.on_day(practice=api.world.practice, day=day)
        if e.request_id == request_id
    ]
    assert {e.action.value for e in events} >= {"CREATE", "READ"}
    assert {e.purpose for e in events} == {"PAYMENT"}


def test_patients_are_found_by_name_and_date_of_birth(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    staff = api.headers(Role.STAFF)
    born_84 = c.post(P, json={**PERSON, "mrn": "DOB-1"}, headers=staff).json()["id"]
    born_90 = c.post(
        P, json={**PERSON, "mrn": "DOB-2", "date_of_birth": "1990-07-01"}, headers=staff
    ).json()["id"]
    search = f"{P}/search"
    both = c.post(search, json={"by": "last_name", "value": "Lopez"}, headers=staff).json()
    assert {x["id"] for x in both["items"]} == {born_84, born_90}
    one = c.post(
        search,
        json={"by": "last_name", "value": "Lopez", "date_of_birth": "1990-07-01"},
        headers=staff,
    ).json()
    assert [x["id"] for x in one["items"]] == [born_90]
    bad = c.post(
        search, json={"by": "last_name", "value": "Lopez", "date_of_birth": "July"}, headers=staff
    )
    assert _problem(bad, 422)["field"] == "search.date_of_birth"
    extra = c.post(search, json={"by": "last_name", "value": "Lopez", "ssn": "1"}, headers=staff)
    assert _problem(extra, 422)["field"] == "search.ssn"


def test_money_is_a_decimal_string_and_drafts_are_listed(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    billing = api.headers(Role.BILLING)
    person = api.world.patient()
    lines = [
        {"description": "Visit", "unit_price": "150.00"},
        {"description": "Lab", "quantity": 2, "unit_price": "12.5"},
    ]
    made = c.post(
        f"{PREFIX}/invoices",
        json={"patient_id": person.id, "line_items": lines, "tax": "1.05"},
        headers=billing,
    )
    assert made.status_code == 201, made.text
    # 150.00 + 2 x 12.50 + 1.05 tax, in words: a hundred and seventy-six dollars, five cents
    body = made.json()
    assert (body["subtotal"], body["tax"], body["total"]) == ("175.00", "1.05", "176.05")
    assert body["line_items"][1]["unit_price"] == "12.50"
    for wrong in (150, 150.0, "150.001", "-1.00", "1e3", "", "$150"):
        sent = c.post(
            f"{PREFIX}/invoices",
            json={
                "patient_id": person.id,
                "line_items": [{"description": "V", "unit_price": wrong}],
            },
            headers=billing,
        )
        assert sent.status_code == 422, (wrong, sent.text)
        assert sent.json()["field"] == "invoice.line_items.0.unit_price", sent.text
        assert "decimal string" in sent.json()["rule"]
    # a draft has no due date yet: it is listed by the day it was made
    drafts = c.get(f"{PREFIX}/invoices", params={"status": "DRAFT"}, headers=billing)
    assert drafts.status_code == 200
    assert made.json()["id"] in [i["id"] for i in drafts.json()["items"]]


def test_a_verification_outcome_is_recorded_once(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    staff = api.headers(Role.STAFF)
    person = api.world.patient()
    insurance = {"provider": "Aetna", "policy_number": "P1"}
    owned = c.post(
        f"{PREFIX}/insurance-verifications",
        json={"patient_id": person.id, "insurance": insurance, "status": "VERIFIED"},
        headers=staff,
    )
    assert owned.status_code == 422 and owned.json()["rule"] == "is set by the server"
    made = c.post(
        f"{PREFIX}/insurance-verifications",
        json={"patient_id": person.id, "insurance": insurance},
        headers=staff,
    )
    assert made.status_code == 201 and made.json()["status"] == "PENDING", made.text
    url = f"{PREFIX}/insurance-verifications/{made.json()['id']}/outcome"
    said = {"status": "VERIFIED", "result": {"coverage_active": True, "copay": 25}}
    wrong = c.post(url, json=said, headers={**staff, "If-Match": made.headers["etag"]})
    assert wrong.status_code == 422 and wrong.json()["field"].endswith("result.copay")
    said["result"]["copay"] = "25.00"  # type: ignore[index]
    done = c.post(url, json=said, headers={**staff, "If-Match": made.headers["etag"]})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "VERIFIED" and done.json()["result"]["copay"] == "25.00"
    assert done.json()["verified_at"] is not None
    again = c.post(url, json=said, headers={**staff, "If-Match": done.headers["etag"]})
    assert again.status_code == 409, again.text


def test_the_contract_names_every_schema_and_operation_plainly(sqlite_api: Api) -> None:
    document = sqlite_api.client.get(f"{PREFIX}/openapi.json").json()
    names = list(document["components"]["schemas"])
    # a name that leaks a module path (a__b__C) or a mode (-Input) means two models clash
    assert all(name.isalnum() for name in names), [n for n in names if not n.isalnum()]
    operations = [op for item in document["paths"].values() for op in item.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids)) and all(i.replace("_", "").isalnum() for i in ids)
    assert not [i for i in ids if "api_v1" in i]  # named for what they do, not their path
    for op in operations:  # every body is a named, typed schema: no bare "object"
        for content in op.get("requestBody", {}).get("content", {}).values():
            schema = content["schema"]
            assert "$ref" in schema or schema.get("anyOf"), (op["operationId"], schema)
        ok = [r for s, r in op["responses"].items() if s.startswith("2")]
        for response in ok:
            for content in response.get("content", {}).values():
                if content.get("schema"):
                    assert content["schema"].get("type") != "object" or content["schema"].get(
                        "properties"
                    ), op["operationId"]
    mfa = document["paths"][f"{PREFIX}/sessions"]["post"]["responses"]
    assert mfa["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/MfaTicket")
