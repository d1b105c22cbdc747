"""Reads that skip work must still show what is stored.

A clinic and a session are read by every request, so their decoded form is kept while the
stored item is byte for byte the same; an entity read with fields withheld is validated
with those fields already empty rather than copied afterwards.
"""

from __future__ import annotations

from carevault.domain.clinic import Clinic
from carevault.domain.scheduling import Appointment
from carevault.repo.gate import Sight
from carevault.repo.unit import UnitOfWork
from carevault.services.practice import Practice
from tests.domain.world import World


def _clinic(world: World) -> Clinic:
    return UnitOfWork(world.store, world.ring, world.tenant)[Clinic].require(world.tenant)


def test_a_kept_clinic_follows_each_change_of_its_item(world: World) -> None:
    first = _clinic(world)
    uow = UnitOfWork(world.store, world.ring, world.tenant, actor="admin-1")
    uow[Clinic].update(first.changed(name="Harbour Clinic"))
    uow.commit()
    again = _clinic(world)
    assert again.name == "Harbour Clinic" and again.version == first.version + 1
    assert Practice.open(world.store, world.ring, world.tenant).clinic.name == "Harbour Clinic"


def test_a_kept_clinic_is_a_copy_each_time(world: World) -> None:
    one, two = _clinic(world), _clinic(world)
    assert one == two and one is not two  # a caller changing its copy changes no other read


def test_withholding_before_validation_matches_masking_after(world: World) -> None:
    patient = world.patient()
    stored = {
        "id": "01J0000000000000000000000A",
        "version": 3,
        "deleted_at": None,
        "patient_id": patient.id,
        "provider_id": world.doctor.id,
        "start": "2031-01-06T14:00:00Z",
        "end": "2031-01-06T14:30:00Z",
        "day": "2031-01-06",
        "notes": "Bring the cardiology referral",
        "reason": "Palpitations",
        "created_at": "2030-12-01T09:00:00Z",
        "updated_at": "2030-12-01T09:00:00Z",
    }
    sight = Sight(frozenset({"notes", "reason"}))
    built = sight.built(Appointment, stored)
    masked = sight.show(Appointment.model_validate(stored, context={"stored": True}))
    assert built is not None
    assert built.notes is None and built.reason is None  # the withheld text is not held
    assert built.masked == masked.masked == {"notes", "reason"}
    assert built.model_dump() == masked.model_dump()
    # a field that may not be empty is never withheld this way: masking after instead
    assert Sight(frozenset({"start"})).built(Appointment, stored) is None
