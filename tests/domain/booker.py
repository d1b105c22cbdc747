"""Books one appointment from a separate process (the two-process double-booking test)."""

from __future__ import annotations

from datetime import datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path

from carevault.crypto import Keyring, LocalKeyProvider
from carevault.errors import ConflictError
from carevault.services import scheduling
from carevault.services.practice import Practice
from carevault.store import open_store


def book_once(
    data_url: str,
    keys_url: str,
    root: str,
    tenant: str,
    patient: str,
    provider: str,
    start: str,
    end: str,
    barrier: Barrier,
) -> str:
    """'booked', or the name of the conflict that refused it."""
    store, keys = open_store(data_url), open_store(keys_url)
    ring = Keyring(keys, LocalKeyProvider.load(Path(root)))
    practice = Practice.open(store, ring, tenant, actor=provider)
    barrier.wait()
    try:
        scheduling.book(
            practice=practice,
            patient_id=patient,
            provider_id=provider,
            start=datetime.fromisoformat(start),
            end=datetime.fromisoformat(end),
        )
        return "booked"
    except ConflictError as exc:
        return type(exc).__name__
    finally:
        store.close()
        keys.close()
