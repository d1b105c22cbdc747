"""The practice domain on SQLite and PostgreSQL, against the raw engine in the same run.

- register: patients registered per second through the service (every PHI field sealed,
  beacons, the MRN sentinel, the reference checks, the change feed) vs raw transactions
  inserting the same number of rows of the same size;
- get / find_email: a patient by id, and by email through its beacon (absolute rates,
  and get against a raw read of the same row);
- provider_day: latency of one provider's day (A7: appointments and blocks) with 10
  thousand appointments in the store, then with ``big`` (default 1 million; a tenth of them
  the same provider's, on other days): the ratio of the two (target <= 1.5).
  The bulk is written straight into the engine (copies of a real appointment item on
  other days), since only the size of the table and its indexes matters to the query.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from tests.engines import PG_URL, store_url

from benchmarks.store import RawPostgres, RawSqlite, measure
from carevault.crypto import Keyring, LocalKeyProvider
from carevault.domain.clinic import DayHours, ProviderProfile, Role, WorkingHours
from carevault.domain.patient import Patient
from carevault.services import clinics, patients, scheduling
from carevault.services.practice import Practice
from carevault.store import Store, open_store
from carevault.store.codec import decode, encode
from carevault.store.validate import KEY_COLUMNS

DAY = date(2027, 3, 1)
HOURS = WorkingHours(**{d: DayHours(start="07:00", end="19:00") for d in ("monday", "tuesday")})


def _person(i: int) -> dict[str, Any]:
    return {
        "mrn": f"B-{i:08d}",
        "first_name": f"Quinlan{i}",
        "last_name": f"Whitford{i % 97}",
        "date_of_birth": "1961-07-04",
        "gender": "FEMALE",
        "email": f"q{i}@example.org",
        "phone": f"+1 415 555 {i % 10000:04d}",
        "ssn": f"987-65-{i % 10000:04d}",
        "allergies": ["Penicillin"],
        "medications": ["Lisinopril"],
        "blood_type": "O+",
        "address": {"street": "1 Main St", "city": "Springfield", "country": "US"},
    }


def _world(engine: str, tmp: Path) -> tuple[Store, Practice, str]:
    store = open_store(store_url(engine, tmp, None))
    keys = open_store(store_url(engine, tmp, None))
    store.create_table()
    keys.create_table()
    ring = Keyring(keys, LocalKeyProvider.create(tmp / f"root-{engine}.key"))
    clinic = clinics.create_clinic(store=store, ring=ring, name="Bench", time_zone="UTC")
    practice = Practice.open(store, ring, clinic.id, actor="bench")
    doctor = clinics.add_user(
        practice=practice,
        first_name="D",
        last_name="D",
        email=f"d.{clinic.id.lower()}@example.org",
        role=Role.DOCTOR,
    )
    scheduling.set_profile(
        practice=practice,
        profile=ProviderProfile.create(
            id=doctor.id, license_number="L", specialization="GP", working_hours=HOURS
        ),
    )
    return store, practice, doctor.id


def _rows_per_registration(store: Store, practice: Practice, start: int) -> tuple[int, int]:
    """How many items one registration writes, and the average size of one, from the feed."""
    position = None
    while True:
        page = store.changes(position, limit=1000)
        if not page.changes:
            break
        position = page.position
    patients.register(practice=practice, **_person(start))
    page = store.changes(position, limit=1000)
    sizes = [len(encode(c.new)) for c in page.changes if c.new is not None]
    return len(sizes), int(statistics.mean(sizes))


def _raw(engine: str, tmp: Path) -> tuple[Store, RawSqlite | RawPostgres]:
    base = open_store(store_url(engine, tmp, None))
    base.create_table()
    if engine == "sqlite":
        return base, RawSqlite(base.path)  # type: ignore[attr-defined]
    return base, RawPostgres(base.schema)  # type: ignore[attr-defined]


def _raw_register(raw: RawSqlite | RawPostgres, rows: int, size: int):  # type: ignore[no-untyped-def]
    payload = b"\x01" * size

    def insert(i: int) -> None:
        batch = [
            (f"T#b#PATIENT#{i:09d}#{k}", "#", *([None] * (len(KEY_COLUMNS) - 2)), None, payload)
            for k in range(rows)
        ]
        if isinstance(raw, RawSqlite):
            raw.conn.execute("BEGIN IMMEDIATE")
            raw.conn.executemany(raw.upsert, batch)
            raw.conn.execute("COMMIT")
        else:
            with raw.conn.transaction(), raw.conn.cursor() as cur:
                cur.executemany(raw.upsert, batch)

    return insert


def _latency(fn: Any, repeat: int = 200) -> float:
    """Median seconds of ``fn()`` over ``repeat`` calls, after a warm-up."""
    for _ in range(20):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _fill(engine: str, store: Store, template: dict[str, Any], count: int, offset: int) -> None:
    """Write ``count`` copies of an appointment item on other days straight into the engine."""

    def rows() -> Iterator[tuple[Any, ...]]:
        for n in range(offset, offset + count):
            day = (DAY + timedelta(days=1 + n % 3000)).isoformat()
            provider = template["gsi3pk"] + ("" if n % 10 == 0 else f"X{n % 500}")
            item = {
                **template,
                "pk": f"{template['pk']}X{n:08d}",
                "gsi1pk": template["gsi1pk"].rsplit("#", 1)[0] + f"#{day}",
                "gsi1sk": f"{day}T09:00:00Z#X{n:08d}",
                "gsi2pk": f"{template['gsi2pk']}X{n % 100000}",
                "gsi3pk": provider,  # a tenth are the measured provider's, on other days
                "gsi3sk": f"{day}T09:00:00Z#APPT#X{n:08d}",
                "gsi4pk": provider + "#STATUS#scheduled",
                "gsi4sk": f"{day}T09:00:00Z#X{n:08d}",
            }
            yield (*(item.get(c) for c in KEY_COLUMNS), None, encode(item))

    columns = ", ".join((*KEY_COLUMNS, "expires_at", "data"))
    if engine == "sqlite":
        import sqlite3

        with sqlite3.connect(store.path) as conn:  # type: ignore[attr-defined]
            marks = ", ".join("?" * (len(KEY_COLUMNS) + 2))
            conn.executemany(f"INSERT INTO items ({columns}) VALUES ({marks})", rows())
        return
    with psycopg.connect(PG_URL) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY {store.schema}.items ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in rows():
                copy.write_row(row)
        cur.execute(f"ANALYZE {store.schema}.items")  # type: ignore[attr-defined]


def _registrar(practice: Practice) -> Any:
    counter = iter(range(1, 10**9))
    return lambda i: patients.register(practice=practice, **_person(next(counter)))


def _reads(practice: Practice, store: Store, sample: Patient, home: str) -> dict[str, Any]:
    """Reads through the services, and the same row read through the engine's own client."""
    raw = RawSqlite(store.path) if store.engine == "sqlite" else RawPostgres(store.schema)  # type: ignore[attr-defined]
    table = "items" if isinstance(raw, RawSqlite) else f"{raw.schema}.items"
    mark = "?" if isinstance(raw, RawSqlite) else "%s"
    select = f"SELECT data FROM {table} WHERE pk = {mark} AND sk = {mark}"

    def raw_get(i: int) -> None:
        row = raw.conn.execute(select, (home, "#")).fetchone()  # type: ignore[union-attr]
        decode(row[0])

    return {
        "get_patient": (lambda i: practice.uow[Patient].get(sample.id), raw_get),
        "find_email": (
            lambda i: patients.find(practice=practice, by="email", value=str(sample.email)),
            None,
        ),
    }


def run(engines: list[str], seconds: float, rounds: int, big: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="carevault-bench-domain-"))
    for engine in [e for e in engines if e in ("sqlite", "postgresql")]:
        store, practice, doctor = _world(engine, tmp)
        base, raw = _raw(engine, tmp)
        rows, size = _rows_per_registration(store, practice, 0)
        ours = _registrar(practice)
        theirs = _raw_register(raw, rows, size)
        best_ours = best_raw = 0.0
        for _ in range(rounds):
            best_raw = max(best_raw, measure(theirs, seconds))
            best_ours = max(best_ours, measure(ours, seconds))
        results.append(
            {
                "engine": engine,
                "operation": "register",
                "carevault_ops": best_ours,
                "raw_ops": best_raw,
                "ratio": best_ours / best_raw,
                "rows": rows,
            }
        )
        print(
            f"  {engine:<11} register    {best_ours:.0f}/s, raw {best_raw:.0f}/s ({rows} rows)",
            flush=True,
        )
        sample = patients.register(practice=practice, **_person(10**8))
        home = f"T#{practice.tenant}#PATIENT#{sample.id}"
        reads = _reads(practice, store, sample, home)
        for op, (mine, raw_read) in reads.items():
            best_ours = max(measure(mine, seconds) for _ in range(rounds))
            best_raw = max(measure(raw_read, seconds) for _ in range(rounds)) if raw_read else 0
            results.append(
                {
                    "engine": engine,
                    "operation": op,
                    "carevault_ops": best_ours,
                    "raw_ops": best_raw or None,
                    "ratio": best_ours / best_raw if best_raw else None,
                }
            )
            print(f"  {engine:<11} {op:<11} {best_ours:.0f}/s", flush=True)
        results.append(_schedule(engine, store, practice, doctor, big))
        for s in (store, base):
            s.drop_table()
            s.close()
    return results


def _schedule(
    engine: str, store: Store, practice: Practice, doctor: str, big: int
) -> dict[str, Any]:
    people = [patients.register(practice=practice, **_person(2 * 10**8 + i)) for i in range(16)]
    zone = ZoneInfo("UTC")
    booked = [
        scheduling.book(
            practice=practice,
            patient_id=p.id,
            provider_id=doctor,
            start=datetime(2027, 3, 1, 7, tzinfo=zone) + timedelta(minutes=30 * i),
            end=datetime(2027, 3, 1, 7, 30, tzinfo=zone) + timedelta(minutes=30 * i),
        )
        for i, p in enumerate(people)
    ]
    template = store.get(f"T#{practice.tenant}#APPT#{booked[0].id}", "#")
    assert template is not None

    def query() -> None:
        line = scheduling.provider_timeline(
            practice=practice,
            provider_id=doctor,
            start=datetime(2027, 3, 1, tzinfo=zone),
            end=datetime(2027, 3, 2, tzinfo=zone),
        )
        assert len(line.appointments) == 16

    small = 10_000
    _fill(engine, store, template, small, 0)
    t_small = _latency(query)
    started = time.perf_counter()
    _fill(engine, store, template, big - small, small)
    loaded = time.perf_counter() - started
    t_big = _latency(query)
    ratio = t_big / t_small
    print(
        f"  {engine:<11} provider_day {t_small * 1e3:.2f} ms at 10k, {t_big * 1e3:.2f} ms at"
        f" {big:,} (ratio {ratio:.2f}; bulk load {loaded:.0f} s)",
        flush=True,
    )
    return {
        "engine": engine,
        "operation": "provider_day_1M/10k",
        "carevault_ops": 1 / t_big,
        "raw_ops": 1 / t_small,
        "ratio": t_small / t_big,
        "latency_ratio": ratio,
        "ms_small": t_small * 1e3,
        "ms_big": t_big * 1e3,
        "appointments": big,
    }
