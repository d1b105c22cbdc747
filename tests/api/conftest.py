"""The API over a real store, driven through HTTP with httpx (Starlette's TestClient)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient

from carevault.api.app import PREFIX, create_app
from carevault.api.runtime import Limits, Runtime
from carevault.domain.clinic import Role, User
from carevault.repo.credentials import stage_password
from carevault.services import clinics
from carevault.store import Store
from tests.domain.world import World, make_world
from tests.engines import new_store

PASSWORD = "tidal-Orchid-42-lantern"


@dataclass
class Api:
    """A client of the API and the clinic behind it."""

    client: TestClient
    world: World
    rt: Runtime
    users: dict[Role, User] = field(default_factory=dict)

    def user(self, role: Role) -> User:
        if role not in self.users:
            if role is Role.DOCTOR:
                user = self.world.doctor
            else:
                user = clinics.add_user(
                    practice=self.world.practice,
                    first_name="Lee",
                    last_name=role.value.title(),
                    email=f"{role.value.lower()}.{self.world.tenant.lower()}@example.org",
                    role=role,
                )
            stage_password(self.world.practice.uow, user.id, PASSWORD)
            self.world.practice.uow.commit()
            self.users[role] = user
        return self.users[role]

    def tokens(self, role: Role) -> dict[str, str]:
        """Sign in as the clinic's user of ``role`` (with a TOTP code where MFA applies)."""
        user = self.user(role)
        sent = self.client.post(
            f"{PREFIX}/sessions", json={"email": user.email, "password": PASSWORD}
        )
        if sent.status_code == 202:
            secret = self.rt.auth.enroll_totp(self.world.tenant, user.id)
            sent = self.client.post(
                f"{PREFIX}/sessions/mfa",
                json={"ticket": sent.json()["mfa_ticket"], "code": pyotp.TOTP(secret).now()},
            )
        assert sent.status_code == 201, sent.text
        tokens: dict[str, str] = sent.json()
        return tokens

    def headers(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens(role)['access_token']}"}


def make_api(world: World, limits: Limits | None = None) -> Api:
    rt = Runtime(world.store, world.ring, world.blobs, limits or Limits())
    return Api(TestClient(create_app(rt), raise_server_exceptions=False), world, rt)


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    """The API over a SQLite store (the full API suite runs here)."""
    opened: list[Store] = []

    def make() -> Store:
        store = new_store("sqlite", tmp_path, None)
        opened.append(store)
        return store

    api = make_api(make_world(make, tmp_path))
    yield api
    for store in opened:
        store.close()


@pytest.fixture
def engine_api(make_store: Callable[[], Store], tmp_path: Path) -> Api:
    """The API over the test's engine (the smoke set runs on all three)."""
    return make_api(make_world(make_store, tmp_path))
