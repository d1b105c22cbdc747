"""Every error carevault raises, under one root.

    CarevaultError
    ├── ConfigurationError        a store URL or setting is unusable
    ├── ValidationError           input breaks a rule; names the field and the rule
    │   ├── ItemTooLarge          an item is over 400 KB
    │   ├── TransactionTooLarge   over 100 actions or 4 MB in one transaction
    │   ├── InvalidCursor         a cursor is malformed or belongs to another query
    │   └── InvalidTransition     a workflow step is not allowed from the current status
    ├── CryptoError               keys or ciphertexts cannot be used
    │   ├── IntegrityError        a ciphertext was altered, truncated or moved to another context
    │   └── KeyNotFound           no key exists for that tenant, subject or version
    │       └── KeyDestroyed      the subject's key was shredded: its data is gone for good
    ├── NotFound                  no such entity in this clinic (or it was deleted)
    ├── AuthenticationFailed      the credentials sign no one in (which part, or a lockout,
    │   │                         is not said: a locked account reads as a wrong password)
    │   └── InvalidToken          a token is forged, expired, revoked or for something else
    ├── PermissionDenied          the principal may not do this; names the permission
    ├── ConflictError             a write lost to a condition or to another writer
    │   ├── ConditionFailed       the condition of a single put or delete was false
    │   ├── StaleVersion          the record changed since the caller read it
    │   ├── TransactionCanceled   a transaction wrote nothing; ``reasons`` says why, per action
    │   ├── DuplicateValue        a value that must be unique is taken; names field and rule
    │   └── Unavailable           the time asked for is taken or outside the schedule
    └── StoreError                the engine failed (driver errors are translated into these)
        ├── StoreUnavailable      the engine cannot be reached or is busy; retrying may help
        │   └── Throttled         the engine refused for load; retry with backoff
        └── StoreNotInitialized   the store's tables do not exist yet

Messages never hold stored values: they name fields, rules, actions and engines, so an
error can be logged without leaking PHI. Engine and driver exceptions are chained as
``__cause__`` and never escape a store call untranslated.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class CarevaultError(Exception):
    """Root of every carevault error."""


class ConfigurationError(CarevaultError):
    """A store URL or setting is unusable."""


class ValidationError(CarevaultError):
    """Input breaks a rule; ``field`` names where, ``rule`` names what."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class ItemTooLarge(ValidationError):
    """An item is over the 400 KB item limit."""


class TransactionTooLarge(ValidationError):
    """A transaction has over 100 actions or over 4 MB of items."""


class InvalidCursor(ValidationError):
    """A cursor is malformed or was issued for another query."""


class InvalidTransition(ValidationError):
    """A workflow step (a status change) is not allowed from the entity's current status."""


class NotFound(CarevaultError):
    """No entity of that type and id exists in this clinic, or it was deleted."""

    def __init__(self, kind: str, entity_id: str) -> None:
        super().__init__(f"{kind} not found")  # the same words for unknown, foreign, malformed
        self.kind = kind
        self.entity_id = entity_id


class AuthenticationFailed(CarevaultError):
    """The credentials do not sign anyone in (which part was wrong is not said)."""


class InvalidToken(AuthenticationFailed):
    """A token is malformed, forged, expired, revoked or meant for something else."""


class PermissionDenied(CarevaultError):
    """The principal may not do this; ``permission`` names what was missing."""

    def __init__(self, permission: str, reason: str = "not permitted") -> None:
        super().__init__(f"{permission}: {reason}")
        self.permission = permission
        self.reason = reason


class CryptoError(CarevaultError):
    """Keys or ciphertexts cannot be used."""


class IntegrityError(CryptoError):
    """A ciphertext was altered, truncated, or moved to another record, field or key."""


class KeyNotFound(CryptoError):
    """No key exists for that tenant, subject or version."""


class KeyDestroyed(KeyNotFound):
    """The subject's key was shredded; everything sealed under it is unreadable for good."""


class ConflictError(CarevaultError):
    """A write lost to its condition or to a concurrent writer; nothing was written."""


class ConditionFailed(ConflictError):
    """The condition of a single put or delete did not hold."""


class StaleVersion(ConflictError):
    """The record changed since the caller read it (its version moved on)."""


class CancelReason(StrEnum):
    """Why one action of a canceled transaction failed."""

    CONDITION_FAILED = "ConditionalCheckFailed"
    CONFLICT = "TransactionConflict"
    OTHER = "Other"


class TransactionCanceled(ConflictError):
    """A transaction wrote nothing; ``reasons[i]`` is why action ``i`` failed, or None."""

    def __init__(self, reasons: Sequence[CancelReason | None]) -> None:
        self.reasons: list[CancelReason | None] = list(reasons)
        failed = ", ".join(
            f"action {i}: {r.value}" for i, r in enumerate(self.reasons) if r is not None
        )
        super().__init__(f"transaction canceled ({failed or 'no action named'})")


class DuplicateValue(ConflictError):
    """A value that must be unique (an MRN in a clinic, a login email) is already taken."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class Unavailable(ConflictError):
    """The time asked for is taken, or outside the schedule; ``field`` and ``rule`` say why."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class StoreError(CarevaultError):
    """The storage engine failed."""


class StoreUnavailable(StoreError):
    """The engine cannot be reached, or is busy; retrying later may succeed."""


class Throttled(StoreUnavailable):
    """The engine refused the request for load; retry with backoff."""


class StoreNotInitialized(StoreError):
    """The store's tables do not exist: create them first (``create_table``)."""
