"""The data model as a Markdown document, generated from the entities' declarations.

``python -m carevault.repo.datamodel > docs/data-model.md`` writes it; a test fails when
the file and the code disagree.
"""

from __future__ import annotations

from carevault.domain import ENTITIES, Entity
from carevault.domain.base import kind_of

SUPPORT_ITEMS = (
    (
        "`T#{t}#LOOKUP#{index}#{v}:{beacon}` / `{TYPE}#{id}`",
        "a beacon of an encrypted search value (key version v), written with its entity",
    ),
    (
        "`T#{t}#UNIQUE#{index}#{v}:{beacon}` / `#`",
        "a unique value's sentinel in the clinic (put only if absent)",
    ),
    (
        "`G#UNIQUE#{index}#{v}:{beacon}` / `#`",
        "a value unique across clinics (login email); holds the clinic and user id",
    ),
    (
        "`T#{t}#PROVIDER#{u}#SLOT#{date}` / `{HH:MM}`",
        "a provider's booked 5-minute granule (UTC), put only if absent",
    ),
    (
        "`T#{t}#PATIENT#{p}#SLOT#{date}` / `{HH:MM}`",
        "a patient's booked 5-minute granule (UTC), put only if absent",
    ),
    (
        "`T#{t}#PROVIDER#{u}#SCHEDULE` / `#`",
        "the provider's schedule version: bumped by blocks and hours, checked by bookings",
    ),
    (
        "`T#{t}#MEMBER#{m}#COVERAGE#{kind}` / `#`",
        "a member's enrollment periods of one coverage (dates, enrollment ids), rewritten "
        "with a version condition by each enrollment: enrollments never overlap",
    ),
    ("`T#{t}#USER#{id}` / `CREDENTIAL`", "the user's argon2id password hash"),
    (
        "`INVITE#{sha256(token)}` / `#`",
        "a live invitation token: clinic and invitation id; expires with it",
    ),
    ("`CLINICS` / `{id}`", "the platform's clinic directory: id, name, active (no PHI)"),
)


def _code(text: str) -> str:
    return f"`{text}`"


def _row(entity: type[Entity]) -> list[str]:
    pk, sk = entity.HOME
    home = _code(f"T#{{t}}#{pk}".replace("{TYPE}", entity.TYPE)) + f" / `{sk}`"
    keys = [
        f"{k.index}: `T#{{t}}#{k.pk}` / `{k.sk}` ({k.purpose})".replace("{TYPE}", entity.TYPE)
        for k in entity.KEYS
    ]
    if entity.SUBJECT is not None:
        when = entity.WHEN.replace("{id}", "{created}")
        keys.insert(0, f"gsi2: `T#{{t}}#SUBJECT#{{s}}` / `{entity.TYPE}#{when}#{{id}}` (history)")
    searches = [f"{s.index}: {s.field} ({s.normalizer}, {s.bits} bits)" for s in entity.LOOKUPS]
    uniques = [
        f"{s.field} ({s.normalizer}, {s.bits} bits{', all clinics' if s.across_tenants else ''})"
        for s in entity.UNIQUE
    ]
    subject = {None: "—", "@self": "itself"}.get(entity.SUBJECT, entity.SUBJECT or "—")
    refs = [f"{f} → {t}" for f, t in entity.REFS.items()]
    return [
        f"**{entity.__name__}**", home, "<br>".join(keys) or "—", subject,
        ", ".join(sorted(entity.PHI)) or "—", "<br>".join(searches) or "—",
        "<br>".join(uniques) or "—", ", ".join(refs) or "—", entity.EXPIRES or "—",
    ]  # fmt: skip


PAYER_PATTERNS_TEXT = [
    "A payer organization is a tenant like a clinic: `{t}` is then the payer's id and its",
    "members are what patients are to a clinic (a data key each, shredding reaches all of",
    "a member's items). The patterns built so far, each tested on every engine with its",
    "store operations counted (`tests/payer`):",
]
PAYER_PATTERNS = [
    (
        "P1 member by member number",
        "the member number's unique sentinel, then the home item",
        "no query; at most 3 gets",
    ),
    ("P1 member by SSN", "the `member_ssn` beacon, verified after decryption", "1 query"),
    (
        "P1 member by name + date of birth",
        "the `member_name_birth` beacon over folded last and first names and the date",
        "1 query",
    ),
    (
        "P2 a member's enrollments, coverage on a date",
        "gsi5 `MEMBER#{m}#ENROLLMENTS`, by effective date; the one in force is picked",
        "1 query",
    ),
]


def render() -> str:
    """The whole document."""
    header = ["entity", "home item", "GSIs", "data key of", "PHI (sealed)", "searches",
              "unique", "must exist", "expires"]  # fmt: skip
    lines = [
        "# carevault data model",
        "",
        "Generated from `carevault.domain` by `python -m carevault.repo.datamodel`; a test",
        "fails when this file and the code disagree. `{t}` is the clinic (tenant) id; keys",
        "hold ids, enums, dates and times only, never PHI. Every entity's home item also",
        "carries `version` (optimistic locking) and, when soft-deleted, `deleted_at` (it then",
        "leaves every listing and search). Field names in errors are "
        + ", ".join(f"`{kind_of(e)}`" for e in ENTITIES)
        + ".",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(_row(e)) + " |" for e in ENTITIES]
    lines += ["", "## Supporting items", "", "| key | what it is |", "|---|---|"]
    lines += [f"| {key} | {what} |" for key, what in SUPPORT_ITEMS]
    lines += ["", "## Payer access patterns (seed 004)", "", *PAYER_PATTERNS_TEXT]
    lines += ["", "| pattern | how | store operations |", "|---|---|---|"]
    lines += [f"| {name} | {how} | {cost} |" for name, how, cost in PAYER_PATTERNS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
