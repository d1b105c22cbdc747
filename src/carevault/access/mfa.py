"""The TOTP step of sign-in: single-use tickets with few tries, each code good once.

    T#{t}#MFA#{ticket id} / #     a ticket's wrong tries; spent once used or out of tries
    T#{t}#USER#{id} / TOTP_STEP   the last time step whose code signed the user in

Both are written on condition (the tries seen, the step before), so two requests racing
with one ticket or one code cannot both succeed.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

from carevault.errors import ConditionFailed, InvalidToken
from carevault.store import Attr, Item, Store

MAX_TRIES = 5  # wrong codes a ticket survives; the next one spends it
SKEW_STEPS = 1  # codes of the step before and after now are accepted (clock drift)


def _key(tenant: str, ticket_id: str) -> tuple[str, str]:
    return f"T#{tenant}#MFA#{ticket_id}", "#"


def open_ticket(store: Store, tenant: str, ticket_id: str, expires: datetime) -> None:
    """Record a new ticket: no tries yet; the store forgets it when it expires."""
    pk, sk = _key(tenant, ticket_id)
    item = {"pk": pk, "sk": sk, "tries": 0, "spent": False, "expires_at": int(expires.timestamp())}
    store.put(item, condition=Attr("pk").not_exists())


def live_ticket(store: Store, tenant: str, ticket_id: str) -> Item:
    """The ticket's state; InvalidToken if it was used, ran out of tries or is unknown."""
    found = store.get(*_key(tenant, ticket_id))
    if found is None or found.get("spent"):
        raise InvalidToken("mfa: the ticket was already used or has run out of tries")
    return found


def _write(store: Store, state: Item, tries: int, spent: bool) -> None:
    unchanged = Attr("tries").eq(state["tries"]) & Attr("spent").eq(False)
    try:
        store.put({**state, "tries": tries, "spent": spent}, condition=unchanged)
    except ConditionFailed:
        raise InvalidToken("mfa: the ticket was used by another request") from None


def wrong_try(store: Store, state: Item) -> None:
    """Count a wrong code; the ticket is spent at ``MAX_TRIES``."""
    tries = int(state["tries"]) + 1
    _write(store, state, tries, tries >= MAX_TRIES)


def spend(store: Store, state: Item) -> None:
    """Use the ticket up (it signed someone in, or the account is locked)."""
    _write(store, state, int(state["tries"]), True)


def matched_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is (now, or one step either side), or None."""
    totp = pyotp.TOTP(secret)
    if not (len(code) == totp.digits and code.isdigit()):
        return None
    step = int(now.timestamp()) // totp.interval
    for candidate in range(step - SKEW_STEPS, step + SKEW_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def forget_steps(store: Store, user_pk: str) -> None:
    """A new secret's codes start afresh (the old secret's steps say nothing of them)."""
    store.delete(user_pk, "TOTP_STEP")


def use_step(store: Store, user_pk: str, step: int) -> bool:
    """Mark ``step``'s code used; False if it (or a later one) was used already."""
    fresh = Attr("pk").not_exists() | Attr("step").lt(step)
    try:
        store.put({"pk": user_pk, "sk": "TOTP_STEP", "step": step}, condition=fresh)
    except ConditionFailed:
        return False
    return True
