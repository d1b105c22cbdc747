"""The policy table of docs/access.md, generated from the entity declarations and the policy.

``python -m carevault.access.table`` rewrites the table between its markers in
docs/access.md; a test fails when the file and the code disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from carevault.access.policy import SERVED, Decision, policy_table
from carevault.domain.base import FieldClass
from carevault.domain.clinic import Role

BEGIN = "<!-- policy table: python -m carevault.access.table -->"
END = "<!-- end of policy table -->"
CLASSES = [c for c in FieldClass if c is not FieldClass.ADMIN]


def render() -> str:
    """The generated section: field classes per resource, then role x resource x relation."""
    lines = [
        BEGIN,
        "",
        "Fields by class, per resource (undeclared fields are `admin`; the id, version and",
        "timestamps every entity has are always shown):",
        "",
        "| resource | "
        + " | ".join(c.value for c in FieldClass if c is not FieldClass.ADMIN)
        + " |",
        "|---" * len(FieldClass) + "|",
    ]
    for resource, entity in SERVED.items():
        cells = []
        for cls in CLASSES:
            names = sorted(n for n in entity.model_fields if entity.field_class(n) is cls)
            cells.append(", ".join(names))
        lines.append(f"| {resource} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Reads, per role and resource (a role not listed for a resource may not read it; an",
        "API client holds its scopes and sees what the ADMIN who made it sees):",
        "",
        "| role | resource | patient | decision | field classes shown |",
        "|---|---|---|---|---|",
    ]
    for row in policy_table():
        shown = ", ".join(row.visible) if row.decision is not Decision.DENY else ""
        role = "API client" if row.role is Role.SERVICE else row.role.value
        lines.append(
            f"| {role} | {row.resource} | {row.relationship} | {row.decision.value} | {shown} |"
        )
    lines += ["", END]
    return "\n".join(lines)


def rewrite(text: str) -> str:
    """``text`` with its policy-table section replaced by the generated one."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + render() + tail


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/access.md")
    path.write_text(rewrite(path.read_text()))
