"""Signing in: lockout, TOTP, refresh rotation with reuse detection, revocation, forged tokens."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carevault.access.auth import Authenticator, MfaRequired, Tokens
from carevault.domain.audit import Action, Level
from carevault.domain.base import utcnow
from carevault.domain.clinic import Role, User
from carevault.errors import AuthenticationFailed, InvalidToken
from carevault.repo.credentials import stage_password
from carevault.services import audit_trail, clinics
from tests.domain.world import World

PASSWORD = "tidal-Orchid-42-lantern"


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _user(world: World, role: Role, name: str) -> User:
    user = clinics.add_user(
        practice=world.practice,
        first_name="Lee",
        last_name=name,
        email=f"{name.lower()}.{world.tenant.lower()}@example.org",
        role=role,
    )
    stage_password(world.practice.uow, user.id, PASSWORD)
    world.practice.uow.commit()
    return user


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(world: World, clock: Clock) -> Authenticator:
    return Authenticator(world.store, world.ring, clock=clock)


def _tokens(result: Tokens | MfaRequired) -> Tokens:
    assert isinstance(result, Tokens), result
    return result


def test_five_failures_lock_the_account_until_the_window_passes(
    world: World, auth: Authenticator, clock: Clock
) -> None:
    staff = _user(world, Role.STAFF, "Staffer")
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            auth.login(staff.email, "not-the-password-1")
    _tokens(auth.login(staff.email, PASSWORD))  # a success clears the count
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            auth.login(staff.email, "not-the-password-1")
    with pytest.raises(AuthenticationFailed) as locked:
        auth.login(staff.email, PASSWORD)
    with pytest.raises(AuthenticationFailed) as unknown:
        auth.login("nobody.at.all@example.org", PASSWORD)
    # a lockout is not told apart from a wrong password or an unknown email
    assert type(locked.value) is type(unknown.value) and str(locked.value) == str(unknown.value)
    with pytest.raises(AuthenticationFailed):  # a failure while locked keeps the lock
        auth.login(staff.email, "not-the-password-1")
    with pytest.raises(AuthenticationFailed):
        auth.login(staff.email, PASSWORD)
    events = audit_trail.on_day(practice=world.practice, day=clock.now.date())
    assert any(e.action is Action.LOGIN_FAILED and e.level is Level.CRITICAL for e in events)
    clock.advance(minutes=16)
    _tokens(auth.login(staff.email, PASSWORD))
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            auth.login(staff.email, "not-the-password-1")
    auth.unlock(world.tenant, staff.id)
    _tokens(auth.login(staff.email, PASSWORD))
    with pytest.raises(AuthenticationFailed):
        auth.login("nobody@example.org", PASSWORD)


def test_admins_need_a_totp_code_within_the_skew_window(
    world: World, auth: Authenticator, clock: Clock
) -> None:
    admin = _user(world, Role.ADMIN, "Admin")
    step = auth.login(admin.email, PASSWORD)
    assert isinstance(step, MfaRequired)
    with pytest.raises(AuthenticationFailed):  # not enrolled yet
        auth.complete_mfa(step.ticket, "000000")
    secret = auth.enroll_totp(world.tenant, admin.id)
    totp = pyotp.TOTP(secret)
    with pytest.raises(AuthenticationFailed):
        auth.complete_mfa(step.ticket, totp.at(clock.now - timedelta(minutes=2)))
    _tokens(auth.complete_mfa(step.ticket, totp.at(clock.now - timedelta(seconds=30))))
    with pytest.raises(InvalidToken):  # a ticket signs in once
        auth.complete_mfa(step.ticket, totp.at(clock.now))
    with pytest.raises(InvalidToken):  # a ticket is not an access token
        auth.authenticate(step.ticket)
    later = auth.login(admin.email, PASSWORD)
    assert isinstance(later, MfaRequired)
    clock.advance(minutes=6)
    with pytest.raises(InvalidToken):  # tickets last five minutes
        auth.complete_mfa(later.ticket, totp.at(clock.now))


def _mfa_admin(world: World, auth: Authenticator, name: str) -> tuple[User, pyotp.TOTP]:
    admin = _user(world, Role.ADMIN, name)
    return admin, pyotp.TOTP(auth.enroll_totp(world.tenant, admin.id))


def _ticket(auth: Authenticator, user: User) -> str:
    step = auth.login(user.email, PASSWORD)
    assert isinstance(step, MfaRequired)
    return step.ticket


def test_a_totp_code_signs_in_once_even_inside_its_window(
    world: World, auth: Authenticator, clock: Clock
) -> None:
    admin, totp = _mfa_admin(world, auth, "Replay")
    code = totp.at(clock.now)
    _tokens(auth.complete_mfa(_ticket(auth, admin), code))
    with pytest.raises(AuthenticationFailed):  # the same code on a new ticket: refused
        auth.complete_mfa(_ticket(auth, admin), code)
    older = totp.at(clock.now - timedelta(seconds=30))  # an earlier step's code: refused too
    with pytest.raises(AuthenticationFailed):
        auth.complete_mfa(_ticket(auth, admin), older)
    clock.advance(seconds=30)
    _tokens(auth.complete_mfa(_ticket(auth, admin), totp.at(clock.now)))  # the next step's


def test_a_ticket_is_spent_after_five_wrong_codes_and_they_lock_the_account(
    world: World, auth: Authenticator, clock: Clock
) -> None:
    admin, totp = _mfa_admin(world, auth, "Guesser")
    ticket = _ticket(auth, admin)
    wrong = f"{(int(totp.at(clock.now)) + 1) % 10**6:06d}"
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            auth.complete_mfa(ticket, wrong)
    with pytest.raises(InvalidToken):  # the sixth try, with the right code: the ticket is spent
        auth.complete_mfa(ticket, totp.at(clock.now))
    # the five wrong codes counted toward the lockout: the password no longer signs in
    with pytest.raises(AuthenticationFailed):
        auth.login(admin.email, PASSWORD)
    events = audit_trail.on_day(practice=world.practice, day=clock.now.date())
    assert any(e.action is Action.LOGIN_FAILED and e.level is Level.CRITICAL for e in events)
    clock.advance(minutes=16)
    _tokens(auth.complete_mfa(_ticket(auth, admin), totp.at(clock.now)))


def test_a_locked_account_cannot_finish_mfa_with_a_ticket_it_already_had(
    world: World, auth: Authenticator, clock: Clock
) -> None:
    admin, totp = _mfa_admin(world, auth, "Holder")
    held = _ticket(auth, admin)  # taken before the lockout
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            auth.login(admin.email, "not-the-password-1")
    with pytest.raises(AuthenticationFailed):
        auth.complete_mfa(held, totp.at(clock.now))
    with pytest.raises(InvalidToken):  # and the ticket is spent
        auth.complete_mfa(held, totp.at(clock.now))


def test_refresh_rotates_and_a_replayed_token_revokes_the_family(
    world: World, auth: Authenticator, clock: Clock
) -> None:
    staff = _user(world, Role.STAFF, "Rotor")
    first = _tokens(auth.login(staff.email, PASSWORD))
    assert auth.authenticate(first.access).subject == staff.id
    clock.advance(minutes=1)
    second = auth.refresh(first.refresh)
    assert second.refresh != first.refresh and second.session == first.session
    with pytest.raises(InvalidToken, match="already used"):
        auth.refresh(first.refresh)  # the stolen, older token
    with pytest.raises(InvalidToken):
        auth.refresh(second.refresh)  # the whole session is gone
    with pytest.raises(InvalidToken):
        auth.authenticate(second.access)
    with pytest.raises(InvalidToken):
        auth.refresh("garbage")


def test_logout_revocation_idle_and_absolute_timeouts(
    world: World, auth: Authenticator, clock: Clock
) -> None:
    staff = _user(world, Role.STAFF, "Timer")
    one = _tokens(auth.login(staff.email, PASSWORD))
    auth.logout(auth.authenticate(one.access))
    with pytest.raises(InvalidToken):
        auth.authenticate(one.access)
    a, b = (_tokens(auth.login(staff.email, PASSWORD)) for _ in range(2))
    assert auth.revoke_all(world.tenant, staff.id) == 2
    for tokens in (a, b):
        with pytest.raises(InvalidToken):
            auth.refresh(tokens.refresh)
    idle = _tokens(auth.login(staff.email, PASSWORD))
    clock.advance(minutes=16)
    with pytest.raises(InvalidToken, match="expired"):  # access tokens last 15 minutes
        auth.authenticate(idle.access)
    clock.advance(minutes=16)
    with pytest.raises(InvalidToken, match="timed out"):
        auth.refresh(idle.refresh)
    long, began = _tokens(auth.login(staff.email, PASSWORD)), clock.now
    for _ in range(26):  # refreshed every 29 minutes, it still ends at 12 hours
        clock.advance(minutes=29)
        try:
            long = auth.refresh(long.refresh)
        except InvalidToken:
            break
    else:
        raise AssertionError("a session outlived its absolute timeout")
    assert timedelta(hours=12) <= clock.now - began < timedelta(hours=12, minutes=29)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_forged_and_foreign_tokens_are_rejected(world: World, auth: Authenticator) -> None:
    staff = _user(world, Role.STAFF, "Forger")
    good = _tokens(auth.login(staff.email, PASSWORD))
    claims = jwt.decode(good.access, options={"verify_signature": False})
    header = jwt.get_unverified_header(good.access)
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    other_key = jwt.encode(
        claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": header["kid"]}
    )
    hmac_token = jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"kid": header["kid"]})
    tampered = good.access[:-4] + ("AAAA" if not good.access.endswith("AAAA") else "BBBB")
    elevated = jwt.encode(
        {**claims, "role": "ADMIN"},
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": header["kid"]},
    )
    for forged in (unsigned, other_key, hmac_token, tampered, elevated, "", "a.b.c"):
        with pytest.raises(InvalidToken) as refused:
            auth.authenticate(forged)
        assert "Error" not in str(refused.value)  # no library's exception names
    old_kid = header["kid"]
    auth.tokens.rotate()
    fresh = Authenticator(world.store, world.ring)  # another process, after the rotation
    newer = _tokens(fresh.login(staff.email, PASSWORD))
    assert jwt.get_unverified_header(newer.access)["kid"] != old_kid
    assert fresh.authenticate(good.access).subject == staff.id  # old key still verifies


def test_api_clients_authenticate_with_a_hashed_secret_and_carry_only_their_scopes(
    world: World,
) -> None:
    from carevault.access.clients import authenticate_client, create_client
    from carevault.domain.clinic import ApiClient
    from carevault.errors import ValidationError

    client, credential = create_client(
        uow=world.practice.uow, name="Lab feed", scopes=["patient:read", "record:write"]
    )
    stored = world.store.get(f"T#{world.tenant}#CLIENT#{client.id}", "#")
    assert stored is not None and credential.split(".")[2] not in repr(stored)
    principal = authenticate_client(store=world.store, ring=world.ring, credential=credential)
    assert principal.permissions == {"patient:read", "record:write"}
    assert principal.role is Role.SERVICE and principal.tenant == world.tenant
    for wrong in (credential[:-1] + ("x" if credential[-1] != "x" else "y"), "a.b.c", "junk"):
        with pytest.raises(AuthenticationFailed):
            authenticate_client(store=world.store, ring=world.ring, credential=wrong)
    with pytest.raises(ValidationError):
        create_client(uow=world.practice.uow, name="Bad", scopes=["patients:everything"])
    with pytest.raises(ValidationError):
        clinics.add_user(
            practice=world.practice,
            first_name="S",
            last_name="V",
            email="svc@example.org",
            role=Role.SERVICE,
        )
    world.practice.uow[ApiClient].update(client.changed(active=False))
    world.practice.uow.commit()
    with pytest.raises(AuthenticationFailed):
        authenticate_client(store=world.store, ring=world.ring, credential=credential)
