"""Instants without an offset are refused, naming the field, never a 500."""

from __future__ import annotations

from carevault.api.app import PREFIX
from carevault.domain.clinic import Role
from tests.api.conftest import Api


def test_a_timeline_range_without_an_offset_is_refused(sqlite_api: Api) -> None:
    api = sqlite_api
    url = f"{PREFIX}/providers/{api.world.doctor.id}/timeline"
    headers = api.headers(Role.STAFF)
    for start, end, field in (
        ("2027-03-01", "2027-03-02", "query.start"),
        ("2027-03-01T00:00:00Z", "2027-03-02T00:00:00", "query.end"),
    ):
        sent = api.client.get(url, params={"start": start, "end": end}, headers=headers)
        assert sent.status_code == 422, sent.text
        assert sent.json()["field"] == field
    fine = {"start": "2027-03-01T00:00:00Z", "end": "2027-03-02T00:00:00+00:00"}
    assert api.client.get(url, params=fine, headers=headers).status_code == 200
