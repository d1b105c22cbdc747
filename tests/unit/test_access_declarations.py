"""The access policy is derived from the entity declarations: the declarations must be whole,
the generated table in docs/access.md must match the code, and the layers import downwards."""

from __future__ import annotations

import ast
from pathlib import Path

from carevault.access.policy import PATIENT_BOUND, RESOURCES, ROLE_PERMISSIONS
from carevault.access.table import rewrite
from carevault.domain import ENTITIES
from carevault.domain.base import SELF, FieldClass

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "access.md"
LAYERS = [
    *("errors", "waits", "logs", "domain", "crypto", "store", "blobs", "repo", "audit"),
    *("services", "access", "config", "api", "cli"),
]
"""carevault's packages, lowest first: a module imports only from its layer and below."""


def test_the_policy_table_in_the_docs_matches_the_code() -> None:
    text = DOC.read_text()
    assert text == rewrite(text), "docs/access.md is stale: python -m carevault.access.table"
    assert "| DOCTOR | patient | any other | index only | index |" in text


def test_every_sealed_field_about_a_patient_has_a_class_that_says_what_it_tells() -> None:
    for entity in ENTITIES:
        if entity.RESOURCE is None or entity.PATIENT is None:
            continue
        for name in entity.PHI:  # sealed data about a patient is never merely administrative
            assert entity.field_class(name) is not FieldClass.ADMIN, f"{entity.__name__}.{name}"
        for name in entity.CLASSES:
            assert name in entity.model_fields, f"{entity.__name__}.{name} is not a field"
        for name in entity.SERVER_OWNED:
            assert name in entity.model_fields, f"{entity.__name__}.{name} is not a field"
        if entity.PATIENT != SELF:
            assert entity.PATIENT in entity.model_fields and entity.PATIENT not in entity.PHI


def test_permissions_name_declared_resources_and_patient_data_is_care_scoped() -> None:
    for role, granted in ROLE_PERMISSIONS.items():
        for permission in granted:
            assert permission.split(":")[0] in RESOURCES, (role, permission)
    # in words: everything about one patient, and nothing else, is scoped by care
    assert {"patient", "appointment", "note", "record", "document", "invoice"} <= PATIENT_BOUND
    assert not {"clinic", "user", "provider", "block", "audit", "client"} & PATIENT_BOUND


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = []
    for path in sorted((ROOT / "src" / "carevault").rglob("*.py")):
        mine = path.relative_to(ROOT / "src" / "carevault").parts[0].removesuffix(".py")
        if mine not in LAYERS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("carevault."):
                other = str(node.module).split(".")[1]
                if other in LAYERS and LAYERS.index(other) > LAYERS.index(mine):
                    upward.append(f"{path.name} imports {node.module}")
    assert not upward, upward
    # crypto/ names no store: the key table is a protocol of its own
    crypto = (ROOT / "src" / "carevault" / "crypto").rglob("*.py")
    assert not [p.name for p in crypto if "carevault.store" in p.read_text()]
