"""The server side of the HTTP benchmark: a seeded SQLite clinic behind uvicorn.

Run as ``python -m benchmarks.http_server DIR PORT``: it seeds a clinic (a doctor, a staff
user, patients), prints one JSON line (token, ids) and serves the API on 127.0.0.1:PORT
beside ``GET /bench/bare``, a bare endpoint returning a constant JSON (the baseline).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import uvicorn
from fastapi.testclient import TestClient
from tests.domain.world import World, make_world

from carevault.api.app import PREFIX, create_app
from carevault.api.runtime import Limits, Runtime
from carevault.domain.clinic import Role
from carevault.repo.credentials import stage_password
from carevault.services import clinics
from carevault.store import open_store

PATIENTS = 200
PASSWORD = "bench-Orchid-42-lantern"


def main() -> None:
    tmp, port = Path(sys.argv[1]), int(sys.argv[2])
    stores = iter(["data", "keys"])

    def make():  # type: ignore[no-untyped-def]
        store = open_store(f"sqlite:///{tmp}/{next(stores)}.db")
        store.create_table()
        return store

    world: World = make_world(make, tmp)
    ids = [world.patient().id for _ in range(PATIENTS)]
    staff = clinics.add_user(
        practice=world.practice,
        first_name="Lee",
        last_name="Staff",
        email="staff@bench.example.org",
        role=Role.STAFF,
    )
    stage_password(world.practice.uow, staff.id, PASSWORD)
    world.practice.uow.commit()
    rt = Runtime(world.store, world.ring, world.blobs, Limits(per_minute=10**9))
    app = create_app(rt)

    @app.get("/bench/bare")
    def bare() -> dict[str, object]:
        return {"status": "ok", "items": [1, 2, 3]}

    signed = TestClient(app).post(
        f"{PREFIX}/sessions", json={"email": staff.email, "password": PASSWORD}
    )
    token = signed.json()["access_token"]
    print(
        json.dumps({"token": token, "patients": ids, "doctor": world.doctor.id}),
        flush=True,
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
