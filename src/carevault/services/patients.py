"""Patients: register, find (A3-A5), portal invitations and activation (A14), deactivate."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any, TypeVar

from carevault.crypto.keyring import Keyring
from carevault.domain.base import Entity
from carevault.domain.clinic import Role, User
from carevault.domain.intake import Invitation, InvitationStatus, MessageKind
from carevault.domain.patient import AccountStatus, Patient, PatientStatus
from carevault.errors import InvalidTransition, NotFound, StaleVersion, ValidationError
from carevault.repo import credentials
from carevault.repo.care import stage_care
from carevault.repo.records import Staged
from carevault.repo.unit import Listing, UnitOfWork
from carevault.services import codes, outbox
from carevault.services.practice import Practice
from carevault.store import Attr, Delete, Put, Store

KIND = "INVITE"  # the pointer from a portal invitation's code to it

E = TypeVar("E", bound=Entity)
INVITATION_TTL = timedelta(days=7)
SEARCHES = {
    "email": "patient_email",
    "phone": "patient_phone",
    "last_name": "patient_last",
    "last_name_prefix": "patient_last3",
    "sounds_like": "patient_sound",
    "external_id": "patient_ext",
}
"""Encrypted searches over patients (A3, A5): the field a caller names -> beacon index."""


def register(*, practice: Practice, **fields: Any) -> Patient:
    """Register a patient; the MRN must be unique in the clinic."""
    p = practice
    patient = Patient.create(**fields, created_by=p.uow.actor, updated_by=p.uow.actor)
    saved = p.uow[Patient].add(patient)
    if patient.primary_provider_id is not None:
        p.uow.stage([stage_care(p.tenant, patient.primary_provider_id, patient.id)])
    p.uow.commit()
    return saved


def update(*, practice: Practice, patient: Patient) -> Patient:
    """Save changes to a patient read earlier (its version guards against lost updates)."""
    saved = practice.uow[Patient].update(patient)
    practice.uow.commit()
    return saved


def change(*, practice: Practice, patient_id: str, version: int, **changes: Any) -> Patient:
    """Change a patient's details, if the patient is still at ``version``."""
    current = practice.uow[Patient].for_change(patient_id)
    if current.version != version:
        raise StaleVersion(f"patient: is at version {current.version}, not {version}")
    return update(practice=practice, patient=current.changed(**changes))


def items_of(
    *,
    practice: Practice,
    patient_id: str,
    entity: type[E],
    limit: int = 100,
    cursor: str | None = None,
) -> Listing[E]:
    """A patient's items of one type, by date (A6; treatments: A13)."""
    page = practice.uow.history(patient_id, of=entity, limit=limit, cursor=cursor)
    return Listing([e for e in page.items if isinstance(e, entity)], page.cursor)


def find(*, practice: Practice, by: str, value: str) -> list[Patient]:
    """Patients by email, phone, last name (exact, first 3 letters, sounds-like) or external id."""
    index = SEARCHES.get(by)
    if index is None:
        raise ValidationError("search.by", f"must be one of {', '.join(sorted(SEARCHES))}")
    return practice.uow[Patient].find(index, value)


def by_mrn(*, practice: Practice, mrn: str) -> Patient | None:
    """The patient with this MRN (A3: through the MRN sentinel)."""
    return practice.uow[Patient].find_unique("mrn", mrn)


def by_status(
    *, practice: Practice, status: PatientStatus, limit: int = 50, cursor: str | None = None
) -> Listing[Patient]:
    """Patients in one status, newest first (A4: one query)."""
    return practice.uow[Patient].query(
        "gsi4", f"PATIENT#STATUS#{status.value}", forward=False, limit=limit, cursor=cursor
    )


def every(*, practice: Practice, limit: int = 50, cursor: str | None = None) -> Listing[Patient]:
    """Every patient of the clinic, oldest first (one query)."""
    return practice.uow[Patient].query("gsi1", "PATIENT", limit=limit, cursor=cursor)


def remove(*, practice: Practice, patient_id: str, version: int) -> Patient:
    """Soft-delete a patient (a record made in error): out of every listing and lookup, kept
    for the retention period, restorable; their data key stays (shredding is apart)."""
    p = practice
    p.uow.allowed(Patient, "delete", patient_id)
    saved = p.uow[Patient].delete(patient_id, version=version)
    p.uow.commit()
    return saved


def restore(*, practice: Practice, patient_id: str) -> Patient:
    """Bring a soft-deleted patient back."""
    p = practice
    p.uow.allowed(Patient, "delete", patient_id)
    saved = p.uow[Patient].restore(patient_id)
    p.uow.commit()
    return saved


def deactivate(*, practice: Practice, patient_id: str, version: int) -> Patient:
    """Mark a patient inactive and close their portal account."""
    p = practice
    patient = p.uow[Patient].for_change(patient_id).model_copy(update={"version": version})
    if patient.status is PatientStatus.INACTIVE:
        raise InvalidTransition("patient.status", "the patient is already inactive")
    account = patient.account_status  # a portal account, if there is one, closes too
    if account is not AccountStatus.NONE:
        account = AccountStatus.INACTIVE
    saved = p.uow[Patient].update(
        patient.changed(status=PatientStatus.INACTIVE, account_status=account)
    )
    p.uow.commit()
    return saved


def invite(*, practice: Practice, patient_id: str) -> Invitation:
    """Invite a patient to the portal: the token goes to the patient's email through the
    clinic's outbox, in the same transaction, and to nobody else."""
    p = practice
    patient = p.uow[Patient].for_change(patient_id)
    if patient.email is None:
        raise ValidationError("patient.email", "an invitation needs the patient's email")
    if patient.account_status is AccountStatus.ACTIVE:
        raise InvalidTransition("patient.account_status", "the portal account is already active")
    token = secrets.token_urlsafe(32)
    now = p.now()
    invitation = Invitation.create(
        patient_id=patient_id,
        token_hash=codes.digest(token),
        expires_at=now + INVITATION_TTL,
        created_by=p.uow.actor,
        updated_by=p.uow.actor,
    )
    saved = p.uow[Invitation].add(invitation)
    p.uow[Patient].update(
        patient.changed(account_status=AccountStatus.PENDING, invitation_sent_at=now)
    )
    pk, sk = codes.pointer(KIND, invitation.token_hash)
    expires = int(invitation.expires_at.timestamp())
    pointer = {
        "pk": pk,
        "sk": sk,
        "tenant": p.tenant,
        "invitation": invitation.id,
        "expires_at": expires,
    }
    p.uow.stage([Staged(Put(pointer, Attr("pk").not_exists()))])
    outbox.stage(
        p,
        patient_id=patient_id,
        to=patient.email,
        kind=MessageKind.PORTAL_INVITATION,
        subject=f"Your {p.clinic.name} patient portal invitation",
        body=(
            f"{p.clinic.name} invites you to its patient portal.\n"
            f"Your invitation code: {token}\n"
            f"It can be used once, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC."
        ),
        expires_at=invitation.expires_at,
    )
    p.uow.commit()
    return saved


def invitation_by_token(
    *, store: Store, ring: Keyring, token: str
) -> tuple[str, Invitation] | None:
    """(clinic id, invitation) of a live token, or None if unknown or expired (A14: two gets)."""
    if not 20 <= len(token) <= 100:
        return None
    pointer = store.get(*codes.pointer(KIND, codes.digest(token)))
    if pointer is None:
        return None
    found = UnitOfWork(store, ring, pointer["tenant"])[Invitation].get(pointer["invitation"])
    if found is None or found.status is not InvitationStatus.PENDING:
        return None
    return pointer["tenant"], found


def open_portal(p: Practice, patient: Patient) -> User:
    """Stage the patient's portal user and their record's active account."""
    assert patient.email is not None
    user = p.uow[User].add(
        User.create(
            first_name=patient.first_name,
            last_name=patient.last_name,
            email=patient.email,
            role=Role.PATIENT,
            patient_id=patient.id,
        )
    )
    p.uow[Patient].update(
        patient.changed(
            account_status=AccountStatus.ACTIVE, activated_at=p.now(), portal_user_id=user.id
        )
    )
    return user


def activate(*, store: Store, ring: Keyring, token: str, password: str | None = None) -> User:
    """Accept an invitation: the patient gets a portal user (with ``password``, when given,
    checked against the policy before anything is written); the token is spent."""
    located = invitation_by_token(store=store, ring=ring, token=token)
    if located is None:
        raise ValidationError("token", "is unknown, used or expired")
    tenant, invitation = located
    p = Practice.open(store, ring, tenant, actor=f"patient:{invitation.patient_id}")
    patient = p.uow[Patient].get(invitation.patient_id)
    if patient is None or patient.email is None:
        raise NotFound("patient", invitation.patient_id)
    if password is not None:
        credentials.check_policy(password, patient.email)
    now = p.now()
    user = open_portal(p, patient)
    p.uow[Invitation].update(invitation.changed(status=InvitationStatus.ACCEPTED, accepted_at=now))
    p.uow.stage([Staged(Delete(*codes.pointer(KIND, invitation.token_hash)))])
    if password is not None:
        credentials.stage_password(p.uow, user.id, password, user.email)
    p.uow.commit()
    return user
