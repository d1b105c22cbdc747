"""Onboarding a clinic is one transaction: the clinic never exists without its administrator."""

from __future__ import annotations

import pyotp
import pytest

from carevault.access.auth import Authenticator, MfaRequired, Tokens
from carevault.domain.clinic import Role
from carevault.errors import ConflictError
from carevault.services import clinics
from carevault.store.counting import CountingStore
from tests.domain.world import World

PASSWORD = "harbor-Lantern-77-quartz"


def _admin(email: str) -> dict[str, object]:
    return {"first_name": "Ines", "last_name": "Okafor", "email": email, "role": Role.ADMIN}


def test_a_clinic_and_its_administrator_are_written_together(world: World) -> None:
    store = world.store
    assert isinstance(store, CountingStore)
    secret = pyotp.random_base32()
    email = f"ines.{world.tenant.lower()}@example.org"
    store.reset()
    made, admin = clinics.onboard_clinic(
        store=store,
        ring=world.ring,
        actor="ops",
        clinic={"name": "Tidewater Clinic"},
        admin=_admin(email),
        password=PASSWORD,
        totp_secret=secret,
    )
    # one transaction and no other write: a crash leaves all of it or none of it
    assert store.calls["transact_write"] == 1 and store.calls["write"] == 0
    assert made.id in {c["id"] for c in clinics.list_clinics(store=store).items}
    auth = Authenticator(store, world.ring)
    step = auth.login(email, PASSWORD)
    assert isinstance(step, MfaRequired)
    assert isinstance(auth.complete_mfa(step.ticket, pyotp.TOTP(secret).now()), Tokens)
    assert admin.role is Role.ADMIN


def test_an_onboarding_that_fails_at_commit_leaves_no_clinic(world: World) -> None:
    taken = clinics.add_user(
        practice=world.practice,
        first_name="Ada",
        last_name="Lindqvist",
        email=f"ada.{world.tenant.lower()}@example.org",
        role=Role.STAFF,
    ).email
    before = {c["id"] for c in clinics.list_clinics(store=world.store).items}
    with pytest.raises(ConflictError):  # the login email's unique sentinel fails the commit
        clinics.onboard_clinic(
            store=world.store,
            ring=world.ring,
            actor="ops",
            clinic={"name": "Half-made Clinic"},
            admin=_admin(taken),
            password=PASSWORD,
            totp_secret=pyotp.random_base32(),
        )
    assert {c["id"] for c in clinics.list_clinics(store=world.store).items} == before
