"""Care through HTTP on SQLite: appointment steps, notes, records, invoices, documents,
consents, time blocks and a patient's history, with If-Match on every state change."""

from __future__ import annotations

from typing import Any

from carevault.api.app import PREFIX
from carevault.domain.clinic import Role
from tests.api.conftest import Api
from tests.api.test_http import _problem
from tests.domain.world import HALF_HOUR, local
from tests.outbox import invitation_code


def _step(api: Api, path: str, etag: str, role: Role, body: dict[str, Any] | None = None) -> Any:
    headers = {**api.headers(role), "If-Match": etag}
    return api.client.post(f"{PREFIX}{path}", json=body or {}, headers=headers)


def test_a_visit_from_booking_to_payment(sqlite_api: Api) -> None:
    api, c, world = sqlite_api, sqlite_api.client, sqlite_api.world
    staff, doctor = api.headers(Role.STAFF), api.headers(Role.DOCTOR)
    pid = world.patient().id
    start = local(2027, 3, 3, 9)
    appt = c.post(
        f"{PREFIX}/appointments",
        json={
            "patient_id": pid,
            "provider_id": world.doctor.id,
            "start": start.isoformat(),
            "end": (start + HALF_HOUR).isoformat(),
        },
        headers=staff,
    )
    aid, etag = appt.json()["id"], appt.headers["etag"]
    _problem(c.post(f"{PREFIX}/appointments/{aid}/confirm", json={}, headers=staff), 428)
    _problem(_step(api, f"/appointments/{aid}/cancel", etag, Role.STAFF), 422)  # no reason
    extra = _step(api, f"/appointments/{aid}/confirm", etag, Role.STAFF, {"reason": "x"})
    assert _problem(extra, 422)["field"] == "appointment.confirm.reason"
    for step in ("confirm", "check-in", "complete"):
        moved = _step(api, f"/appointments/{aid}/{step}", etag, Role.STAFF)
        assert moved.status_code == 200, moved.text
        etag = moved.headers["etag"]
    assert moved.json()["status"] == "COMPLETED"
    _problem(_step(api, f"/appointments/{aid}/confirm", etag, Role.STAFF), 409)  # transition

    note = c.post(
        f"{PREFIX}/notes",
        json={"patient_id": pid, "provider_id": world.doctor.id, "assessment": "Migraine"},
        headers=doctor,
    )
    assert note.status_code == 201, note.text
    nid = note.json()["id"]
    _problem(_step(api, f"/notes/{nid}/signature", '"9"', Role.DOCTOR), 412)
    signed = _step(api, f"/notes/{nid}/signature", note.headers["etag"], Role.DOCTOR)
    assert signed.json()["status"] == "SIGNED"
    amended = c.post(
        f"{PREFIX}/notes/{nid}/amendments", json={"plan": "Follow up in 2 weeks"}, headers=doctor
    )
    assert amended.status_code == 201, amended.text
    assert amended.json()["amends"] == nid
    _problem(
        c.post(
            f"{PREFIX}/notes",
            json={"patient_id": pid, "provider_id": world.doctor.id},
            headers=staff,
        ),
        403,
    )

    record = c.post(
        f"{PREFIX}/records",
        json={"patient_id": pid, "provider_id": world.doctor.id, "visit_date": start.isoformat()},
        headers=doctor,
    )
    assert record.status_code == 201, record.text

    billing = api.headers(Role.BILLING)
    invoice = c.post(
        f"{PREFIX}/invoices",
        json={
            "patient_id": pid,
            "line_items": [{"description": "Consultation", "quantity": 1, "unit_price": "150.00"}],
        },
        headers=billing,
    )
    assert invoice.status_code == 201, invoice.text
    iid = invoice.json()["id"]
    issued = _step(api, f"/invoices/{iid}/issue", invoice.headers["etag"], Role.BILLING)
    assert issued.json()["status"] == "ISSUED", issued.text
    paid = _step(
        api,
        f"/invoices/{iid}/payments",
        issued.headers["etag"],
        Role.BILLING,
        {"amount": "150.00", "method": "CARD"},
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "PAID"
    listed = c.get(f"{PREFIX}/invoices", params={"status": "PAID"}, headers=billing).json()
    assert [i["id"] for i in listed["items"]] == [iid]

    history = c.get(f"{PREFIX}/patients/{pid}/history/note", headers=doctor).json()["items"]
    assert {n["id"] for n in history} == {nid, amended.json()["id"]}
    _problem(c.get(f"{PREFIX}/patients/{pid}/history/note", headers=staff), 403)


def test_documents_consents_and_blocks(sqlite_api: Api) -> None:
    api, c, world = sqlite_api, sqlite_api.client, sqlite_api.world
    doctor, staff = api.headers(Role.DOCTOR), api.headers(Role.STAFF)
    pid = world.patient(primary_provider_id=world.doctor.id).id
    data = b"%PDF-1.4 lab results " * 5000
    sent = c.post(
        f"{PREFIX}/documents",
        data={"patient_id": pid, "title": "Lab results", "doc_type": "LAB_REPORT"},
        files={"file": ("labs.pdf", data, "application/pdf")},
        headers=doctor,
    )
    assert sent.status_code == 201, sent.text
    got = c.get(f"{PREFIX}/documents/{sent.json()['id']}/content", headers=doctor)
    assert got.content == data
    assert got.headers["content-type"] == "application/pdf"
    _problem(c.get(f"{PREFIX}/documents/{sent.json()['id']}/content", headers=staff), 403)
    assert data not in world.blobs.get(sent.json()["blob_key"])  # sealed at rest

    consent = c.post(
        f"{PREFIX}/consents",
        json={"patient_id": pid, "kind": "HIPAA", "granted_at": "2027-01-05T10:00:00Z"},
        headers=staff,
    )
    assert consent.status_code == 201, consent.text

    admin = api.headers(Role.ADMIN)
    block = c.post(
        f"{PREFIX}/time-blocks",
        json={
            "provider_id": world.doctor.id,
            "date": "2027-03-04",
            "start_time": "12:00",
            "end_time": "13:00",
            "reason": "Lunch",
        },
        headers=admin,
    )
    assert block.status_code == 201, block.text
    free = c.get(
        f"{PREFIX}/providers/{world.doctor.id}/availability",
        params={"day": "2027-03-04"},
        headers=staff,
    ).json()["items"]
    assert free and not any(s["start"].startswith("2027-03-04T17:") for s in free)  # 12:00 EST
    gone = c.delete(
        f"{PREFIX}/time-blocks/{block.json()['id']}",
        headers={**admin, "If-Match": block.headers["etag"]},
    )
    assert gone.status_code == 204


def test_listings_and_invitations(sqlite_api: Api) -> None:
    api, c, world = sqlite_api, sqlite_api.client, sqlite_api.world
    staff, doctor = api.headers(Role.STAFF), api.headers(Role.DOCTOR)
    pid = world.patient(primary_provider_id=world.doctor.id).id
    active = c.get(f"{PREFIX}/patients", params={"status": "ACTIVE"}, headers=staff).json()
    assert pid in [p["id"] for p in active["items"]]
    _problem(c.get(f"{PREFIX}/patients", params={"status": "ASLEEP"}, headers=staff), 422)
    note = c.post(
        f"{PREFIX}/notes",
        json={
            "patient_id": pid,
            "provider_id": world.doctor.id,
            "assessment": "Migraine",
            "diagnosis_codes": ["G43.909"],
        },
        headers=doctor,
    )
    assert note.status_code == 201, note.text
    found = c.post(f"{PREFIX}/notes/search", json={"code": "G43.909"}, headers=doctor).json()
    assert [n["id"] for n in found["items"]] == [note.json()["id"]]
    record = c.post(
        f"{PREFIX}/records",
        json={
            "patient_id": pid,
            "provider_id": world.doctor.id,
            "visit_date": "2027-03-03T14:00:00Z",
            "record_type": "LAB_RESULT",
        },
        headers=doctor,
    )
    assert record.status_code == 201, record.text
    labs = c.get(f"{PREFIX}/records", params={"record_type": "LAB_RESULT"}, headers=doctor)
    assert [r["id"] for r in labs.json()["items"]] == [record.json()["id"]]
    invited = c.post(f"{PREFIX}/patients/{pid}/invitations", headers=staff)
    assert invited.status_code == 202, invited.text
    assert set(invited.json()) == {"invitation_id", "delivery", "expires_at"}
    assert len(invitation_code(world.practice, pid)) >= 20  # waiting for the patient's email
