"""Password credentials: an argon2id hash kept beside the user's home item, never the password."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from carevault.errors import ValidationError
from carevault.repo.records import Staged
from carevault.repo.unit import UnitOfWork
from carevault.store import Put

HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
MIN_LENGTH = 12


def stage_password(uow: UnitOfWork, user_id: str, password: str) -> None:
    """Stage a user's new password hash (the policy: at least 12 characters, not all alike)."""
    if len(password) < MIN_LENGTH or len(set(password)) < 4:
        raise ValidationError("password", f"must be at least {MIN_LENGTH} varied characters")
    pk, _ = uow.records.home("USER", user_id)
    item = {"pk": pk, "sk": "CREDENTIAL", "hash": HASHER.hash(password)}
    uow.stage([Staged(Put(item))])


def check_password(uow: UnitOfWork, user_id: str, password: str) -> bool:
    """Whether ``password`` is the user's password."""
    pk, _ = uow.records.home("USER", user_id)
    item = uow.store.get(pk, "CREDENTIAL")
    if item is None:
        return False
    try:
        return HASHER.verify(item["hash"], password)
    except VerificationError:
        return False
