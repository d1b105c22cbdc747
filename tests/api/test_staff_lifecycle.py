"""A clinic user's whole life through HTTP: invited, first password, own password change,
lockout and unlock, role change, reset, a TOTP enrolment for a role that needs it, and
deactivation, each refused to who may not do it and each in the audit trail."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from carevault.api.app import PREFIX
from carevault.api.runtime import Limits
from carevault.domain.audit import Level
from carevault.domain.clinic import Role
from carevault.services import audit_trail, outbox
from tests.api.conftest import Api, make_api
from tests.domain.world import make_world
from tests.engines import new_store

FIRST, SECOND, THIRD = "harbor-Violet-83-compass", "quiet-Maple-17-lantern", "amber-Fjord-55-signal"


@pytest.fixture
def api(tmp_path: Path) -> Api:
    world = make_world(lambda: new_store("sqlite", tmp_path, None), tmp_path)
    return make_api(world, Limits(per_minute=10**6, login_per_minute=10**6))


def _code(api: Api, email: str) -> str:
    """The code the clinic's outbox holds for ``email`` (what the user's mailbox gets)."""
    waiting = outbox.pending_staff(practice=api.world.practice).items
    mine = [m for m in waiting if m.to == email]
    assert len(mine) == 1, [m.to for m in waiting]
    outbox.mark_sent(practice=api.world.practice, message=mine[0])
    found = re.search(r"Your code: (\S+)", mine[0].body)
    assert found is not None
    return found.group(1)


def _sign_in(c: TestClient, email: str, password: str) -> Any:
    return c.post(f"{PREFIX}/sessions", json={"email": email, "password": password})


def _bearer(sent: Any) -> dict[str, str]:
    assert sent.status_code == 201, sent.text
    return {"Authorization": f"Bearer {sent.json()['access_token']}"}


def _critical(api: Api) -> list[tuple[str, str | None]]:
    day = api.world.practice.now().date()
    events = audit_trail.by_level(practice=api.world.practice, level=Level.CRITICAL, day=day)
    return [(e.resource_type, e.resource_id) for e in events]


def test_a_staff_member_from_invitation_to_deactivation(api: Api) -> None:
    c, admin = api.client, api.headers(Role.ADMIN)
    email = "nia.okafor@example.org"
    person = {"first_name": "Nia", "last_name": "Okafor", "email": email, "role": "STAFF"}
    made = c.post(f"{PREFIX}/users", json=person, headers=admin)
    assert made.status_code == 201, made.text
    uid = made.json()["id"]
    assert _sign_in(c, email, FIRST).status_code == 401  # no password yet

    # only an administrator invites; the code never reaches the caller
    staff = api.headers(Role.STAFF)
    assert c.post(f"{PREFIX}/users/{uid}/invitations", headers=staff).status_code == 403
    invited = c.post(f"{PREFIX}/users/{uid}/invitations", headers=admin)
    assert invited.status_code == 202 and set(invited.json()) == {"user_id", "expires_at"}
    code = _code(api, email)
    assert code not in invited.text
    weak = c.post(f"{PREFIX}/invitations/acceptance", json={"token": code, "password": "short"})
    assert weak.status_code == 422 and weak.json()["field"] == "password"
    accepted = c.post(f"{PREFIX}/invitations/acceptance", json={"token": code, "password": FIRST})
    assert accepted.status_code == 201 and accepted.json() == {"user_id": uid}  # no TOTP: STAFF
    again = c.post(f"{PREFIX}/invitations/acceptance", json={"token": code, "password": SECOND})
    assert again.status_code == 422 and again.json()["field"] == "token"  # single use
    own = _bearer(_sign_in(c, email, FIRST))
    me = c.get(f"{PREFIX}/me", headers=own)
    assert me.status_code == 200 and (me.json()["id"], me.json()["role"]) == (uid, "STAFF")

    # her own password: the current one is asked again
    wrong = {"current_password": SECOND, "new_password": THIRD}
    assert c.post(f"{PREFIX}/me/password", json=wrong, headers=own).status_code == 422
    right = {"current_password": FIRST, "new_password": SECOND}
    assert c.post(f"{PREFIX}/me/password", json=right, headers=own).status_code == 204
    assert _sign_in(c, email, FIRST).status_code == 401
    own = _bearer(_sign_in(c, email, SECOND))

    # locked out by wrong passwords, unlocked by an administrator
    for _ in range(8):
        _sign_in(c, email, THIRD)
    assert _sign_in(c, email, SECOND).status_code == 401  # locked: even the right password
    assert c.post(f"{PREFIX}/users/{uid}/unlock", headers=staff).status_code == 403
    assert c.post(f"{PREFIX}/users/{uid}/unlock", headers=admin).status_code == 204
    own = _bearer(_sign_in(c, email, SECOND))

    # a new role: her tokens carried the old one, so they stop at once
    etag = c.get(f"{PREFIX}/users/{uid}", headers=admin).headers["etag"]
    changed = c.patch(
        f"{PREFIX}/users/{uid}", json={"role": "BILLING"}, headers={**admin, "If-Match": etag}
    )
    assert changed.status_code == 200 and changed.json()["role"] == "BILLING"
    assert c.get(f"{PREFIX}/me", headers=own).status_code == 401
    refused = c.patch(
        f"{PREFIX}/users/{uid}", json={"active": False}, headers={**admin, "If-Match": '"9"'}
    )
    assert refused.status_code == 422 and refused.json()["field"] == "user.active"
    own = _bearer(_sign_in(c, email, SECOND))
    assert c.get(f"{PREFIX}/me", headers=own).json()["role"] == "BILLING"

    # a reset: the old password and every session end now; a new code goes to her
    assert c.post(f"{PREFIX}/users/{uid}/password-reset", headers=admin).status_code == 202
    assert c.get(f"{PREFIX}/me", headers=own).status_code == 401
    assert _sign_in(c, email, SECOND).status_code == 401
    reset = {"token": _code(api, email), "password": THIRD}
    assert c.post(f"{PREFIX}/invitations/acceptance", json=reset).status_code == 201
    own = _bearer(_sign_in(c, email, THIRD))

    # deactivated: her token fails on the next request
    etag = c.get(f"{PREFIX}/users/{uid}", headers=admin).headers["etag"]
    gone = c.post(f"{PREFIX}/users/{uid}/deactivation", headers={**admin, "If-Match": etag})
    assert gone.status_code == 200
    assert c.get(f"{PREFIX}/me", headers=own).status_code == 401
    assert c.post(f"{PREFIX}/users/{uid}/invitations", headers=admin).status_code == 409

    events = _critical(api)
    for what in ("STAFF_INVITATION", "CREDENTIAL", "LOCKOUT"):
        assert (what, uid) in events, what


def test_an_administrator_enrols_an_authenticator_when_accepting(api: Api) -> None:
    c, admin = api.client, api.headers(Role.ADMIN)
    email = "omar.haddad@example.org"
    person = {"first_name": "Omar", "last_name": "Haddad", "email": email, "role": "ADMIN"}
    uid = c.post(f"{PREFIX}/users", json=person, headers=admin).json()["id"]
    assert c.post(f"{PREFIX}/users/{uid}/invitations", headers=admin).status_code == 202
    accepted = c.post(
        f"{PREFIX}/invitations/acceptance", json={"token": _code(api, email), "password": FIRST}
    )
    assert accepted.status_code == 201, accepted.text
    secret = accepted.json()["totp_secret"]
    assert accepted.json()["otpauth_uri"].startswith("otpauth://totp/")
    step = _sign_in(c, email, FIRST)
    assert step.status_code == 202
    done = c.post(
        f"{PREFIX}/sessions/mfa",
        json={"ticket": step.json()["mfa_ticket"], "code": pyotp.TOTP(secret).now()},
    )
    own = _bearer(done)
    me = c.get(f"{PREFIX}/me", headers=own)
    assert me.json()["id"] == uid
    # an administrator cannot change their own role
    mine = {**own, "If-Match": me.headers["etag"]}
    assert c.patch(f"{PREFIX}/users/{uid}", json={"role": "STAFF"}, headers=mine).status_code == 403


def test_users_of_another_clinic_and_patients_cannot_be_invited(api: Api) -> None:
    c, admin = api.client, api.headers(Role.ADMIN)
    other = make_world(api.world.make_store, api.world.tmp, shared=api.world)
    foreign = c.post(f"{PREFIX}/users/{other.doctor.id}/invitations", headers=admin)
    assert foreign.status_code == 404
    for step in ("password-reset", "unlock"):
        sent = c.post(f"{PREFIX}/users/{other.doctor.id}/{step}", headers=admin)
        assert sent.status_code == 404, step
