"""PostgreSQL's row-level security is a second wall behind the application's tenant keys.

A store scoped to one clinic is handed keys built for another clinic, as a bug above the
repository would build them: the engine itself returns nothing, refuses to write, and
counts nothing, although the rows are there. The store connects as the superuser
``postgres``, so this also shows the superuser's bypass of row security is not in effect.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from carevault.errors import StoreError
from carevault.store import Put, Store
from carevault.store.postgres import PostgresStore
from tests.engines import new_store


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Store]:
    store = new_store("postgresql", tmp_path, None)
    yield store
    store.drop_table()
    store.close()


def test_a_clinics_scoped_store_cannot_touch_another_clinics_rows(postgres: Store) -> None:
    assert isinstance(postgres, PostgresStore)
    theirs = {"pk": "T#clinicB#PATIENT#01", "sk": "#", "gsi1pk": "T#clinicB#PATIENT", "gsi1sk": "1"}
    postgres.put(theirs)
    postgres.put(
        {"pk": "T#clinicA#PATIENT#02", "sk": "#", "gsi1pk": "T#clinicA#PATIENT", "gsi1sk": "2"}
    )
    postgres.put({"pk": "DIRECTORY", "sk": "clinicB"})  # a platform row
    mine = postgres.scoped("clinicA")

    assert mine.get("T#clinicB#PATIENT#01", "#") is None  # the row exists ...
    assert postgres.get("T#clinicB#PATIENT#01", "#") is not None  # ... for the unscoped store
    assert mine.batch_get([("T#clinicB#PATIENT#01", "#")]) == [None]
    assert mine.query("T#clinicB#PATIENT", index="gsi1").items == []
    assert mine.query("T#clinicB#PATIENT#01").items == []
    assert [i["pk"] for i in mine.query("T#clinicA#PATIENT", index="gsi1").items] == [
        "T#clinicA#PATIENT#02"
    ]
    assert mine.get("DIRECTORY", "clinicB") is not None  # platform rows have their own rule
    with pytest.raises(StoreError):
        mine.put({"pk": "T#clinicB#PATIENT#03", "sk": "#"})  # WITH CHECK: no write either
    with pytest.raises(StoreError):
        mine.transact_write([Put({"pk": "T#clinicB#PATIENT#01", "sk": "#", "x": 1})])
    assert postgres.get("T#clinicB#PATIENT#01", "#") == theirs
    assert postgres.get("T#clinicB#PATIENT#03", "#") is None
    # a tenant whose name holds LIKE wildcards matches no other tenant's rows
    assert postgres.scoped("clinic_").get("T#clinicB#PATIENT#01", "#") is None
    assert postgres.scoped("%").query("T#clinicB#PATIENT", index="gsi1").items == []
