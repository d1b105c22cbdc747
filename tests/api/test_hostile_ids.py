"""Hostile text in paths and bodies never reaches the store, and never breaks the trail.

Every route that takes an id is called with text that is not one (a name with an SSN, a
path traversal, markup, an id one character short …) by an administrator and a doctor.
Afterwards the day's audit listing, the export and the accounting of disclosures still
answer, and no byte of the store holds any of that text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import orjson

from carevault.api.app import PREFIX
from carevault.audit.recorder import AuditContext, Auditor
from carevault.audit.trail import verify
from carevault.domain.audit import Action
from carevault.domain.clinic import Role
from tests.api.conftest import Api

HOSTILE = (
    "not-a-ulid",
    "John Smith 987-65-4321",
    "../../etc/passwd",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "Jöhn Smïth ☃",
    "01JCW3Q4ZJ8X2M5N7P9R1T3V5",  # one character short of an id
    "x" * 2000,
)
MARKERS = (b"not-a-ulid", b"987-65-4321", b"etc/passwd", b"OR 1=1", b"<script>", b"Sm\xc3\xafth")


def _routes_with_ids(api: Api) -> list[tuple[str, str, list[str]]]:
    """Every operation of the live OpenAPI document whose path takes a parameter."""
    paths = api.client.get(f"{PREFIX}/openapi.json").json()["paths"]
    found = []
    for path, operations in paths.items():
        if "{" in path:
            params = re.findall(r"{(\w+)}", path)
            found += [(method.upper(), path, params) for method in sorted(operations)]
    return found


def _store_bytes(tmp: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(tmp.rglob("*.db*")) if p.is_file())


def test_hostile_ids_are_withheld_and_the_trail_still_lists(
    sqlite_api: Api, tmp_path: Path
) -> None:
    api, c = sqlite_api, sqlite_api.client
    person = api.world.patient()
    routes = _routes_with_ids(api)
    assert len(routes) >= 15  # every route with an id is exercised
    callers = [api.headers(Role.ADMIN), api.headers(Role.DOCTOR)]
    for headers in callers:
        for method, path, params in routes:
            for text in HOSTILE:
                url = path
                for name in params:
                    value = "note" if name == "kind" else quote(text, safe="")
                    url = url.replace("{" + name + "}", value)
                body = {"reason": text, "patient_id": text, "note": text}
                sent = c.request(method, url, headers=headers, json=body)
                assert sent.status_code < 500, (method, path, sent.text)
    auditor = api.headers(Role.ADMIN)
    day = datetime.now(UTC).date().isoformat()
    for level in (None, "CRITICAL", "HIPAA", "STANDARD"):
        params = {"day": day} if level is None else {"day": day, "level": level}
        listed = c.get(f"{PREFIX}/audit/events", params=params, headers=auditor)
        assert listed.status_code == 200, listed.text
    exported = c.get(f"{PREFIX}/audit/export", headers=auditor)
    assert exported.status_code == 200
    rows = [orjson.loads(line) for line in exported.text.splitlines()]
    # the attempts are recorded, with the ids withheld; every id recorded is an id
    assert any(r.get("withheld") for r in rows)
    for row in rows:
        for name in ("resource_id", "patient_id"):
            assert row[name] is None or re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", row[name]), row
    report = verify(api.world.practice.audit)
    assert report.intact and len(rows) >= report.events - 1  # the export's own event follows
    disclosed = c.post(
        f"{PREFIX}/audit/disclosures",
        json={"patient_id": person.id, "since": day},
        headers=auditor,
    )
    assert disclosed.status_code == 200, disclosed.text
    stored = _store_bytes(tmp_path)
    assert stored, "the store's files were not found"
    for marker in MARKERS:
        assert marker not in stored, marker


def test_an_event_stored_before_ids_were_checked_still_lists_withheld(sqlite_api: Api) -> None:
    trail = sqlite_api.world.practice.audit
    auditor = Auditor(trail, AuditContext(actor="legacy", role="ADMIN"))
    legacy = auditor.event(Action.DENIED, "NOTE", None, None)
    legacy["patient_id"] = "John Smith"  # as events were written before ids were checked
    garbled = auditor.event(Action.READ, "NOTE", None, None)
    garbled["action"] = "EXFILTRATE"
    trail.append([legacy, garbled])
    day = datetime.now(UTC).date()
    shown = [e for s in range(trail.shards) for e in trail.query("gsi1", f"AUDIT#DAY#{day}#S{s}")]
    mine = {e.id: e for e in shown}
    assert mine[legacy["id"]].patient_id is None and mine[legacy["id"]].withheld
    assert mine[garbled["id"]].resource_type == "UNREADABLE"
    assert "John Smith" not in repr(shown)
