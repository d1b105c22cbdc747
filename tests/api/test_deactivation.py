"""A deactivated user's access and refresh tokens stop working at once."""

from __future__ import annotations

from carevault.api.app import PREFIX
from carevault.domain.clinic import Role
from tests.api.conftest import PASSWORD, Api


def test_deactivating_a_user_ends_every_session_at_once(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    person = api.world.patient()
    staff = api.user(Role.STAFF)
    sessions = [api.tokens(Role.STAFF) for _ in range(2)]  # two devices
    bearer = [{"Authorization": f"Bearer {s['access_token']}"} for s in sessions]
    assert all(
        c.get(f"{PREFIX}/patients/{person.id}", headers=b).status_code == 200 for b in bearer
    )
    admin = api.headers(Role.ADMIN)
    url = f"{PREFIX}/users/{staff.id}/deactivation"
    assert c.post(url, headers={**bearer[0], "If-Match": '"1"'}).status_code == 403  # not staff's
    assert c.post(url, headers=admin).status_code == 428  # If-Match is required
    etag = c.get(f"{PREFIX}/users/{staff.id}", headers=admin).headers["etag"]
    done = c.post(url, headers={**admin, "If-Match": etag})
    assert done.status_code == 200, done.text
    assert done.json()["active"] is False
    for b in bearer:
        assert c.get(f"{PREFIX}/patients/{person.id}", headers=b).status_code == 401
    for s in sessions:
        again = c.post(f"{PREFIX}/sessions/refresh", json={"refresh_token": s["refresh_token"]})
        assert again.status_code == 401
    login = c.post(f"{PREFIX}/sessions", json={"email": staff.email, "password": PASSWORD})
    assert login.status_code == 401
    me = api.user(Role.ADMIN)
    mine = c.get(f"{PREFIX}/users/{me.id}", headers=admin).headers["etag"]
    own = c.post(f"{PREFIX}/users/{me.id}/deactivation", headers={**admin, "If-Match": mine})
    assert own.status_code == 403  # an administrator cannot lock themselves out
