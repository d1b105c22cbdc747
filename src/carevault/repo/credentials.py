"""Credentials beside a user's home item: an argon2id password hash and a sealed TOTP secret.

T#{t}#USER#{id} / CREDENTIAL   {"hash": "$argon2id$…", "totp": sealed secret or absent}
T#{t}#USER#{id} / LOCKOUT      recent failed logins and, once locked, until when
"""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from carevault.crypto import aead
from carevault.errors import ValidationError
from carevault.repo.records import Staged
from carevault.repo.unit import UnitOfWork
from carevault.store import Put

HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
MIN_LENGTH = 12


def check_policy(password: str, email: str | None = None) -> None:
    """The password policy: 12+ characters, varied, not the email's name part."""
    if len(password) < MIN_LENGTH or len(set(password)) < 4:
        raise ValidationError("password", f"must be at least {MIN_LENGTH} varied characters")
    if email and email.split("@")[0].lower() in password.lower():
        raise ValidationError("password", "must not contain the email address")


def _key(uow: UnitOfWork, user_id: str) -> tuple[str, str]:
    pk, _ = uow.records.home("USER", user_id)
    return pk, "CREDENTIAL"


def credential(uow: UnitOfWork, user_id: str) -> dict[str, Any]:
    """The user's credential item (empty if none)."""
    return uow.store.get(*_key(uow, user_id)) or {}


def stage_password(
    uow: UnitOfWork,
    user_id: str,
    password: str,
    email: str | None = None,
    *,
    totp_secret: str | None = None,
) -> None:
    """Stage a user's new password hash (after checking the policy), and a TOTP secret."""
    check_policy(password, email)
    pk, sk = _key(uow, user_id)
    current = credential(uow, user_id)
    item = {**current, "pk": pk, "sk": sk, "hash": HASHER.hash(password)}
    if totp_secret is not None:
        item["totp"] = _sealed_totp(uow, user_id, totp_secret)
    uow.stage([Staged(Put(item))])


def stage_cleared(uow: UnitOfWork, user_id: str) -> None:
    """Stage forgetting a user's password and TOTP secret (a reset: only a new one works)."""
    pk, sk = _key(uow, user_id)
    kept = {k: v for k, v in credential(uow, user_id).items() if k not in ("hash", "totp")}
    uow.stage([Staged(Put({**kept, "pk": pk, "sk": sk}))])


def check_password(uow: UnitOfWork, user_id: str, password: str) -> bool:
    """Whether ``password`` is the user's password."""
    stored = credential(uow, user_id).get("hash")
    if not stored:
        HASHER.hash(password)  # spend the same time as a real check
        return False
    try:
        return HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _totp_context(uow: UnitOfWork, user_id: str, version: int) -> bytes:
    return f"{uow.tenant}|USER|{user_id}|totp|{version}".encode()


def _sealed_totp(uow: UnitOfWork, user_id: str, secret: str) -> bytes:
    kv, key = uow.records.ring.subject_key(uow.tenant, user_id, create=True)
    return aead.seal(key, kv, secret.encode(), _totp_context(uow, user_id, kv))


def set_totp(uow: UnitOfWork, user_id: str, secret: str) -> None:
    """Store a TOTP secret, sealed under the user's own data key."""
    pk, sk = _key(uow, user_id)
    sealed = _sealed_totp(uow, user_id, secret)
    uow.store.put({**credential(uow, user_id), "pk": pk, "sk": sk, "totp": sealed})


def totp_secret(uow: UnitOfWork, user_id: str) -> str | None:
    """The user's TOTP secret, or None if they have not enrolled."""
    sealed = credential(uow, user_id).get("totp")
    if sealed is None:
        return None
    kv, key = uow.records.ring.subject_key(uow.tenant, user_id)
    return aead.open_sealed(key, sealed, _totp_context(uow, user_id, kv)).decode()
