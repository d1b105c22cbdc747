"""The ``world`` fixture: a fresh clinic on the test's engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from carevault.store import Store
from tests.domain.world import World, make_world


@pytest.fixture
def world(make_store: Callable[[], Store], tmp_path: Path) -> World:
    return make_world(make_store, tmp_path)
