"""Sealed records of one tenant: PHI encrypted in the process, searchable through beacons.

Items (no PHI in any key; sealed fields are bytes):

    T#{t}#{TYPE}#{id}                  / #            home: type, id, plain fields, sealed
                                                      fields, its lookup and sentinel keys,
                                                      version, deleted_at
        GSI2: T#{t}#SUBJECT#{s}        / {TYPE}#{when}#{id}   everything about a subject
        other GSIs: the record type's key templates (Slot), over plain fields only
    T#{t}#LOOKUP#{index}#{v}:{beacon}  / {TYPE}#{id}  one per beacon, written with the home
    T#{t}#UNIQUE#{index}#{v}:{beacon}  / #            a unique value's sentinel (G#UNIQUE#…
                                                      for values unique across tenants)

Each sealed field is AES-256-GCM under the subject's data key with associated data
``tenant|type|id|field|key version``. A lookup by value queries the beacon partitions of
every readable index key version (at most two), fetches the homes, decrypts, and drops
false positives by comparing normalized values. Every write is staged as store actions,
each paired with the error to raise if its condition fails, so a unit of work can commit
several records, sentinels and reference checks in one transaction.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from carevault.crypto import aead
from carevault.crypto.beacons import BeaconIndex, beacon
from carevault.crypto.keyring import Keyring
from carevault.errors import (
    CancelReason,
    CarevaultError,
    DuplicateValue,
    KeyDestroyed,
    StaleVersion,
    TransactionCanceled,
    ValidationError,
)
from carevault.store import Action, Attr, Delete, Item, Put, SortKey, Store
from carevault.store.types import Index

Admit = Callable[[Item], bool]
"""Whether a stored home item may be decrypted for the reader (the access gate)."""

_pack = msgpack.Packer(use_bin_type=True).pack
_unpack = msgpack.unpackb
SELF = "@self"
"""``RecordType.subject`` for a record that is its own subject (a patient, a user)."""
PLATFORM = "PLATFORM"
"""The keyring scope of values unique across every tenant (login emails)."""


@dataclass(frozen=True, slots=True)
class Lookup:
    """A beacon index over one field (a string or a list of strings) of a record type."""

    index: BeaconIndex
    field: str

    def values(self, fields: Mapping[str, Any]) -> list[str]:
        value = fields.get(self.field)
        if type(value) is str:
            return [value]
        if isinstance(value, list):
            return [v for v in value if type(v) is str]
        return []


@dataclass(frozen=True, slots=True)
class Unique:
    """A value no two records may share: in the tenant, or (``across_tenants``) anywhere."""

    index: BeaconIndex
    field: str
    across_tenants: bool = False


@dataclass(frozen=True, slots=True)
class Slot:
    """A GSI key template over plain fields: ``pk`` is prefixed with ``T#{tenant}#``.

    Placeholders name plain fields, ``id`` or ``TYPE``; a record whose field is missing or
    None is left out of that index (sparse).
    """

    index: Index
    pk: str
    sk: str

    def names(self, part: str | None = None) -> set[str]:
        """Field names the template uses (in ``pk`` or ``sk`` alone if ``part`` says)."""
        text = {"pk": self.pk, "sk": self.sk}.get(part or "", self.pk + self.sk)
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@dataclass(frozen=True, slots=True)
class RecordType:
    """What a record type seals, how it is keyed and how it can be found."""

    name: str
    phi: frozenset[str]
    lookups: tuple[Lookup, ...] = ()
    subject: str | None = SELF  # field naming the data-key subject; SELF; None: no PHI
    slots: tuple[Slot, ...] = (Slot("gsi1", "REC#{TYPE}", "{id}"),)
    uniques: tuple[Unique, ...] = ()
    when: str = "{id}"  # subject-history sort template (GSI2 sk = TYPE#{when}#id)

    def __post_init__(self) -> None:
        if self.subject is None and self.phi:
            raise ValidationError(f"{self.name}.subject", "a type with PHI needs a subject")
        if any(s.index == "gsi2" for s in self.slots):
            raise ValidationError(f"{self.name}.slots", "gsi2 is the subject history")
        for slot in self.slots:
            if slot.names() & self.phi:
                raise ValidationError(f"{self.name}.slots", "keys may not hold PHI fields")

    @property
    def listing(self) -> Slot | None:
        """The slot listing every record of the type (its pk names no field)."""
        for slot in self.slots:
            if slot.names("pk") <= {"TYPE"}:
                return slot
        return None


@dataclass(frozen=True, slots=True)
class Record:
    """A record as read back: plaintext fields and the version to update against."""

    type: str
    id: str
    version: int
    fields: dict[str, Any] = field(default_factory=dict)
    deleted_at: str | None = None


@dataclass(frozen=True, slots=True)
class Staged:
    """One store action and the error to raise if its condition is what fails."""

    action: Action
    on_fail: CarevaultError | None = None


def commit(store: Store, staged: Sequence[Staged]) -> None:
    """Write staged actions in one transaction, naming the failed rule if one fails."""
    try:
        store.transact_write([s.action for s in staged])
    except TransactionCanceled as exc:
        for entry, reason in zip(staged, exc.reasons, strict=False):
            if reason is CancelReason.CONDITION_FAILED and entry.on_fail is not None:
                raise entry.on_fail from exc
        raise


def _fill(template: str, values: Mapping[str, Any]) -> str | None:
    try:
        return template.format_map(values)
    except KeyError:
        return None


class _Values(dict[str, Any]):
    """Template values: a missing or None field leaves the slot out (KeyError)."""

    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


STALE = StaleVersion("the record changed since it was read; read it again")


class Records:
    """Sealed records of one tenant; keys are built from that tenant alone."""

    def __init__(
        self,
        store: Store,
        ring: Keyring,
        tenant: str,
        types: Sequence[RecordType],
        *,
        create: bool = False,
    ) -> None:
        """Records of an existing tenant (NotFound if it was never created).

        ``create`` makes the tenant's keys first (creating a clinic does this, and only
        that): a token or a credential naming a made-up tenant creates nothing.
        """
        self.store, self.ring, self.tenant = store, ring, tenant
        self.types = {t.name: t for t in types}
        if create or tenant == PLATFORM:
            ring.ensure_tenant(tenant)
        else:
            ring.require_tenant(tenant)
        if any(u.across_tenants for t in types for u in t.uniques):
            ring.ensure_tenant(PLATFORM)

    def type(self, name: str) -> RecordType:
        found = self.types.get(name)
        if found is None:
            raise ValidationError("record.type", f"unknown record type {name!r}")
        return found

    def home(self, type_name: str, record_id: str) -> tuple[str, str]:
        if not record_id or "#" in record_id:
            raise ValidationError("record.id", "must be a non-empty id without '#'")
        return f"T#{self.tenant}#{type_name}#{record_id}", "#"

    def _context(self, type_name: str, record_id: str, version: int) -> tuple[bytes, bytes]:
        """A field's associated data is ``prefix + field + suffix``: tenant|type|id|field|kv."""
        return f"{self.tenant}|{type_name}|{record_id}|".encode(), f"|{version}".encode()

    # -- beacons and sentinels ---------------------------------------------------------

    def _lookups(
        self, rt: RecordType, record_id: str, values: Mapping[str, Any]
    ) -> list[list[str]]:
        keys = self.ring.index_keys(self.tenant)
        out: dict[tuple[str, str], None] = {}
        for lookup in rt.lookups:
            for value in lookup.values(values):
                for version in keys.write:
                    code = beacon(keys.keys[version], lookup.index, value)
                    if code is not None:
                        pk = self._lookup_pk(lookup.index.name, version, code)
                        out[(pk, f"{rt.name}#{record_id}")] = None
        return [list(k) for k in out]

    def _lookup_pk(self, index: str, version: int, code: str | None) -> str:
        """The partition of one beacon's lookup items."""
        return f"T#{self.tenant}#LOOKUP#{index}#{version}:{code}"

    def _unique(self, type_name: str, field_name: str, across_tenants: bool = False) -> Unique:
        """The unique-value declaration of ``type_name.field_name``."""
        unique = next((u for u in self.type(type_name).uniques if u.field == field_name), None)
        if unique is None or (across_tenants and not unique.across_tenants):
            scope = "globally unique" if across_tenants else "unique"
            raise ValidationError("find.field", f"{type_name}.{field_name} is not {scope}")
        return unique

    def _sentinel_pks(self, unique: Unique, value: str, versions: str) -> list[str]:
        scope = PLATFORM if unique.across_tenants else self.tenant
        prefix = "G#UNIQUE" if unique.across_tenants else f"T#{self.tenant}#UNIQUE"
        keys = self.ring.index_keys(scope)
        out = []
        for version in keys.write if versions == "write" else keys.read:
            code = beacon(keys.keys[version], unique.index, value)
            if code is not None:
                out.append(f"{prefix}#{unique.index.name}#{version}:{code}")
        return out

    def _sentinels(self, rt: RecordType, values: Mapping[str, Any]) -> dict[str, Unique]:
        out: dict[str, Unique] = {}
        for unique in rt.uniques:
            value = values.get(unique.field)
            if type(value) is str:
                out.update(dict.fromkeys(self._sentinel_pks(unique, value, "write"), unique))
        return out

    # -- writing ---------------------------------------------------------------------

    def stage_put(
        self,
        type_name: str,
        record_id: str,
        fields: dict[str, Any],
        current: Item | None,
        *,
        deleted_at: str | None = None,
        expires_at: int | None = None,
    ) -> tuple[list[Staged], int]:
        """Actions that create or replace a record (against ``current``), and its new version.

        A deleted record (``deleted_at``) keeps its sentinels and subject history but leaves
        every listing and lookup, so it is found again only when restored.
        """
        rt = self.type(type_name)
        pk, sk = self.home(type_name, record_id)
        subject = self._subject(rt, record_id, fields)
        version = 0 if current is None else int(current["version"])
        sealed: dict[str, bytes] = {}
        if rt.phi:
            kv, key = self.ring.subject_key(self.tenant, str(subject), create=True)
            prefix, suffix = self._context(type_name, record_id, kv)
            sealed = {
                name: aead.seal(key, kv, _pack(value), prefix + name.encode() + suffix)
                for name, value in fields.items()
                if name in rt.phi and value is not None
            }
        plain = {k: v for k, v in fields.items() if k not in rt.phi}
        lookups = [] if deleted_at else self._lookups(rt, record_id, fields)
        sentinels = self._sentinels(rt, fields)
        home: Item = {"pk": pk, "sk": sk, "type": type_name, "id": record_id}
        values = _Values({k: v for k, v in plain.items() if v is not None})
        values.update(id=record_id, TYPE=type_name)
        if not deleted_at:
            for slot in rt.slots:
                gpk, gsk = _fill(slot.pk, values), _fill(slot.sk, values)
                if gpk is not None and gsk is not None:
                    home[f"{slot.index}pk"] = f"T#{self.tenant}#{gpk}"
                    home[f"{slot.index}sk"] = gsk
        if subject is not None:
            when = _fill(rt.when, values) or record_id
            home.update(gsi2pk=f"T#{self.tenant}#SUBJECT#{subject}", subject=subject)
            home["gsi2sk"] = f"{type_name}#{when}#{record_id}"
        home.update(plain=plain, sealed=sealed, lookups=lookups, uniques=sorted(sentinels))
        home["version"] = version + 1
        if deleted_at:
            home["deleted_at"] = deleted_at
        if expires_at is not None:
            home["expires_at"] = expires_at
        condition = Attr("pk").not_exists() if current is None else Attr("version").eq(version)
        staged = [Staged(Put(home, condition), STALE)]
        old = {tuple(k) for k in current["lookups"]} if current else set()
        new = {tuple(k) for k in lookups}
        ref = {"ref": pk}
        staged += [Staged(Put({"pk": p, "sk": s, **ref})) for p, s in sorted(new - old)]
        staged += [Staged(Delete(p, s)) for p, s in sorted(old - new)]
        kept = set(current["uniques"]) if current else set()
        for spk, unique in sorted(sentinels.items()):
            if spk not in kept:
                item = {"pk": spk, "sk": "#", **ref, "tenant": self.tenant}
                rule = "must be unique" + (
                    "" if unique.across_tenants else " in its clinic or payer"
                )
                duplicate = DuplicateValue(f"{type_name.lower()}.{unique.field}", rule)
                staged.append(Staged(Put(item, Attr("pk").not_exists()), duplicate))
        staged += [Staged(Delete(spk, "#")) for spk in sorted(kept - set(sentinels))]
        return staged, version + 1

    def _subject(self, rt: RecordType, record_id: str, fields: Mapping[str, Any]) -> str | None:
        if rt.subject is None:
            return None
        subject = record_id if rt.subject == SELF else fields.get(rt.subject)
        if type(subject) is not str or not subject:
            raise ValidationError(f"{rt.name.lower()}.{rt.subject}", "must name the subject")
        return subject

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
        current = self.store.get(*self.home(type_name, record_id))
        version = 0 if current is None else int(current["version"])
        if expected_version is not None and expected_version != version:
            raise STALE
        staged, new_version = self.stage_put(type_name, record_id, fields, current)
        commit(self.store, staged)
        return new_version

    # -- reading ---------------------------------------------------------------------

    def open(self, item: Item) -> Record:
        """Decrypt a stored home item."""
        type_name, record_id = item["type"], item["id"]
        fields = dict(item["plain"])
        if item["sealed"]:
            kv, key = self.ring.subject_key(self.tenant, item["subject"])
            prefix, suffix = self._context(type_name, record_id, kv)
            opened = aead.open_fields(key, kv, item["sealed"], prefix, suffix)
            for name, plaintext in opened.items():
                fields[name] = _unpack(plaintext)
        return Record(type_name, record_id, int(item["version"]), fields, item.get("deleted_at"))

    def get(self, type_name: str, record_id: str) -> Record | None:
        """A record by id, decrypted; None if there is none."""
        self.type(type_name)
        item = self.store.get(*self.home(type_name, record_id))
        return None if item is None else self.open(item)

    def find(
        self, type_name: str, index: str, value: str, admit: Admit | None = None
    ) -> list[Record]:
        """Records whose ``index`` field matches ``value`` (false positives removed); with
        ``admit``, only stored items it admits are decrypted at all."""
        rt = self.type(type_name)
        lookup = next((lk for lk in rt.lookups if lk.index.name == index), None)
        if lookup is None:
            raise ValidationError("find.index", f"{type_name} has no index {index!r}")
        wanted = lookup.index.normalize(value)
        if wanted is None:
            return []
        keys = self.ring.index_keys(self.tenant)
        homes: dict[tuple[str, str], None] = {}
        for version in keys.read:
            partition = self._lookup_pk(
                index, version, beacon(keys.keys[version], lookup.index, value)
            )
            for item in self.store.query_all(partition, sk=SortKey.begins_with(f"{type_name}#")):
                homes[(item["ref"], "#")] = None
        return self._matching(list(homes), lookup.index.normalize, lookup.values, wanted, admit)

    def find_unique(
        self, type_name: str, field_name: str, value: str, admit: Admit | None = None
    ) -> Record | None:
        """The record holding a unique value, through its sentinel (one get per key version)."""
        unique = self._unique(type_name, field_name)
        wanted = unique.index.normalize(value)
        if wanted is None:
            return None
        found = self.store.batch_get([(p, "#") for p in self._sentinel_pks(unique, value, "read")])
        homes = list(dict.fromkeys((s["ref"], "#") for s in found if s is not None))
        if unique.across_tenants:  # a sentinel of another tenant is not this tenant's
            homes = [h for h in homes if h[0].startswith(f"T#{self.tenant}#")]
        matches = self._matching(
            homes, unique.index.normalize, lambda f: [f.get(field_name)], wanted, admit
        )
        return matches[0] if matches else None

    def locate_unique(self, type_name: str, field_name: str, value: str) -> list[tuple[str, str]]:
        """(tenant, id) of records holding a value unique across tenants (verify after)."""
        unique = self._unique(type_name, field_name, across_tenants=True)
        pks = self._sentinel_pks(unique, value, "read")
        found = self.store.batch_get([(p, "#") for p in pks]) if pks else []
        return [(s["tenant"], s["ref"].rsplit("#", 1)[1]) for s in found if s is not None]

    def _matching(
        self,
        homes: list[tuple[str, str]],
        normalize: Callable[[str], str | None],
        values: Callable[[Mapping[str, Any]], list[Any]],
        wanted: str,
        admit: Admit | None = None,
    ) -> list[Record]:
        found = []
        for home in self.store.batch_get(homes) if homes else []:
            if home is None or home.get("deleted_at") or (admit and not admit(home)):
                continue
            record = self.open(home)
            if any(type(v) is str and normalize(v) == wanted for v in values(record.fields)):
                found.append(record)
        return found

    def ids(self, type_name: str, after: str = "") -> Iterator[str]:
        """Ids of every listed record of a type, in listing order, after ``after``."""
        rt = self.type(type_name)
        slot = rt.listing
        if slot is None:
            return
        pk = f"T#{self.tenant}#{slot.pk.format(TYPE=type_name)}"
        sk = SortKey.gt(after) if after else None
        for item in self.store.query_all(pk, index=slot.index, sk=sk):
            yield item[f"{slot.index}sk"] if slot.sk == "{id}" else item["id"]

    def delete(self, type_name: str, record_id: str) -> None:
        """Remove a record, its lookup items and its sentinels for good."""
        pk, sk = self.home(type_name, record_id)
        current = self.store.get(pk, sk)
        if current is None:
            return
        actions: list[Action] = [Delete(pk, sk, Attr("version").eq(current["version"]))]
        actions += [Delete(p, s) for p, s in current["lookups"]]
        actions += [Delete(p, "#") for p in current["uniques"]]
        self.store.transact_write(actions)

    def reindex(self, type_name: str, record_id: str) -> bool:
        """Bring a record's lookups and sentinels to the current index key versions."""
        current = self.store.get(*self.home(type_name, record_id))
        if current is None:
            return False
        try:
            record = self.open(current)
        except KeyDestroyed:  # shredded: nothing left to index
            return False
        staged, _ = self.stage_put(
            type_name, record_id, record.fields, current, deleted_at=record.deleted_at
        )
        home = staged[0].action
        assert isinstance(home, Put)
        if home.item["lookups"] == current["lookups"] and home.item["uniques"] == sorted(
            current["uniques"]
        ):
            return False
        commit(self.store, staged)
        return True

    def shred(self, subject: str) -> int:
        """Crypto-shred a subject: drop its lookup items, then destroy its data key.

        Every copy of the subject's sealed fields, backups included, becomes unreadable;
        returns how many records were affected.
        """
        count = 0
        partition = f"T#{self.tenant}#SUBJECT#{subject}"
        for item in list(self.store.query_all(partition, index="gsi2")):
            actions: list[Action] = [
                Put({**item, "lookups": [], "uniques": []}, Attr("version").eq(item["version"]))
            ]
            actions += [Delete(p, s) for p, s in item["lookups"]]
            actions += [Delete(p, "#") for p in item.get("uniques", [])]
            self.store.transact_write(actions)
            count += 1
        self.ring.shred(self.tenant, subject)
        return count
