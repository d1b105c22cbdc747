"""Sealed records of one tenant: PHI encrypted in the process, searchable through beacons.

Items (no PHI in any key; sealed fields are bytes):

    T#{t}#{TYPE}#{id}                 / #            home: plain fields, sealed fields,
                                                     the keys of its lookup items, version
                                                     (GSI1: T#{t}#REC#{TYPE} / id,
                                                      GSI2: T#{t}#SUBJECT#{s} / TYPE#id)
    T#{t}#LOOKUP#{index}#{v}:{beacon} / {TYPE}#{id}  one per beacon, written with the home

Each sealed field is AES-256-GCM under the subject's data key with associated data
``tenant|type|id|field|key version``. A lookup by value queries the beacon partitions of
every readable index key version (at most two), fetches the homes, decrypts, and drops
false positives by comparing normalized values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from carevault.crypto import aead
from carevault.crypto.beacons import BeaconIndex, beacon
from carevault.crypto.keyring import Keyring
from carevault.errors import ConflictError, KeyDestroyed, ValidationError
from carevault.store import Attr, Delete, Put, SortKey, Store

_pack = msgpack.Packer(use_bin_type=True).pack
_unpack = msgpack.unpackb


@dataclass(frozen=True, slots=True)
class Lookup:
    """A beacon index over one field of a record type."""

    index: BeaconIndex
    field: str


@dataclass(frozen=True, slots=True)
class RecordType:
    """What a record type seals and how it can be found."""

    name: str
    phi: frozenset[str]
    lookups: tuple[Lookup, ...] = ()
    subject: str | None = None  # field holding the subject id; None: the record is the subject


@dataclass(frozen=True, slots=True)
class Record:
    """A record as read back: plaintext fields and the version to update against."""

    type: str
    id: str
    version: int
    fields: dict[str, Any] = field(default_factory=dict)


class Records:
    """Sealed records of one tenant; keys are built from that tenant alone."""

    def __init__(
        self, store: Store, ring: Keyring, tenant: str, types: Sequence[RecordType]
    ) -> None:
        self.store, self.ring, self.tenant = store, ring, tenant
        self.types = {t.name: t for t in types}
        ring.ensure_tenant(tenant)

    def _type(self, name: str) -> RecordType:
        found = self.types.get(name)
        if found is None:
            raise ValidationError("record.type", f"unknown record type {name!r}")
        return found

    def _home(self, type_name: str, record_id: str) -> tuple[str, str]:
        if not record_id or "#" in record_id:
            raise ValidationError("record.id", "must be a non-empty id without '#'")
        return f"T#{self.tenant}#{type_name}#{record_id}", "#"

    def _context(self, type_name: str, record_id: str, version: int) -> tuple[bytes, bytes]:
        """A field's associated data is ``prefix + field + suffix``: tenant|type|id|field|kv."""
        return f"{self.tenant}|{type_name}|{record_id}|".encode(), f"|{version}".encode()

    # -- writing ---------------------------------------------------------------------

    def _lookups(self, rt: RecordType, record_id: str, values: dict[str, Any]) -> list[list[str]]:
        keys = self.ring.index_keys(self.tenant)
        out = []
        for lookup in rt.lookups:
            value = values.get(lookup.field)
            if type(value) is not str:
                continue
            for version in keys.write:
                code = beacon(keys.keys[version], lookup.index, value)
                if code is not None:
                    pk = f"T#{self.tenant}#LOOKUP#{lookup.index.name}#{version}:{code}"
                    out.append([pk, f"{rt.name}#{record_id}"])
        return out

    def put(
        self,
        type_name: str,
        record_id: str,
        fields: dict[str, Any],
        *,
        expected_version: int | None = None,
    ) -> int:
        """Create or replace a record; returns its new version.

        ``expected_version`` (optimistic locking): the write fails with ConflictError if
        the stored record has another version (0 means "must not exist yet").
        """
        rt = self._type(type_name)
        pk, sk = self._home(type_name, record_id)
        subject = record_id if rt.subject is None else fields.get(rt.subject)
        if type(subject) is not str or not subject:
            raise ValidationError(f"record.{rt.subject}", "must name the record's subject")
        current = self.store.get(pk, sk)
        version = 0 if current is None else int(current["version"])
        if expected_version is not None and expected_version != version:
            raise ConflictError("the record changed since it was read; read it again")
        kv, key = self.ring.subject_key(self.tenant, subject, create=True)
        prefix, suffix = self._context(type_name, record_id, kv)
        sealed = {
            name: aead.seal(key, kv, _pack(value), prefix + name.encode() + suffix)
            for name, value in fields.items()
            if name in rt.phi
        }
        plain = {k: v for k, v in fields.items() if k not in rt.phi}
        lookups = self._lookups(rt, record_id, fields)
        home = {
            "pk": pk,
            "sk": sk,
            "gsi1pk": f"T#{self.tenant}#REC#{type_name}",
            "gsi1sk": record_id,
            "gsi2pk": f"T#{self.tenant}#SUBJECT#{subject}",
            "gsi2sk": f"{type_name}#{record_id}",
            "subject": subject,
            "plain": plain,
            "sealed": sealed,
            "lookups": lookups,
            "version": version + 1,
        }
        self._commit(home, current, lookups)
        return version + 1

    def _commit(
        self, home: dict[str, Any], current: dict[str, Any] | None, lookups: list[list[str]]
    ) -> None:
        old = {tuple(k) for k in current["lookups"]} if current else set()
        new = {tuple(k) for k in lookups}
        condition = (
            Attr("pk").not_exists() if current is None else Attr("version").eq(current["version"])
        )
        actions: list[Put | Delete] = [Put(home, condition)]
        actions += [Put({"pk": p, "sk": s, "ref": home["pk"]}) for p, s in sorted(new - old)]
        actions += [Delete(p, s) for p, s in sorted(old - new)]
        self.store.transact_write(actions)

    # -- reading ---------------------------------------------------------------------

    def _open(self, item: dict[str, Any]) -> Record:
        type_name, record_id = item["pk"].split("#")[2], item["gsi1sk"]
        fields = dict(item["plain"])
        if item["sealed"]:
            kv, key = self.ring.subject_key(self.tenant, item["subject"])
            prefix, suffix = self._context(type_name, record_id, kv)
            opened = aead.open_fields(key, kv, item["sealed"], prefix, suffix)
            for name, plaintext in opened.items():
                fields[name] = _unpack(plaintext)
        return Record(type_name, record_id, int(item["version"]), fields)

    def get(self, type_name: str, record_id: str) -> Record | None:
        """A record by id, decrypted; None if there is none."""
        self._type(type_name)
        item = self.store.get(*self._home(type_name, record_id))
        return None if item is None else self._open(item)

    def find(self, type_name: str, index: str, value: str) -> list[Record]:
        """Records whose ``index`` field matches ``value`` (false positives removed)."""
        rt = self._type(type_name)
        lookup = next((lk for lk in rt.lookups if lk.index.name == index), None)
        if lookup is None:
            raise ValidationError("find.index", f"{type_name} has no index {index!r}")
        wanted = lookup.index.normalize(value)
        if wanted is None:
            return []
        keys = self.ring.index_keys(self.tenant)
        homes: dict[tuple[str, str], None] = {}
        for version in keys.read:
            code = beacon(keys.keys[version], lookup.index, value)
            partition = f"T#{self.tenant}#LOOKUP#{index}#{version}:{code}"
            for item in self.store.query_all(partition, sk=SortKey.begins_with(f"{type_name}#")):
                homes[(item["ref"], "#")] = None
        found = []
        for home in self.store.batch_get(list(homes)):
            if home is None:
                continue
            record = self._open(home)
            candidate = record.fields.get(lookup.field)
            if type(candidate) is str and lookup.index.normalize(candidate) == wanted:
                found.append(record)
        return found

    def ids(self, type_name: str, after: str = "") -> Iterator[str]:
        """Ids of every record of a type, in id order, after ``after``."""
        self._type(type_name)
        sk = SortKey.gt(after) if after else None
        for item in self.store.query_all(f"T#{self.tenant}#REC#{type_name}", index="gsi1", sk=sk):
            yield item["gsi1sk"]

    def delete(self, type_name: str, record_id: str) -> None:
        """Remove a record and its lookup items."""
        pk, sk = self._home(type_name, record_id)
        current = self.store.get(pk, sk)
        if current is None:
            return
        actions: list[Put | Delete] = [Delete(pk, sk, Attr("version").eq(current["version"]))]
        actions += [Delete(p, s) for p, s in current["lookups"]]
        self.store.transact_write(actions)

    def reindex(self, type_name: str, record_id: str) -> bool:
        """Bring a record's lookup items to the current index key versions; True if changed."""
        rt = self._type(type_name)
        current = self.store.get(*self._home(type_name, record_id))
        if current is None:
            return False
        try:
            record = self._open(current)
        except KeyDestroyed:  # shredded: nothing left to index
            return False
        lookups = self._lookups(rt, record_id, record.fields)
        if {tuple(k) for k in lookups} == {tuple(k) for k in current["lookups"]}:
            return False
        self._commit(
            {**current, "lookups": lookups, "version": record.version + 1}, current, lookups
        )
        return True

    def shred(self, subject: str) -> int:
        """Crypto-shred a subject: drop its lookup items, then destroy its data key.

        Every copy of the subject's sealed fields, backups included, becomes unreadable;
        returns how many records were affected.
        """
        count = 0
        partition = f"T#{self.tenant}#SUBJECT#{subject}"
        for item in list(self.store.query_all(partition, index="gsi2")):
            actions: list[Put | Delete] = [
                Put({**item, "lookups": []}, Attr("version").eq(item["version"]))
            ]
            actions += [Delete(p, s) for p, s in item["lookups"]]
            self.store.transact_write(actions)
            count += 1
        self.ring.shred(self.tenant, subject)
        return count
