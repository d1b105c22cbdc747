"""Encryption costs: field seal/open and beacons alone, then a whole record on SQLite.

The record has 10 PHI fields and 4 beacons. The baseline stores the same record in
plaintext the same way — read the current version, then one transaction writing the home
item and 4 lookup items (keyed by the plain normalized values) — so the ratio is the
cost of sealing, beacons and key lookups alone. Reported three ways: write, read, and
the round trip (write then read) that the target applies to.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from benchmarks.store import measure
from carevault.crypto import Keyring, LocalKeyProvider, aead
from carevault.crypto.beacons import BeaconIndex, beacon
from carevault.crypto.normalize import email, name, phone, prefix
from carevault.repo.records import Lookup, Records, RecordType
from carevault.store import Attr, Put, open_store

LOOKUPS = (
    Lookup(BeaconIndex("email", email, 32), "email"),
    Lookup(BeaconIndex("phone", phone, 32), "phone"),
    Lookup(BeaconIndex("last_name", name, 16), "last_name"),
    Lookup(BeaconIndex("last_prefix", prefix(3), 12), "last_name"),
)
FIELDS = ("first_name", "last_name", "email", "phone", "ssn", "dob", "address",
          "allergies", "medications", "notes")  # fmt: skip
PATIENT = RecordType("PATIENT", phi=frozenset(FIELDS), lookups=LOOKUPS)
KEYS = 200


def record(i: int) -> dict[str, Any]:
    return {
        "first_name": f"Quinlan{i}", "last_name": "Whitford", "email": f"q{i}@example.org",
        "phone": f"(415) 555-{i % 10000:04d}", "ssn": f"987-65-{i % 10000:04d}",
        "dob": "1961-07-04", "address": "12 Harbour Road, Portsmouth",
        "allergies": "penicillin", "medications": "sumatriptan 50 mg",
        "notes": "Chronic migraine with aura; follow up in 6 weeks.", "status": "active",
    }  # fmt: skip


def plain_put(store: Any, i: int) -> None:
    fields = record(i % KEYS)
    pk = f"T#bench#PATIENT#p{i % KEYS}"
    current = store.get(pk, "#")
    version = 0 if current is None else current["version"]
    lookups = [
        Put({"pk": f"T#bench#LOOKUP#{lk.index.name}#{lk.index.normalize(fields[lk.field])}",
             "sk": f"PATIENT#p{i % KEYS}", "ref": pk})
        for lk in LOOKUPS
    ]  # fmt: skip
    home = {"pk": pk, "sk": "#", "fields": fields, "version": version + 1}
    cond = Attr("pk").not_exists() if current is None else Attr("version").eq(version)
    store.transact_write([Put(home, cond), *lookups])


def run(seconds: float, rounds: int) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="carevault-bench-crypto-"))
    key, aad = bytes(range(32)), b"t|PATIENT|p1|ssn|1"
    field_key = aead.cipher(key)
    sealed = aead.seal(field_key, 1, b"987-65-4321", aad)
    index = LOOKUPS[0].index
    micro = {
        "field_encrypt": lambda i: aead.seal(field_key, 1, b"987-65-4321", aad),
        "field_decrypt": lambda i: aead.open_sealed(field_key, sealed, aad),
        "beacon": lambda i: beacon(key, index, f"patient{i}@example.org"),
    }
    results: list[dict[str, Any]] = []
    for op, fn in micro.items():
        best = max(measure(fn, seconds) for _ in range(rounds))
        results.append({"engine": "-", "operation": op, "carevault_ops": best,
                        "raw_ops": None, "ratio": None})  # fmt: skip
        print(f"  crypto      {op:<16} {best:.0f}/s", flush=True)

    sealed_store = open_store(f"sqlite:///{tmp / 'sealed.db'}")
    plain_store = open_store(f"sqlite:///{tmp / 'plain.db'}")
    keys_store = open_store(f"sqlite:///{tmp / 'keys.db'}")
    for s in (sealed_store, plain_store, keys_store):
        s.create_table()
    ring = Keyring(keys_store, LocalKeyProvider.create(tmp / "root.key"))
    records = Records(sealed_store, ring, "bench", [PATIENT], create=True)  # its own tenant
    for i in range(KEYS):
        records.put("PATIENT", f"p{i}", record(i))
        plain_put(plain_store, i)
    pairs = {
        "record_write": (
            lambda i: records.put("PATIENT", f"p{i % KEYS}", record(i % KEYS)),
            lambda i: plain_put(plain_store, i),
        ),
        "record_read": (
            lambda i: records.get("PATIENT", f"p{i % KEYS}"),
            lambda i: plain_store.get(f"T#bench#PATIENT#p{i % KEYS}", "#"),
        ),
        "record_roundtrip": (
            lambda i: (
                records.put("PATIENT", f"p{i % KEYS}", record(i % KEYS)),
                records.get("PATIENT", f"p{i % KEYS}"),
            ),
            lambda i: (
                plain_put(plain_store, i),
                plain_store.get(f"T#bench#PATIENT#p{i % KEYS}", "#"),
            ),
        ),
    }
    for op, (ours, theirs) in pairs.items():
        best_ours = best_raw = 0.0
        for _ in range(rounds):
            best_raw = max(best_raw, measure(theirs, seconds))
            best_ours = max(best_ours, measure(ours, seconds))
        results.append({"engine": "sqlite", "operation": op, "carevault_ops": best_ours,
                        "raw_ops": best_raw, "ratio": best_ours / best_raw})  # fmt: skip
        print(f"  sqlite      {op:<16} ratio {best_ours / best_raw:.2f}", flush=True)
    for s in (sealed_store, plain_store, keys_store):
        s.close()
    return results
