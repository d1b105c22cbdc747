"""Rate limits counted in the store: shared by processes, synced at most once a second."""

from __future__ import annotations

import time

import pytest

from carevault.api.problems import Problem
from carevault.api.protocol import RateLimiter
from carevault.store import Store


def test_two_processes_share_one_limit(store: Store) -> None:
    a, b = RateLimiter(store), RateLimiter(store)  # two server processes, one store
    t = (int(time.time()) // 60 + 1) * 60  # the start of a minute (stored counts expire)
    window = str(t // 60)
    for _ in range(3):
        a.hit("USER#u1", 5, now=t)  # the first syncs; two wait for the next sync
    a.hit("USER#u1", 5, now=t + 1.5)  # syncs: the store counts 4
    assert store.get("PLATFORM#RATE#USER#u1", window)["count"] == 4  # type: ignore[index]
    b.hit("USER#u1", 5, now=t + 1.6)  # b learns the 4 and adds its own: 5
    with pytest.raises(Problem) as refused:
        b.hit("USER#u1", 5, now=t + 1.7)
    assert refused.value.status == 429
    assert refused.value.headers["Retry-After"] == "59"
    b.hit("USER#u2", 5, now=t + 1.8)  # another caller has its own count
    b.hit("USER#u1", 5, now=t + 60)  # a new minute starts from zero
