"""docs/data-model.md is the generated table of every entity's keys; it must not drift."""

from __future__ import annotations

from pathlib import Path

from carevault.domain import ENTITIES
from carevault.repo.datamodel import render
from carevault.repo.mapping import record_type

DOC = Path(__file__).parents[2] / "docs" / "data-model.md"


def test_data_model_doc_matches_the_code() -> None:
    assert DOC.read_text() == render(), (
        "docs/data-model.md is stale: python -m carevault.repo.datamodel > docs/data-model.md"
    )


def test_every_entity_is_in_the_doc_with_its_phi_and_keys() -> None:
    text = DOC.read_text()
    for entity in ENTITIES:
        assert f"**{entity.__name__}**" in text
        for key in entity.KEYS:
            assert key.pk.replace("{TYPE}", entity.TYPE) in text and key.purpose in text
        for field in entity.PHI:
            assert field in text


def test_no_key_template_names_a_phi_field_and_searchable_types_can_be_swept() -> None:
    for entity in ENTITIES:
        rt = record_type(entity)
        for slot in rt.slots:
            assert not slot.names() & entity.PHI, entity.__name__
        if rt.lookups or rt.uniques:
            assert rt.listing is not None, f"{entity.__name__} has searches but no listing"
