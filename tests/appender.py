"""Waiting, with a deadline, for a store's audit appender to start serving."""

from __future__ import annotations

import time

from carevault.audit.appender import Appender, appender_for
from carevault.store import Store


def ready(store: Store) -> Appender:
    """The store's appender once it beats (it starts in the background on first use)."""
    give_up = time.monotonic() + 240  # a hang, not slowness: generous on a shared machine
    while True:
        appender = appender_for(store)
        if appender is not None and appender.ready:
            return appender
        assert time.monotonic() < give_up, "the appender never became ready"
        time.sleep(0.05)
