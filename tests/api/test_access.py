"""Access through HTTP on SQLite: API clients and their tokens, the platform's clinic
directory and onboarding, a user's own clinic, break-glass, portal invitations,
self-registrations, and the audit export."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pyotp

from carevault.access.clients import create_client
from carevault.api.app import PREFIX
from carevault.domain.clinic import Role
from carevault.repo.records import PLATFORM
from carevault.repo.unit import UnitOfWork
from carevault.services import clinical, scheduling
from tests.api.conftest import PASSWORD, Api
from tests.api.test_http import _problem
from tests.domain.world import HALF_HOUR, local
from tests.outbox import invitation_code


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _client_token(api: Api, credential: str) -> str:
    sent = api.client.post(f"{PREFIX}/sessions/client", json={"credential": credential})
    assert sent.status_code == 201, sent.text
    assert sent.json()["expires_in"] == 900
    token: str = sent.json()["access_token"]
    return token


def test_api_clients_get_tokens_carry_only_their_scopes_and_stop_when_deactivated(
    sqlite_api: Api,
) -> None:
    api, c = sqlite_api, sqlite_api.client
    admin = api.headers(Role.ADMIN)
    pid = api.world.patient().id
    body = {"name": "Front desk kiosk", "scopes": ["patient:read"]}
    made = c.post(f"{PREFIX}/api-clients", json=body, headers=admin)
    assert made.status_code == 201, made.text
    credential, client_id = made.json()["credential"], made.json()["id"]
    assert "secret_hash" not in made.json() and made.headers["location"].endswith(client_id)
    listed = c.get(f"{PREFIX}/api-clients", headers=admin).json()["items"]
    assert [x["id"] for x in listed] == [client_id]
    assert "credential" not in listed[0] and "secret_hash" not in listed[0]
    # an administrator grants only what it holds itself: no clinical content
    grab = {"name": "Grab", "scopes": ["note:read"]}
    assert _problem(c.post(f"{PREFIX}/api-clients", json=grab, headers=admin), 422)["field"] == (
        "api_client.scopes[0]"
    )
    _problem(c.post(f"{PREFIX}/api-clients", json=body, headers=api.headers(Role.STAFF)), 403)

    token = _client_token(api, credential)
    read = c.get(f"{PREFIX}/patients/{pid}", headers=_bearer(token))
    assert read.status_code == 200 and read.json()["id"] == pid
    _problem(c.get(f"{PREFIX}/audit/verify", headers=_bearer(token)), 403)
    change = {**_bearer(token), "If-Match": read.headers["etag"]}
    _problem(
        c.patch(f"{PREFIX}/patients/{pid}", json={"phone": "+14155550100"}, headers=change), 403
    )
    wrong = credential[:-2] + ("AA" if not credential.endswith("AA") else "BB")
    _problem(c.post(f"{PREFIX}/sessions/client", json={"credential": wrong}), 401)

    _problem(c.delete(f"{PREFIX}/api-clients/{client_id}", headers=admin), 428)
    stopped = c.delete(f"{PREFIX}/api-clients/{client_id}", headers={**admin, "If-Match": '"1"'})
    assert stopped.status_code == 200 and stopped.json()["active"] is False
    _problem(c.get(f"{PREFIX}/patients/{pid}", headers=_bearer(token)), 401)  # at once
    _problem(c.post(f"{PREFIX}/sessions/client", json={"credential": credential}), 401)


def test_platform_clients_list_and_onboard_clinics_and_reach_nothing_else(
    sqlite_api: Api,
) -> None:
    api, c, world = sqlite_api, sqlite_api.client, sqlite_api.world
    world.ring.ensure_tenant(PLATFORM)
    uow = UnitOfWork(world.store, world.ring, PLATFORM, actor="test")
    _, credential = create_client(uow=uow, name="Ops", scopes=["clinic:search", "clinic:write"])
    _, lister = create_client(uow=uow, name="Report", scopes=["clinic:search"])
    ops = _bearer(_client_token(api, credential))

    before = c.get(f"{PREFIX}/clinics", headers=ops)
    assert before.status_code == 200 and world.tenant in [x["id"] for x in before.json()["items"]]
    onboarding: dict[str, Any] = {
        "clinic": {"name": "Harbor Family Practice", "time_zone": "America/Chicago"},
        "admin": {"first_name": "Ava", "last_name": "Lind", "email": "ava@harbor.example"},
        "password": "short",
    }
    assert _problem(c.post(f"{PREFIX}/clinics", json=onboarding, headers=ops), 422)["field"] == (
        "password"
    )
    taken = {**onboarding, "admin": {**onboarding["admin"], "email": api.user(Role.STAFF).email}}
    taken["password"] = PASSWORD
    _problem(c.post(f"{PREFIX}/clinics", json=taken, headers=ops), 409)
    after_bad = c.get(f"{PREFIX}/clinics", headers=ops).json()["items"]
    assert len(after_bad) == len(before.json()["items"])  # refused onboardings left nothing

    made = c.post(f"{PREFIX}/clinics", json={**onboarding, "password": PASSWORD}, headers=ops)
    assert made.status_code == 201, made.text
    clinic_id, secret = made.json()["clinic"]["id"], made.json()["admin_totp_secret"]
    # the new administrator signs in with password and TOTP, and reads their own clinic
    first = c.post(f"{PREFIX}/sessions", json={"email": "ava@harbor.example", "password": PASSWORD})
    assert first.status_code == 202
    tokens = c.post(
        f"{PREFIX}/sessions/mfa",
        json={"ticket": first.json()["mfa_ticket"], "code": pyotp.TOTP(secret).now()},
    )
    assert tokens.status_code == 201, tokens.text
    theirs = _bearer(tokens.json()["access_token"])
    own = c.get(f"{PREFIX}/clinics/{clinic_id}", headers=theirs)
    assert own.status_code == 200 and own.json()["name"] == "Harbor Family Practice"
    _problem(c.get(f"{PREFIX}/clinics/{world.tenant}", headers=theirs), 404)  # not theirs

    report = _bearer(_client_token(api, lister))
    _problem(c.post(f"{PREFIX}/clinics", json=onboarding, headers=report), 403)
    _problem(c.get(f"{PREFIX}/clinics", headers=api.headers(Role.ADMIN)), 403)
    _problem(c.get(f"{PREFIX}/patients?status=active", headers=ops), 403)


def test_break_glass_opens_a_doctors_access_for_a_while(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    pid = api.world.patient().id  # not in the doctor's care
    doctor = api.headers(Role.DOCTOR)
    index = c.get(f"{PREFIX}/patients/{pid}", headers=doctor)  # outside care: the index entry
    assert index.status_code == 200 and "ssn" not in index.json()
    assert {"ssn", "phone", "allergies"} <= set(index.json()["masked"])
    _problem(c.get(f"{PREFIX}/patients/{pid}/history/note", headers=doctor), 403)
    short = c.post(f"{PREFIX}/break-glass", json={"reason": "urgent"}, headers=doctor)
    assert _problem(short, 422)["field"] == "break_glass.reason"
    reason = {"reason": "Unconscious patient in the emergency room", "minutes": 30}
    _problem(c.post(f"{PREFIX}/break-glass", json=reason, headers=api.headers(Role.STAFF)), 403)
    opened = c.post(f"{PREFIX}/break-glass", json=reason, headers=doctor)
    assert opened.status_code == 201, opened.text
    full = c.get(f"{PREFIX}/patients/{pid}", headers=doctor)
    assert full.status_code == 200 and "masked" not in full.json() and "ssn" in full.json()
    admin = api.headers(Role.ADMIN)
    today = api.world.practice.now().date().isoformat()
    events = c.get(f"{PREFIX}/audit/events", params={"day": today}, headers=admin).json()
    assert "BREAK_GLASS" in [e["action"] for e in events["items"]]


def test_a_patient_accepts_an_invitation_and_signs_in(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    patient = api.world.patient()
    invited = c.post(f"{PREFIX}/patients/{patient.id}/invitations", headers=api.headers(Role.STAFF))
    assert invited.status_code == 202, invited.text
    assert "token" not in invited.json()  # the caller would sign in as the patient with it
    token = invitation_code(api.world.practice, patient.id)
    weak = c.post(f"{PREFIX}/invitations/acceptance", json={"token": token, "password": "weak"})
    assert _problem(weak, 422)["field"] == "password"
    accept = {"token": token, "password": PASSWORD}
    accepted = c.post(f"{PREFIX}/invitations/acceptance", json=accept)
    assert accepted.status_code == 201, accepted.text  # the weak attempt did not spend it
    _problem(c.post(f"{PREFIX}/invitations/acceptance", json=accept), 422)  # spent now
    signed = c.post(f"{PREFIX}/sessions", json={"email": patient.email, "password": PASSWORD})
    assert signed.status_code == 201, signed.text
    mine = _bearer(signed.json()["access_token"])
    assert c.get(f"{PREFIX}/patients/{patient.id}", headers=mine).status_code == 200
    other = api.world.patient().id
    _problem(c.get(f"{PREFIX}/patients/{other}", headers=mine), 404)  # not theirs: not found


def test_registrations_are_listed_and_converted_once(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    staff = api.headers(Role.STAFF)
    body = {
        "first_name": "Mira",
        "last_name": "Sato",
        "email": "mira.sato@example.org",
        "date_of_birth": "1990-02-03",
    }
    _problem(
        c.post(f"{PREFIX}/registrations", json={**body, "status": "CONVERTED"}, headers=staff), 422
    )
    made = c.post(f"{PREFIX}/registrations", json=body, headers=staff)
    assert made.status_code == 201, made.text
    rid, etag = made.json()["id"], made.headers["etag"]
    pending = c.get(f"{PREFIX}/registrations", headers=staff).json()["items"]
    assert rid in [r["id"] for r in pending]
    path = f"{PREFIX}/registrations/{rid}/conversion"
    _problem(c.post(path, json={"mrn": "MRN-R1"}, headers=staff), 428)
    _problem(c.post(path, json={"mrn": "MRN-R1"}, headers={**staff, "If-Match": '"7"'}), 412)
    converted = c.post(
        path, json={"mrn": "MRN-R1", "gender": "FEMALE"}, headers={**staff, "If-Match": etag}
    )
    assert converted.status_code == 201, converted.text
    patient = c.get(converted.headers["location"], headers=staff)
    assert patient.status_code == 200 and patient.json()["last_name"] == "Sato"
    again = c.post(path, json={"mrn": "MRN-R2"}, headers={**staff, "If-Match": '"2"'})
    _problem(again, 409)
    converted_list = c.get(f"{PREFIX}/registrations?status=CONVERTED", headers=staff).json()
    assert [r["id"] for r in converted_list["items"]] == [rid]
    _problem(c.get(f"{PREFIX}/registrations", headers=api.headers(Role.BILLING)), 403)


def test_appointments_by_status_documents_by_type_and_the_audit_export(sqlite_api: Api) -> None:
    api, c, world = sqlite_api, sqlite_api.client, sqlite_api.world
    pid = world.patient().id
    start = local(2027, 3, 3, 9)
    booked = [
        scheduling.book(
            practice=world.practice,
            patient_id=pid,
            provider_id=world.doctor.id,
            start=start + timedelta(hours=i),
            end=start + timedelta(hours=i) + HALF_HOUR,
        )
        for i in range(3)
    ]
    scheduling.confirm(
        practice=world.practice, appointment_id=booked[1].id, version=booked[1].version
    )
    staff = api.headers(Role.STAFF)
    path = f"{PREFIX}/providers/{world.doctor.id}/appointments"
    first = c.get(path, params={"status": "SCHEDULED", "limit": 1}, headers=staff).json()
    second = c.get(
        path, params={"status": "SCHEDULED", "limit": 1, "cursor": first["next"]}, headers=staff
    ).json()
    assert [x["id"] for x in first["items"] + second["items"]] == [booked[0].id, booked[2].id]
    confirmed = c.get(path, params={"status": "CONFIRMED"}, headers=staff).json()["items"]
    assert [x["id"] for x in confirmed] == [booked[1].id]
    _problem(c.get(path, params={"status": "lost"}, headers=staff), 422)

    doc = clinical.upload(
        practice=world.practice,
        data=b"12-lead",
        patient_id=pid,
        title="ECG",
        file_name="ecg.pdf",
        mime_type="application/pdf",
        doc_type="ECG_REPORT",
    )
    doctor = api.headers(Role.DOCTOR)
    ecgs = c.get(f"{PREFIX}/documents", params={"doc_type": "ECG_REPORT"}, headers=doctor)
    assert [x["id"] for x in ecgs.json()["items"]] == [doc.id]
    labs = c.get(f"{PREFIX}/documents", params={"doc_type": "LAB_REPORT"}, headers=doctor)
    assert labs.json()["items"] == []
    _problem(c.get(f"{PREFIX}/documents", params={"doc_type": "ECG_REPORT"}, headers=staff), 403)

    auditor = api.headers(Role.AUDITOR)
    _problem(c.get(f"{PREFIX}/audit/export", headers=staff), 403)
    exported = c.get(f"{PREFIX}/audit/export", headers=auditor)
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/x-ndjson"
    rows = [orjson.loads(line) for line in exported.content.splitlines()]
    assert {"EXPORT", "READ", "DENIED"} <= {r["action"] for r in rows}
    assert all(len(r["hash"]) == 64 and "last_name" not in r for r in rows)
    assert api.world.patient().last_name.encode() not in exported.content


def test_records_by_code_and_medication_users_by_id_and_critical_events(sqlite_api: Api) -> None:
    api, c, world = sqlite_api, sqlite_api.client, sqlite_api.world
    pid = world.patient().id
    scheduling.book(
        practice=world.practice,
        patient_id=pid,
        provider_id=world.doctor.id,
        start=local(2027, 3, 3, 9),
        end=local(2027, 3, 3, 9) + HALF_HOUR,
    )  # the doctor's patient from here on
    doctor = api.headers(Role.DOCTOR)
    record = {
        "patient_id": pid,
        "provider_id": world.doctor.id,
        "visit_date": "2027-03-03T17:00:00Z",
        "diagnoses": [{"code": "E11.9"}],
        "prescriptions": [{"medication": "Metformin", "dosage": "500 mg", "frequency": "bid"}],
    }
    made = c.post(f"{PREFIX}/records", json=record, headers=doctor)
    assert made.status_code == 201, made.text
    search = f"{PREFIX}/records/search"
    for by, value in (("medication", "metformin"), ("code", "E11.9")):
        found = c.post(search, json={"by": by, "value": value}, headers=doctor).json()["items"]
        assert [r["id"] for r in found] == [made.json()["id"]], by
    none = c.post(search, json={"by": "medication", "value": "Insulin"}, headers=doctor)
    assert none.json()["items"] == []
    bad = c.post(search, json={"by": "name", "value": "x"}, headers=doctor)
    assert _problem(bad, 422)["field"] == "search.by"

    staff = api.headers(Role.STAFF)
    seen = c.get(f"{PREFIX}/users/{world.doctor.id}", headers=staff)
    assert seen.status_code == 200 and seen.json()["role"] == "DOCTOR"
    _problem(c.get(f"{PREFIX}/users/{world.doctor.id}", headers=api.headers(Role.BILLING)), 403)
    _problem(c.get(f"{PREFIX}/users/01JCW3Q4ZJ8X2M5N7P9R1T3V5X", headers=staff), 404)

    auditor = api.headers(Role.AUDITOR)
    today = world.practice.now().date().isoformat()
    every = c.get(f"{PREFIX}/audit/events", params={"day": today}, headers=auditor).json()
    critical = c.get(
        f"{PREFIX}/audit/events", params={"day": today, "level": "CRITICAL"}, headers=auditor
    ).json()
    assert {e["level"] for e in critical["items"]} == {"CRITICAL"}  # the denials above
    assert {e["id"] for e in critical["items"]} < {e["id"] for e in every["items"]}
