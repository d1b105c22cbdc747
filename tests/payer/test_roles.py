"""Payer roles: a clinic cannot hold them, and each sees of a member only what its work
needs (PROVIDER_RELATIONS no SSN and no contact details), decided by the real gate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from carevault.access.gate import PolicyGate
from carevault.access.policy import Principal
from carevault.audit.recorder import AuditContext, Auditor
from carevault.audit.signing import Signer
from carevault.audit.trail import AuditTrail
from carevault.crypto import Keyring, LocalKeyProvider
from carevault.domain.base import utcnow
from carevault.domain.clinic import CLINIC_ROLES, PAYER_ROLES, Role
from carevault.domain.ids import new_id
from carevault.domain.members import Member
from carevault.errors import PermissionDenied, ValidationError
from carevault.repo.unit import UnitOfWork
from carevault.services import clinics, members
from carevault.store import Store
from tests.domain.world import make_world


def test_a_clinic_cannot_give_its_users_a_payers_role(
    make_store: Callable[[], Store], tmp_path: Path
) -> None:
    world = make_world(make_store, tmp_path)
    for role in sorted(PAYER_ROLES - CLINIC_ROLES):
        with pytest.raises(ValidationError) as refused:
            clinics.add_user(
                practice=world.practice,
                first_name="Noor",
                last_name="Haddad",
                email=f"{role.lower()}@example.org",
                role=role,
            )
        assert refused.value.field == "user.role"


def _reader(store: Store, ring: Keyring, tenant: str, role: Role) -> UnitOfWork:
    principal = Principal.of(tenant, new_id(), role)
    trail = AuditTrail(store, Signer(ring, tenant), tenant)
    auditor = Auditor(trail, AuditContext(principal.user_id, role.value))
    gate = PolicyGate(store, principal, utcnow, lambda permission, patient: None)
    return UnitOfWork(store, ring, tenant, audit=auditor, gate=gate)


@pytest.mark.engines
def test_each_payer_role_sees_what_its_work_needs_of_a_member(
    store: Store, make_store: Callable[[], Store], tmp_path: Path
) -> None:
    ring = Keyring(make_store(), LocalKeyProvider.create(tmp_path / "root.key"))
    tenant = new_id()
    UnitOfWork(store, ring, tenant, create_tenant=True)
    member = members.add_member(
        uow=UnitOfWork(store, ring, tenant),
        member_number="BHM0000042",
        first_name="Dara",
        last_name="Quill",
        date_of_birth=date(1988, 2, 29),
        gender="OTHER",
        ssn="078-05-1120",
        email="dara.quill@example.org",
    )
    seen: dict[Role, Member] = {}
    for role in (Role.MEMBER_SERVICES, Role.CLAIMS_PROCESSOR, Role.PROVIDER_RELATIONS):
        found = _reader(store, ring, tenant, role)[Member].get(member.id)
        assert found is not None and found.last_name == "Quill"  # who the claims are about
        seen[role] = found
    assert seen[Role.MEMBER_SERVICES].ssn == "078-05-1120"  # verifies a caller by it
    assert seen[Role.CLAIMS_PROCESSOR].email == "dara.quill@example.org"
    relations = seen[Role.PROVIDER_RELATIONS]
    assert relations.ssn is None and relations.email is None  # minimum necessary
    assert {"ssn", "email"} <= relations.masked
    for role in (Role.AUDITOR, Role.DOCTOR, Role.STAFF):  # no member reads at all
        with pytest.raises(PermissionDenied):
            _reader(store, ring, tenant, role)[Member].get(member.id)
