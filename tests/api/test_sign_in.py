"""Sign-in through HTTP: one answer for every refusal, rate limits with Retry-After."""

from __future__ import annotations

import pyotp

from carevault.api.app import PREFIX
from carevault.domain.clinic import Role
from tests.api.conftest import PASSWORD, Api


def test_a_locked_account_and_an_unknown_email_get_the_same_answer(sqlite_api: Api) -> None:
    c, staff = sqlite_api.client, sqlite_api.user(Role.STAFF)
    for _ in range(5):
        c.post(f"{PREFIX}/sessions", json={"email": staff.email, "password": "wrong-Password-9"})
    locked = c.post(f"{PREFIX}/sessions", json={"email": staff.email, "password": PASSWORD})
    unknown = c.post(
        f"{PREFIX}/sessions", json={"email": "nobody@example.org", "password": PASSWORD}
    )
    assert locked.status_code == unknown.status_code == 401
    strip = ("instance", "request_id")
    same = [{k: v for k, v in r.json().items() if k not in strip} for r in (locked, unknown)]
    assert same[0] == same[1]


def test_a_token_that_does_not_decode_is_a_plain_401(sqlite_api: Api) -> None:
    for token in ("a.b.c", "not-a-token", "eyJhbGciOiJFZERTQSJ9.e30.AAAA"):
        got = sqlite_api.client.get(
            f"{PREFIX}/patients/01JCW3Q4ZJ8X2M5N7P9R1T3V5X",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert got.status_code == 401
        assert "Error" not in got.text and "jwt" not in got.text.lower()


def test_mfa_is_single_use_and_rate_limited(sqlite_api: Api) -> None:
    c, admin = sqlite_api.client, sqlite_api.user(Role.ADMIN)
    secret = sqlite_api.rt.auth.enroll_totp(sqlite_api.world.tenant, admin.id)
    sent = c.post(f"{PREFIX}/sessions", json={"email": admin.email, "password": PASSWORD})
    assert sent.status_code == 202
    ticket = sent.json()["mfa_ticket"]
    code = pyotp.TOTP(secret).now()
    first = c.post(f"{PREFIX}/sessions/mfa", json={"ticket": ticket, "code": code})
    assert first.status_code == 201
    again = c.post(f"{PREFIX}/sessions/mfa", json={"ticket": ticket, "code": code})
    assert again.status_code == 401  # no second session from one ticket and one code
    answers = [
        c.post(f"{PREFIX}/sessions/mfa", json={"ticket": ticket, "code": "000000"}).status_code
        for _ in range(sqlite_api.rt.limits.login_per_minute)
    ]
    assert answers[-1] == 429
    limited = c.post(f"{PREFIX}/sessions/mfa", json={"ticket": ticket, "code": code})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
