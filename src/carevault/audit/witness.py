"""The witness log: signed digests kept outside the data store, append-only.

Someone who can rewrite the data store can make a trail that is consistent with itself
(an old backup, a chain deleted whole); they cannot make it extend a digest kept
elsewhere. ``CAREVAULT_WITNESS`` names where:

- ``file:///path/witness.jsonl`` (or a plain path): one digest a line, appended and
  fsynced (give it to a host or volume the database's operators cannot write, or to a
  write-once mount);
- ``sqlite:///…``, ``postgresql://…``, ``dynamodb://…``: another database, whose items
  are put on condition that none exists under their key (never overwritten);
- ``none``: no witness (verification then proves consistency, not completeness).

The default is a file beside the key table: ``…/carevault-witness.jsonl`` next to
``carevault-keys.db`` for SQLite, else ``$CAREVAULT_HOME/witness/<engine>-<hash>.jsonl``.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from carevault.audit.digest import Digest, parse
from carevault.domain.ids import new_id
from carevault.errors import ConfigurationError, ValidationError
from carevault.store import Attr, Store, open_store

WITNESS_VAR = "CAREVAULT_WITNESS"


@dataclass(frozen=True, slots=True)
class Witnessed:
    """A tenant's digests in a witness log, and how many of its entries were unreadable."""

    digests: list[Digest]
    unreadable: int = 0


class Witness(Protocol):
    """Where digests are kept, outside the data store."""

    def append(self, digest: Digest) -> None: ...

    def read(self, tenant: str) -> Witnessed: ...


class FileWitness:
    """Digests as JSON lines in a file, each appended with one write and fsynced."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, digest: Digest) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, digest.line() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self, tenant: str) -> Witnessed:
        if not self.path.exists():
            return Witnessed([])
        found, bad = [], 0
        needle = f'"tenant":"{tenant}"'.encode()
        with self.path.open("rb") as lines:
            for line in lines:
                if needle not in line:
                    continue
                try:
                    found.append(parse(line, "witness"))
                except ValidationError:
                    bad += 1
        return Witnessed(found, bad)


class StoreWitness:
    """Digests as items of another store: ``WITNESS#{tenant} / {at}#{id}``, never replaced."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def append(self, digest: Digest) -> None:
        item = {
            "pk": f"WITNESS#{digest.tenant}",
            "sk": f"{digest.at}#{new_id()}",
            "digest": digest.line(),
        }
        self.store.put(item, condition=Attr("pk").not_exists())

    def read(self, tenant: str) -> Witnessed:
        found, bad = [], 0
        for item in self.store.query_all(f"WITNESS#{tenant}"):
            try:
                found.append(parse(bytes(item["digest"]), "witness"))
            except (KeyError, TypeError, ValidationError):
                bad += 1
        return Witnessed(found, bad)


def witness_url(store_url: str) -> str:
    """Where the witness of the data store at ``store_url`` is (``CAREVAULT_WITNESS``)."""
    chosen = os.environ.get(WITNESS_VAR)
    if chosen:
        return chosen
    scheme = store_url.split("://", 1)[0].lower()
    if scheme == "sqlite":
        path = store_url[len("sqlite:///") :].partition("?")[0]
        stem = path[:-3] if path.endswith(".db") else path
        return f"file:///{stem}-witness.jsonl"
    home = Path(os.environ.get("CAREVAULT_HOME") or "./.carevault").resolve()
    name = hashlib.sha256(store_url.encode()).hexdigest()[:16]
    return f"file://{home}/witness/{scheme}-{name}.jsonl"


def open_witness(url: str) -> Witness | None:
    """The witness log at ``url``; None for ``none``."""
    if url.lower() == "none":
        return None
    if url.startswith("file://"):
        return FileWitness(Path(url[len("file://") :]))
    if "://" not in url:
        return FileWitness(Path(url))
    try:
        store = open_store(url)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{WITNESS_VAR}: {exc}") from None
    store.create_table()
    return StoreWitness(store)


_WITNESSES: dict[str, Witness | None] = {}
_LOCK = threading.Lock()


def witness_for(store: Store) -> Witness | None:
    """The witness log of ``store`` (None for a store not opened from a URL, or ``none``)."""
    if store.url is None:
        return None
    url = witness_url(store.url)
    with _LOCK:
        if url not in _WITNESSES:
            _WITNESSES[url] = open_witness(url)
        return _WITNESSES[url]
