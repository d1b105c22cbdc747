"""Care relationships and break-glass windows: stored facts the access gate reads.

A care relationship ``T#{t}#CARE#{doctor}#{patient}`` is written only by an explicit,
audited act: a patient's primary provider set, a booking made by someone who books for
the provider, or a note a clinician in care writes. A break-glass window
``T#{t}#BREAKGLASS#{user}`` opens every patient for a while; it needs a reason and expires.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from carevault.errors import ValidationError
from carevault.repo.records import Staged
from carevault.store import Put, Store

BREAK_GLASS_MAX = timedelta(hours=4)


def care_key(tenant: str, doctor: str, patient: str) -> tuple[str, str]:
    return f"T#{tenant}#CARE#{doctor}#{patient}", "#"


def stage_care(tenant: str, doctor: str, patient: str) -> Staged:
    """Record that ``doctor`` treats ``patient`` (written with the act that starts care)."""
    pk, sk = care_key(tenant, doctor, patient)
    return Staged(Put({"pk": pk, "sk": sk, "doctor": doctor, "patient": patient}))


def cares_for(store: Store, tenant: str, doctor: str, patient: str) -> bool:
    """Whether a care relationship is on record."""
    return store.get(*care_key(tenant, doctor, patient)) is not None


def break_glass_key(tenant: str, user: str) -> tuple[str, str]:
    return f"T#{tenant}#BREAKGLASS#{user}", "#"


def break_glass_open(store: Store, tenant: str, user: str, now: datetime) -> bool:
    """Whether the user's break-glass window is open."""
    item = store.get(*break_glass_key(tenant, user))
    return item is not None and int(item["expires_at"]) > now.timestamp()


def open_break_glass(
    store: Store, tenant: str, user: str, reason: str, minutes: int, now: datetime
) -> datetime:
    """Open an emergency-access window (the caller audits it as a security event)."""
    if len(reason.strip()) < 10:
        raise ValidationError("break_glass.reason", "must explain the emergency (10+ characters)")
    if not 1 <= minutes <= BREAK_GLASS_MAX.total_seconds() // 60:
        raise ValidationError("break_glass.minutes", "must be from 1 to 240")
    until = now + timedelta(minutes=minutes)
    pk, sk = break_glass_key(tenant, user)
    store.put({"pk": pk, "sk": sk, "reason_given": True, "expires_at": int(until.timestamp())})
    return until
