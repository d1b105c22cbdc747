"""A patient made in error is soft-deleted (gone from reads, lists and searches) and restored;
a draft note is edited until it is signed."""

from __future__ import annotations

from carevault.api.app import PREFIX
from carevault.domain.clinic import Role
from carevault.services import notes
from tests.api.conftest import Api
from tests.api.test_http import PERSON, P


def _ids(listing: dict[str, list[dict[str, str]]]) -> list[str]:
    return [item["id"] for item in listing["items"]]


def test_a_soft_deleted_patient_is_gone_until_restored(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    admin, staff = api.headers(Role.ADMIN), api.headers(Role.STAFF)
    made = c.post(P, json=PERSON, headers=staff)
    pid, etag = made.json()["id"], made.headers["etag"]
    assert pid in _ids(c.get(P, params={"limit": 200}, headers=admin).json())  # every patient
    assert c.delete(f"{P}/{pid}", headers=admin).status_code == 428
    assert c.delete(f"{P}/{pid}", headers={**staff, "If-Match": etag}).status_code == 403
    assert c.delete(f"{P}/{pid}", headers={**admin, "If-Match": etag}).status_code == 204
    assert c.get(f"{P}/{pid}", headers=admin).status_code == 404
    assert pid not in _ids(c.get(P, params={"limit": 200}, headers=admin).json())
    found = c.post(f"{P}/search", json={"by": "mrn", "value": PERSON["mrn"]}, headers=admin)
    assert found.json()["items"] == []
    assert c.post(f"{P}/{pid}/restoration", headers=staff).status_code == 403
    back = c.post(f"{P}/{pid}/restoration", headers=admin)
    assert back.status_code == 200 and back.json()["id"] == pid
    assert c.get(f"{P}/{pid}", headers=staff).json()["last_name"] == PERSON["last_name"]
    assert c.post(f"{P}/{pid}/restoration", headers=admin).status_code == 404  # not deleted


def test_a_draft_note_is_edited_and_a_signed_one_is_locked(sqlite_api: Api) -> None:
    api, c, world = sqlite_api, sqlite_api.client, sqlite_api.world
    doctor = api.headers(Role.DOCTOR)
    person = world.patient(primary_provider_id=world.doctor.id)
    draft = c.post(
        f"{PREFIX}/notes",
        json={"patient_id": person.id, "provider_id": world.doctor.id, "subjective": "Headache"},
        headers=doctor,
    )
    assert draft.status_code == 201, draft.text
    url = f"{PREFIX}/notes/{draft.json()['id']}"
    edit = {**doctor, "If-Match": draft.headers["etag"]}
    edited = c.patch(url, json={"assessment": "Tension headache"}, headers=edit)
    assert edited.status_code == 200, edited.text
    assert edited.json()["assessment"] == "Tension headache"
    moved = c.patch(url, json={"patient_id": world.patient().id}, headers=edit)
    assert moved.status_code == 422  # a note stays about its patient
    signed = notes.sign(practice=world.practice, note_id=draft.json()["id"], version=2)
    locked = c.patch(
        url, json={"plan": "Rest"}, headers={**doctor, "If-Match": f'"{signed.version}"'}
    )
    assert locked.status_code == 409 and locked.json()["field"] == "note.status"
