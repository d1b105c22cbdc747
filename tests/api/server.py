"""A seeded SQLite clinic behind uvicorn, in its own process (schemathesis, HTTP bench).

Run as ``python -m tests.api.server DIR PORT [PATIENTS]``: it seeds a clinic in DIR (a
doctor, staff, billing, an administrator signed in with a TOTP code, patients), prints one
JSON line (access tokens by role, ids) and serves the API on 127.0.0.1:PORT, as ``carevault
serve`` would over the same store (reads audited through its appender process), beside
``GET /bench/bare``, a bare endpoint returning a constant JSON (the HTTP benchmark's
baseline; it is not part of carevault's API). ``stores(DIR)`` opens what it wrote.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import uvicorn

from carevault.api.app import create_app
from carevault.api.runtime import Limits, Runtime
from carevault.crypto import Keyring, LocalKeyProvider
from carevault.domain.clinic import Role
from carevault.store import Store, open_store
from tests.api.conftest import make_api
from tests.domain.world import make_world

ROLES = (Role.ADMIN, Role.STAFF, Role.BILLING, Role.DOCTOR)


def _url(tmp: Path, name: str) -> str:
    return f"sqlite:///{tmp}/{name}.db"


def stores(tmp: Path) -> tuple[Store, Keyring]:
    """The data store and keyring a server seeded in ``tmp`` (after it stopped)."""
    return open_store(_url(tmp, "data")), Keyring(
        open_store(_url(tmp, "data-keys")), LocalKeyProvider.load(tmp / "root.key")
    )


def main() -> None:
    tmp, port = Path(sys.argv[1]), int(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    names = iter(["data", "data-keys"])  # as CAREVAULT_HOME=DIR carevault serve finds them
    opened: list[Store] = []

    def make() -> Store:
        store = open_store(_url(tmp, next(names)))
        store.create_table()
        opened.append(store)
        return store

    world = make_world(make, tmp)
    ids = [world.patient().id for _ in range(count)]
    limits = Limits(per_minute=10**9, login_per_minute=10**9)
    api = make_api(world, limits)
    tokens = {role.value: api.tokens(role)["access_token"] for role in ROLES}
    # served as `carevault serve` serves it: over the store opened from its URL (so reads
    # are audited through the store's appender process), not the seeding's counting wrapper
    served = open_store(_url(tmp, "data"))
    app = create_app(Runtime(served, world.ring, world.blobs, limits))

    @app.get("/bench/bare", include_in_schema=False)
    def bare() -> dict[str, object]:
        return {"status": "ok", "items": [1, 2, 3]}

    # first, as in the plain app it is measured against: the bare endpoint measures the
    # fixed cost of a request (edge, framework), not how deep a route table it ends
    app.router.routes.insert(0, app.router.routes.pop())

    seeded = {"tokens": tokens, "patients": ids, "doctor": world.doctor.id, "tenant": world.tenant}
    print(json.dumps(seeded), flush=True)
    try:
        uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    finally:
        for store in [served, *opened]:  # each stops its appender: its shared memory and
            store.close()  # semaphores are released


if __name__ == "__main__":
    main()
