"""Clinics (tenants) and their users; the platform's clinic directory (A1)."""

from __future__ import annotations

from typing import Any

from carevault.crypto.keyring import Keyring
from carevault.crypto.normalize import email as normalize_email
from carevault.domain.clinic import CLINIC_ROLES, PAYER_ROLES, Clinic, Role, User
from carevault.domain.ids import well_formed_id
from carevault.errors import PermissionDenied, StaleVersion, ValidationError
from carevault.repo import credentials
from carevault.repo.mapping import record_type
from carevault.repo.records import PLATFORM, Records, Staged
from carevault.repo.unit import Listing, UnitOfWork
from carevault.services.practice import Practice
from carevault.store import Attr, Put, Store

DIRECTORY = "CLINICS"
"""Platform partition listing every clinic by id (ids, names and state only; no PHI)."""


def create_clinic(
    *, store: Store, ring: Keyring, actor: str | None = None, **fields: Any
) -> Clinic:
    """Create a clinic: its sealed home item and its directory entry, in one transaction."""
    uow, saved = _staged_clinic(store, ring, actor, fields)
    uow.commit()
    return saved


def _staged_clinic(
    store: Store, ring: Keyring, actor: str | None, fields: dict[str, Any]
) -> tuple[UnitOfWork, Clinic]:
    """A new clinic's keys made, its home item and directory entry staged (not committed)."""
    clinic = Clinic.create(**fields, created_by=actor, updated_by=actor)
    uow = UnitOfWork(store, ring, clinic.id, actor=actor, create_tenant=True)
    saved = uow[Clinic].add(clinic)
    entry = {"pk": DIRECTORY, "sk": clinic.id, "name": clinic.name, "active": clinic.active}
    uow.stage([Staged(Put(entry, Attr("pk").not_exists()))])
    return uow, saved


def onboard_clinic(
    *,
    store: Store,
    ring: Keyring,
    actor: str | None,
    clinic: dict[str, Any],
    admin: dict[str, Any],
    password: str,
    totp_secret: str,
) -> tuple[Clinic, User]:
    """A clinic and its first administrator (password and TOTP set), in one transaction.

    Nothing is committed unless everything is: a crash leaves either no clinic or a clinic
    its administrator can sign in to.
    """
    uow, made = _staged_clinic(store, ring, actor, clinic)
    user = uow[User].add(User.create(**admin, created_by=actor, updated_by=actor))
    credentials.stage_password(uow, user.id, password, user.email, totp_secret=totp_secret)
    uow.commit()
    return made, user


def list_clinics(
    *, store: Store, limit: int = 100, cursor: str | None = None
) -> Listing[dict[str, Any]]:
    """Every clinic's id, name and state, by id (A1, platform administrators: one query)."""
    page = store.query(DIRECTORY, limit=limit, cursor=cursor)
    rows = [_entry(i) for i in page.items]
    return Listing(rows, page.cursor)


def _entry(item: Any) -> dict[str, Any]:
    return {"id": item["sk"], "name": item["name"], "active": item["active"]}


def directory_entry(*, store: Store, clinic_id: str) -> dict[str, Any] | None:
    """One clinic's id, name and state, from the directory (None if there is no such clinic)."""
    if well_formed_id(clinic_id) != clinic_id:
        return None
    item = store.get(DIRECTORY, clinic_id)
    return (
        None if item is None else {"id": item["sk"], "name": item["name"], "active": item["active"]}
    )


def add_user(*, practice: Practice, **fields: Any) -> User:
    """Add a user to the clinic (login email unique across every clinic)."""
    p = practice
    if "role" in fields and fields["role"] in PAYER_ROLES - CLINIC_ROLES:
        raise ValidationError(
            "user.role", "must be a clinic's role: " + ", ".join(sorted(CLINIC_ROLES))
        )
    user = p.uow[User].add(User.create(**fields, created_by=p.uow.actor, updated_by=p.uow.actor))
    p.uow.commit()
    return user


def deactivate_user(*, practice: Practice, user_id: str, version: int) -> User:
    """Mark a user inactive (the caller revokes their sessions at once); never oneself."""
    p = practice
    current = p.uow[User].for_change(user_id)
    if user_id == p.uow.actor:
        raise PermissionDenied("user:write", "an administrator cannot deactivate themselves")
    if current.version != version:
        raise StaleVersion("the user changed since it was read; read it again")
    saved = p.uow[User].update(current.changed(active=False))
    p.uow.commit()
    return saved


def users_by_role(
    *, practice: Practice, role: Role, limit: int = 100, cursor: str | None = None
) -> Listing[User]:
    """The clinic's users with one role (A2: one query)."""
    return practice.uow[User].query("gsi4", f"USER#ROLE#{role.value}", limit=limit, cursor=cursor)


def user_by_login(*, practice: Practice, email: str) -> User | None:
    """A user of this clinic by login email, through the global login sentinel (A2)."""
    return practice.uow[User].find_unique("email", email)


def find_login(*, store: Store, ring: Keyring, email: str) -> tuple[str, User] | None:
    """(clinic id, user) of a login email, whichever clinic it is in (A2: two gets)."""
    records = Records(store, ring, PLATFORM, [record_type(User)])
    for tenant, user_id in records.locate_unique(User.TYPE, "email", email):
        user = UnitOfWork(store, ring, tenant)[User].get(user_id)
        if user is not None and normalize_email(user.email) == normalize_email(email):
            return tenant, user
    return None
