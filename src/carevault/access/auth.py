"""Signing in: password, then TOTP where required; sessions with refresh-token rotation.

- Lockout: ``max_failures`` wrong passwords within ``window`` lock the account for
  ``lock_for``; each lock is a critical security event in the clinic's audit trail.
- MFA: ADMIN always (every role if the clinic says so): the password step returns an
  ``MfaRequired`` ticket, and ``complete_mfa`` takes the TOTP code (one step of clock
  skew either way is accepted).
- Tokens: a short-lived access JWT, and a refresh token ``{clinic}.{session}.{secret}``
  of which only a hash is kept. Each refresh replaces the secret; presenting a replaced
  secret again means it was stolen, and the whole session is revoked.
- Sessions end by logout, by revocation (one, or all of a user's), after ``idle`` without
  a refresh, and at ``absolute`` (their TTL).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp

from carevault.access import mfa
from carevault.access.clients import authenticate_client
from carevault.access.tokens import ACCESS_TTL, Claims, TokenKeys
from carevault.audit.recorder import AuditContext, Auditor, Origin
from carevault.audit.signing import Signer
from carevault.audit.trail import AuditTrail
from carevault.crypto.keyring import Keyring
from carevault.domain.audit import Action, Level, Outcome
from carevault.domain.base import utcnow
from carevault.domain.clinic import ApiClient, Clinic, Role, User
from carevault.domain.ids import check_id, new_id
from carevault.domain.intake import Session
from carevault.errors import (
    AuthenticationFailed,
    CarevaultError,
    ConflictError,
    InvalidToken,
)
from carevault.repo import credentials
from carevault.repo.records import PLATFORM
from carevault.repo.unit import UnitOfWork
from carevault.services.clinics import find_login
from carevault.store import Store


@dataclass(frozen=True)
class AuthSettings:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lock_for: timedelta = timedelta(minutes=15)
    absolute: timedelta = timedelta(hours=12)
    idle: timedelta = timedelta(minutes=30)
    mfa_roles: frozenset[str] = frozenset({Role.ADMIN.value})


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str
    session: str


@dataclass(frozen=True)
class MfaRequired:
    ticket: str


WRONG = "email or password is wrong"
NOWHERE = Origin()  # calls from outside a request (the CLI, tests)
WRONG_CODE = "mfa: the code is wrong, too old or already used"
MFA_TICKET_TTL = timedelta(minutes=5)
CLIENT_SESSION = "client"  # the session claim of an API client's token (it has no session)


def _nothing(user_id: str) -> None:
    """No per-account hook."""


def _user_pk(uow: UnitOfWork, user_id: str) -> str:
    """The partition of a user's home item (their lockout and TOTP step sit beside it)."""
    return uow.records.home("USER", user_id)[0]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Authenticator:
    """Sign-in, refresh, logout and token checks against one store and keyring."""

    def __init__(
        self,
        store: Store,
        ring: Keyring,
        settings: AuthSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store, self.ring = store, ring
        self.settings = settings or AuthSettings()
        self.tokens = TokenKeys(ring)
        self.now = clock
        self._trails: dict[str, AuditTrail] = {}

    def _uow(self, tenant: str) -> UnitOfWork:
        return UnitOfWork(self.store, self.ring, tenant, actor="auth", clock=self.now)

    def _event(
        self,
        tenant: str,
        user: User,
        action: Action,
        outcome: Outcome,
        level: Level = Level.HIPAA,
        origin: Origin = NOWHERE,
    ) -> None:
        trail = self._trails.get(tenant)
        if trail is None:  # one per clinic: its signing key stays loaded between logins
            trail = self._trails[tenant] = AuditTrail(self.store, Signer(self.ring, tenant), tenant)
        context = AuditContext(user.id, user.role.value, "OPERATIONS", origin=origin)
        Auditor(trail, context).record(action, "USER", user.id, None, outcome, level)

    # -- lockout -----------------------------------------------------------------------

    def _lock_key(self, uow: UnitOfWork, user_id: str) -> tuple[str, str]:
        return _user_pk(uow, user_id), "LOCKOUT"

    def _refused_while_locked(self, tenant: str, user: User, origin: Origin) -> None:
        """A sign-in attempt on a locked account: a critical event (the lock stays)."""
        self._event(tenant, user, Action.LOGIN_FAILED, Outcome.DENIED, Level.CRITICAL, origin)

    def _locked(self, uow: UnitOfWork, user_id: str, now: datetime) -> bool:
        item = self.store.get(*self._lock_key(uow, user_id))
        return item is not None and int(item.get("locked_until", 0)) > now.timestamp()

    def _fail(
        self, tenant: str, uow: UnitOfWork, user: User, now: datetime, origin: Origin
    ) -> None:
        pk, sk = self._lock_key(uow, user.id)
        item = self.store.get(pk, sk) or {"failures": []}
        if int(item.get("locked_until", 0)) > now.timestamp():  # locked already: it stays so
            self._refused_while_locked(tenant, user, origin)
            return
        since = now.timestamp() - self.settings.window.total_seconds()
        failures = [t for t in item["failures"] if t > since] + [int(now.timestamp())]
        locked = len(failures) >= self.settings.max_failures
        until = int((now + self.settings.lock_for).timestamp()) if locked else 0
        self.store.put(
            {"pk": pk, "sk": sk, "failures": [] if locked else failures, "locked_until": until}
        )
        self._event(
            tenant,
            user,
            Action.LOGIN_FAILED,
            Outcome.FAILURE,
            Level.CRITICAL if locked else Level.HIPAA,
            origin,
        )

    def unlock(self, tenant: str, user_id: str) -> None:
        """Lift a lockout (an administrator's action)."""
        uow = self._uow(tenant)
        self.store.delete(*self._lock_key(uow, user_id))

    # -- signing in --------------------------------------------------------------------

    def login(
        self,
        email: str,
        password: str,
        on_account: Callable[[str], None] = _nothing,
        origin: Origin = NOWHERE,
    ) -> Tokens | MfaRequired:
        """The password step: tokens, or a ticket for the TOTP step.

        ``on_account`` is told the user id before the password is checked (a per-account
        rate limit raises there).
        """
        now = self.now()
        located = find_login(store=self.store, ring=self.ring, email=email)
        if located is None:
            credentials.HASHER.hash(password)  # the same time as a real check
            raise AuthenticationFailed(WRONG)
        tenant, user = located
        on_account(user.id)
        uow = self._uow(tenant)
        if self._locked(uow, user.id, now):  # answered as a wrong password: nothing is told
            credentials.HASHER.hash(password)
            self._refused_while_locked(tenant, user, origin)
            raise AuthenticationFailed(WRONG)
        if not credentials.check_password(uow, user.id, password) or not user.active:
            self._fail(tenant, uow, user, now, origin)
            raise AuthenticationFailed(WRONG)
        self.store.delete(*self._lock_key(uow, user.id))
        clinic = uow[Clinic].require(tenant)
        needs_mfa = user.role.value in self.settings.mfa_roles or clinic.settings.mfa_for_all_roles
        if needs_mfa:
            ticket_id = new_id()
            ticket = self.tokens.issue(
                subject=user.id,
                tenant=tenant,
                role=user.role.value,
                session="",
                now=now,
                purpose="mfa",
                ttl=MFA_TICKET_TTL,
                jti=ticket_id,
            )
            mfa.open_ticket(self.store, tenant, ticket_id, now + MFA_TICKET_TTL)
            return MfaRequired(ticket)
        return self._start(tenant, user, now, origin)

    def complete_mfa(
        self,
        ticket: str,
        code: str,
        on_account: Callable[[str], None] = _nothing,
        origin: Origin = NOWHERE,
    ) -> Tokens:
        """The TOTP step: a ticket signs in once; a code is good once; wrong codes lock."""
        now = self.now()
        claims = self.tokens.verify(ticket, purpose="mfa", now=now)
        on_account(claims.subject)
        state = mfa.live_ticket(self.store, claims.tenant, claims.jti)
        uow = self._uow(claims.tenant)
        user = uow[User].get(claims.subject)
        secret = credentials.totp_secret(uow, claims.subject) if user else None
        if user is None or secret is None:
            raise AuthenticationFailed("mfa: no authenticator is enrolled for this account")
        if self._locked(uow, user.id, now) or not user.active:
            mfa.spend(self.store, state)
            self._refused_while_locked(claims.tenant, user, origin)
            raise AuthenticationFailed(WRONG_CODE)
        step = mfa.matched_step(secret, code.strip(), now)
        if step is None or not mfa.use_step(self.store, _user_pk(uow, user.id), step):
            mfa.wrong_try(self.store, state)
            self._fail(claims.tenant, uow, user, now, origin)
            raise AuthenticationFailed(WRONG_CODE)
        mfa.spend(self.store, state)
        return self._start(claims.tenant, user, now, origin)

    def needs_mfa(self, tenant: str, user_id: str) -> bool:
        """Whether the user signs in with a one-time code too (their role, or the clinic)."""
        uow = self._uow(tenant)
        user = uow[User].require(user_id)
        clinic = uow[Clinic].require(tenant)
        return user.role.value in self.settings.mfa_roles or clinic.settings.mfa_for_all_roles

    def enroll_totp(self, tenant: str, user_id: str) -> str:
        """A new TOTP secret for the user (shown once, e.g. as a QR code)."""
        secret = pyotp.random_base32()
        uow = self._uow(tenant)
        credentials.set_totp(uow, user_id, secret)
        mfa.forget_steps(self.store, _user_pk(uow, user_id))
        return secret

    def _start(self, tenant: str, user: User, now: datetime, origin: Origin) -> Tokens:
        secret = secrets.token_urlsafe(32)
        session = Session.create(
            user_id=user.id,
            role=user.role.value,
            expires_at=now + self.settings.absolute,
            last_used_at=now,
            idle_minutes=int(self.settings.idle.total_seconds() // 60),
            refresh_hash=_hash(secret),
            address=origin.address,
            agent=origin.agent,
        )
        uow = self._uow(tenant)
        uow[Session].add(session)
        uow.commit()
        self._event(tenant, user, Action.LOGIN, Outcome.SUCCESS, origin=origin)
        return self._tokens(tenant, user.id, user.role.value, session.id, secret, now)

    def _tokens(
        self, tenant: str, user_id: str, role: str, session: str, secret: str, now: datetime
    ) -> Tokens:
        access = self.tokens.issue(
            subject=user_id, tenant=tenant, role=role, session=session, now=now
        )
        return Tokens(access, f"{tenant}.{session}.{secret}", session)

    # -- sessions ----------------------------------------------------------------------

    def refresh(self, token: str) -> Tokens:
        """New tokens for a live session; a replayed refresh token revokes the session."""
        now = self.now()
        try:
            tenant, session_id, secret = token.split(".", 2)
            if tenant != PLATFORM:
                check_id(tenant, "refresh token")
            uow = self._uow(tenant)  # NotFound for a tenant never created: nothing is written
            session = uow[Session].get(session_id)
        except (ValueError, CarevaultError):
            raise InvalidToken("refresh token: malformed") from None
        if session is None or not session.active or session.expires_at <= now:
            raise InvalidToken("refresh token: the session has ended")
        presented = _hash(secret)
        if session.previous_hash and hmac.compare_digest(presented, session.previous_hash):
            self._revoke(uow, session, "refresh token reused")
            raise InvalidToken("refresh token: already used; the session is revoked")
        if not hmac.compare_digest(presented, session.refresh_hash):
            raise InvalidToken("refresh token: unknown")
        user = uow[User].get(session.user_id)
        if user is None or not user.active:  # deactivated: its sessions end with it
            self._revoke(uow, session, "user deactivated")
            raise InvalidToken("refresh token: the session has ended")
        idle = timedelta(minutes=session.idle_minutes)
        if session.last_used_at is not None and session.last_used_at + idle < now:
            self._revoke(uow, session, "idle timeout")
            raise InvalidToken("refresh token: the session timed out")
        fresh = secrets.token_urlsafe(32)
        try:
            uow[Session].update(
                session.changed(
                    refresh_hash=_hash(fresh), previous_hash=presented, last_used_at=now
                )
            )
            uow.commit()
        except ConflictError:  # a concurrent refresh won with the same secret: a replay
            again = uow[Session].get(session_id)
            if again is not None:
                self._revoke(uow, again, "refresh token reused")
            raise InvalidToken("refresh token: already used; the session is revoked") from None
        return self._tokens(tenant, session.user_id, session.role, session.id, fresh, now)

    def _revoke(self, uow: UnitOfWork, session: Session, reason: str) -> None:
        for _ in range(5):
            try:
                uow[Session].update(
                    session.changed(active=False, revoked_at=self.now(), revoked_reason=reason)
                )
                uow.commit()
                return
            except ConflictError:
                found = uow[Session].get(session.id)
                if found is None or not found.active:
                    return
                session = found

    def logout(self, claims: Claims, origin: Origin = NOWHERE) -> None:
        """End the session of an access token."""
        uow = self._uow(claims.tenant)
        session = uow[Session].get(claims.session)
        if session is not None and session.active:
            self._revoke(uow, session, "logout")
            user = uow[User].get(claims.subject)
            if user is not None:
                self._event(claims.tenant, user, Action.LOGOUT, Outcome.SUCCESS, origin=origin)

    def revoke_all(self, tenant: str, user_id: str) -> int:
        """End every session of a user; returns how many were live."""
        uow = self._uow(tenant)
        live = [s for s in uow[Session].query_all("gsi4", f"USER#{user_id}#SESSIONS") if s.active]
        for session in live:
            self._revoke(uow, session, "revoked")
        return len(live)

    def client_token(self, credential: str) -> tuple[str, int]:
        """An access token for an API client's credential, and its lifetime in seconds."""
        principal = authenticate_client(store=self.store, ring=self.ring, credential=credential)
        now = self.now()
        token = self.tokens.issue(
            subject=principal.user_id,
            tenant=principal.tenant,
            role=principal.role.value,
            session=CLIENT_SESSION,
            now=now,
            scopes=tuple(sorted(principal.permissions)),
        )
        return token, int(ACCESS_TTL.total_seconds())

    def authenticate(self, access_token: str) -> Claims:
        """The claims of a valid access token whose session (or API client) is still live."""
        claims = self.tokens.verify(access_token, now=self.now())
        if claims.role == Role.SERVICE.value:
            client_id = claims.subject.removeprefix("client:")
            client = self._uow(claims.tenant)[ApiClient].get(client_id)
            if client is None or not client.active or claims.session != CLIENT_SESSION:
                raise InvalidToken("token: the API client is no longer active")
            return claims
        uow = self._uow(claims.tenant)
        session = uow[Session].get(claims.session)
        if session is None or not session.active or session.expires_at <= self.now():
            raise InvalidToken("token: the session has ended")
        user = self.store.get(*uow.records.home(User.TYPE, claims.subject))  # plain: no decrypt
        if user is None or user.get("deleted_at") or not user["plain"].get("active", False):
            raise InvalidToken("token: the user is no longer active")
        return claims
