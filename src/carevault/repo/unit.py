"""A unit of work over one clinic: typed repositories stage writes; one transaction commits.

Every key is built from the unit's tenant, so no repository can address another clinic:
an id from another clinic names nothing here. Writes check, inside the transaction, that
every entity they reference exists (and is not deleted) in this clinic, that unique values
are free, and that nobody changed the entity since it was read (``version``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from carevault.crypto.keyring import Keyring
from carevault.domain.audit import Action
from carevault.domain.base import SELF, Entity, MaskedWrite, checked, kind_of, utcnow
from carevault.domain.ids import is_id
from carevault.errors import NotFound, ValidationError
from carevault.repo.gate import FULL, Gate, Sight
from carevault.repo.mapping import BY_TYPE, record_type, shares_partitions
from carevault.repo.records import STALE, Record, Records, Staged, commit
from carevault.repo.release import Waiting, settle
from carevault.store import Attr, ConditionCheck, Item, KeyCondition, SortKey, Store
from carevault.store.types import Index


class AuditSink(Protocol):
    """Where a unit of work sends its audit events (``carevault.audit.Auditor``)."""

    def event(
        self,
        action: Action,
        resource_type: str,
        resource_id: str | None,
        patient_id: str | None,
    ) -> dict[str, Any]: ...

    def reads(self, events: Sequence[dict[str, Any]]) -> None: ...

    def announce(self, events: Sequence[dict[str, Any]]) -> Waiting: ...

    def commit(self, events: Sequence[dict[str, Any]], change: Sequence[Staged]) -> None: ...


READ_CACHE = 256  # home items a unit of work keeps from its reads by id
DECODED_KEPT = 4096  # decoded clinics and sessions kept, by their exact stored item
_DECODED: dict[tuple[int, str, str], tuple[Item, Entity]] = {}
_DECODED_LOCK = threading.Lock()
"""Items read by every request (never sealed under a patient's key, so never shredded):
what a stored item decodes to, kept while the stored item is byte for byte the same."""

E = TypeVar("E", bound=Entity)
T = TypeVar("T")
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """A page of entities and the cursor to the next page (None at the end)."""

    items: list[T]
    cursor: str | None


class UnitOfWork:
    """Repositories of one clinic sharing one pending transaction."""

    def __init__(
        self,
        store: Store,
        ring: Keyring,
        tenant: str,
        *,
        actor: str | None = None,
        phone_region: str = "US",
        clock: Clock = utcnow,
        audit: AuditSink | None = None,
        create_tenant: bool = False,
        gate: Gate | None = None,
    ) -> None:
        store = store.scoped(tenant)  # on PostgreSQL, row-level security: this tenant only
        self.store, self.tenant, self.actor, self.clock = store, tenant, actor, clock
        self.audit, self.gate = audit, gate
        self._events: list[dict[str, Any]] = []
        self.phone_region = phone_region
        types = [record_type(cls, phone_region) for cls in BY_TYPE.values()]
        self.records = Records(store, ring, tenant, types, create=create_tenant)
        self._staged: list[Staged] = []
        self._keys: set[tuple[str, str]] = set()
        self._read: dict[tuple[str, str], Item] = {}

    def __getitem__(self, cls: type[E]) -> Repository[E]:
        return Repository(self, cls)

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.rollback()

    def stage(self, staged: list[Staged]) -> None:
        """Add actions to the pending transaction (one action per key, as engines require).

        A reference check yields to a write of the same item in the transaction: that
        write's own version condition already proves the item is there.
        """
        for entry in staged:
            key = _key(entry.action)
            if key in self._keys:
                if isinstance(entry.action, ConditionCheck):
                    continue
                earlier = next(s for s in self._staged if _key(s.action) == key)
                if not isinstance(earlier.action, ConditionCheck):
                    raise ValidationError("unit_of_work", "writes the same item twice")
                self._staged.remove(earlier)
            self._keys.add(key)
            self._staged.append(entry)

    def staged_key(self, pk: str, sk: str) -> bool:
        return (pk, sk) in self._keys

    def commit(self) -> None:
        """Write everything staged, with its audit events, atomically; or nothing at all."""
        staged, self._staged, self._keys = self._staged, [], set()
        events, self._events, self._read = self._events, [], {}
        if self.audit is not None and events:
            self.audit.commit(events, staged)
        elif staged:
            commit(self.store, staged)

    def rollback(self) -> None:
        """Forget everything staged."""
        self._staged, self._keys, self._events, self._read = [], set(), [], {}

    def record(self, action: Action, entity: Entity) -> None:
        """Note an audit event for a staged write (it commits with the write)."""
        if self.audit is not None and entity.SUBJECT is not None:
            self._events.append(self.audit.event(action, entity.TYPE, entity.id, entity.patient))

    def disclose(self, entities: Sequence[Entity], search: str | None = None) -> None:
        """Make read (and search) events durable before PHI is handed out."""
        if self.audit is None:
            return
        events = [self.audit.event(Action.SEARCH, search, None, None)] if search else []
        events += [
            self.audit.event(Action.READ, e.TYPE, e.id, e.patient)
            for e in entities
            if e.patient is not None  # PHI: it is about a patient
        ]
        self.audit.reads(events)

    def announce(self, item: Item) -> Waiting | None:
        """Start recording the read of a stored home item, before it is decrypted.

        None when its patient cannot be told from the stored item (``disclose`` it once
        loaded). What it returns must be waited for before the entity is handed out.
        """
        patient = _stored_patient(item)
        if self.audit is None or patient is None:
            return None
        event = self.audit.event(Action.READ, item["type"], item["id"], patient)
        return self.audit.announce([event])

    def load(self, item: Item, sight: Sight = FULL) -> Entity:
        """The entity a stored home item holds, decrypted, as ``sight`` lets it be seen."""
        if not BY_TYPE[item["type"]].DECODED_KEPT or sight is not FULL:
            return self.entity(self.records.open(item), sight)
        key = (id(self.store), item["pk"], item["sk"])
        kept = _DECODED.get(key)
        if kept is not None and kept[0] == item:  # the same stored bytes: the same entity
            return kept[1].model_copy()
        entity = self.entity(self.records.open(item))
        with _DECODED_LOCK:  # request threads share it: evict and insert as one step
            if len(_DECODED) >= DECODED_KEPT:
                _DECODED.pop(next(iter(_DECODED)))
            _DECODED[key] = (item, entity.model_copy())
        return entity

    def sight(self, item: Item) -> Sight | None:
        """What the unit's principal may see of a stored home item (asked before decrypting)."""
        if self.gate is None:
            return FULL
        return self.gate.sight(BY_TYPE[item["type"]], _stored_patient(item))

    def refused(self, item: Item) -> Exception:
        """The error a read by id of an item the principal may not see raises."""
        assert self.gate is not None
        return self.gate.refused(BY_TYPE[item["type"]], _stored_patient(item))

    def shown(self, entity: Entity) -> Entity:
        """An entity as the unit's principal may see it (asked again: after a write)."""
        if self.gate is None:
            return entity
        sight = self.gate.sight(type(entity), entity.patient)
        if sight is None:  # written, yet not for the writer to read: nothing of it shown
            return entity.masked_for(frozenset(type(entity).model_fields))
        return sight.show(entity)

    def admitted(self, items: Sequence[Item]) -> list[Entity]:
        """The items of a listing the principal may see, decrypted and masked, in order."""
        out = []
        for item in items:
            sight = self.sight(item)
            if sight is not None:
                out.append(self.load(item, sight))
        return out

    def entity(self, record: Record, sight: Sight = FULL) -> Entity:
        """The entity a decrypted record holds, as ``sight`` lets it be seen."""
        cls = BY_TYPE[record.type]
        data = {
            **record.fields,
            "id": record.id,
            "version": record.version,
            "deleted_at": record.deleted_at,
        }
        return sight.built(cls, data) or sight.show(checked(cls, data, stored=True))

    def remember(self, item: Item) -> None:
        """Keep a home item read by id, so the update that usually follows need not re-read it."""
        if len(self._read) >= READ_CACHE:
            self._read.pop(next(iter(self._read)))
        self._read[(item["pk"], item["sk"])] = item

    def current(self, key: tuple[str, str], version: int) -> Item | None:
        """The stored home item at ``key``: the one read in this unit if still at ``version``."""
        seen = self._read.get(key)
        if seen is not None and int(seen["version"]) == version:
            return seen  # if it moved since, the write's version condition refuses it
        return self.store.get(*key)

    def exists(self, cls: type[Entity], entity_id: str) -> bool:
        """Whether this clinic holds a live ``cls`` with this id (nothing decrypted or read)."""
        if not is_id(entity_id):
            return False  # a malformed id names nothing: the store is not asked
        item = self.store.get(*self.records.home(cls.TYPE, entity_id))
        return item is not None and not item.get("deleted_at")

    def allowed(self, cls: type[Entity], action: str, patient_id: str | None = None) -> None:
        """Raise the gate's refusal unless the principal may ``action`` a ``cls`` at all."""
        refusal = None if self.gate is None else self.gate.refuses(cls, action, patient_id)
        if refusal is not None:
            raise refusal

    def may_create(self, cls: type[Entity], patient_id: str | None) -> None:
        """Raise unless the principal may create a ``cls`` about the patient: the role's
        permission first (403), then the patient in this clinic (another clinic's names
        nothing: 404), then the relationship to the patient (403)."""
        self.allowed(cls, "write", patient_id)
        if patient_id is not None and not self.exists(BY_TYPE["PATIENT"], patient_id):
            raise NotFound("patient", patient_id)
        self.may_write(cls, patient_id)

    def may_write(self, cls: type[Entity], patient_id: str | None) -> None:
        """Raise the gate's refusal unless the principal may write a ``cls`` about the patient
        (asked by a service that must know before it makes anything outside the store)."""
        refusal = None if self.gate is None else self.gate.refuses_write(cls, patient_id)
        if refusal is not None:
            raise refusal

    def history(
        self,
        subject: str,
        *,
        of: type[Entity] | None = None,
        prefix: str = "",
        sk: KeyCondition | None = None,
        forward: bool = True,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Listing[Entity]:
        """Everything about one subject (a patient), by type and time (GSI2).

        ``of`` one entity type: the patient must exist and the principal be allowed that
        type's items of this patient (a care-scoped reader outside care is refused, audited,
        rather than given an empty list); other types are left out.
        """
        if of is not None:
            prefix = f"{of.TYPE}#"
            self.allowed(of, "read", subject)
            if not self.exists(BY_TYPE["PATIENT"], subject):
                raise NotFound("patient", subject)
            if self.gate is not None and self.gate.sight(of, subject) is None:
                raise self.gate.refused(of, subject)
        condition = sk or (SortKey.begins_with(prefix) if prefix else None)
        page = self.store.query(
            f"T#{self.tenant}#SUBJECT#{subject}",
            index="gsi2",
            sk=condition,
            forward=forward,
            limit=limit,
            cursor=cursor,
            filter=Attr("deleted_at").not_exists(),
        )
        listing = Listing(self.admitted(page.items), page.cursor)
        self.disclose(listing.items)
        return listing


def _stored_patient(item: Item) -> str | None:
    """The patient a stored home item is about, from its clear fields (None: not there)."""
    return BY_TYPE[item["type"]].patient_of(item["id"], item.get("plain", {}))


def _key(action: Any) -> tuple[str, str]:
    if hasattr(action, "item"):
        return action.item["pk"], action.item["sk"]
    return action.pk, action.sk


class Repository(Generic[E]):
    """Entities of one type in the unit's clinic."""

    def __init__(self, uow: UnitOfWork, cls: type[E]) -> None:
        self.uow, self.cls = uow, cls
        self.type = cls.TYPE
        self.kind = kind_of(cls)

    def _load(self, item: Item) -> E:
        return self._typed(self.uow.load(item))

    def _typed(self, entity: Entity) -> E:
        assert isinstance(entity, self.cls)
        return entity

    def _home(self, entity_id: str) -> tuple[str, str]:
        if type(entity_id) is not str or not entity_id or "#" in entity_id or len(entity_id) > 64:
            raise NotFound(self.kind, "")  # a malformed id names nothing; the store is not asked
        return self.uow.records.home(self.type, entity_id)

    # -- reading ---------------------------------------------------------------------

    def get(self, entity_id: str, *, deleted: bool = False) -> E | None:
        """The entity with this id as the reader may see it, or None (also if deleted,
        unless ``deleted``). An item the reader may not see is refused, not decrypted."""
        found = self._read(entity_id, deleted)
        return None if found is None else self._typed(found[1].show(found[0]))

    def for_change(self, entity_id: str) -> E:
        """The entity with this id, unmasked, to be changed: the gate must admit both its
        read and its write (a refusal comes before anything is decrypted).

        What a change returns is masked again; the unmasked copy stays in the service.
        """
        found = self._read(entity_id, False, change=True)
        if found is None:
            raise NotFound(self.kind, entity_id)
        return found[0]

    def _read(self, entity_id: str, deleted: bool, change: bool = False) -> tuple[E, Sight] | None:
        item = self.uow.store.get(*self._home(entity_id))
        if item is None or (item.get("deleted_at") and not deleted):
            return None
        sight = self.uow.sight(item)
        if sight is None:
            raise self.uow.refused(item)
        if change:  # refused before it is decrypted, as its write would be
            self.uow.may_write(self.cls, _stored_patient(item))
        self.uow.remember(item)
        early = self.uow.announce(item)  # its event travels while the item is decrypted
        if early is None:
            entity = self._load(item)
            self.uow.disclose([entity])
            return entity, sight
        try:
            return self._load(item), sight
        finally:
            settle(early)

    def require(self, entity_id: str) -> E:
        """The entity with this id; NotFound if there is none in this clinic."""
        found = self.get(entity_id)
        if found is None:
            raise NotFound(self.kind, entity_id)
        return found

    def find(self, index: str, value: str) -> list[E]:
        """Entities whose encrypted field matches ``value`` (beacon lookup, verified)."""
        self._searchable()
        records = self.uow.records.find(self.type, index, value, self._admitted)
        found = [self._shown(r) for r in records]
        self.uow.disclose(found, search=self.type)
        return found

    def _searchable(self) -> None:
        """Raise the gate's refusal unless the principal may list or search this type."""
        self.uow.allowed(self.cls, "search")

    def _admitted(self, item: Item) -> bool:
        """Whether the reader may see anything of a stored item (asked before decrypting)."""
        return self.uow.sight(item) is not None

    def _shown(self, record: Record) -> E:
        """A found (admitted) record as the reader may see it."""
        return self._typed(self.uow.shown(self.uow.entity(record)))

    def find_unique(self, field: str, value: str) -> E | None:
        """The entity holding a unique value (MRN, login email)."""
        self._searchable()
        record = self.uow.records.find_unique(self.type, field, value, self._admitted)
        found = None if record is None else self._shown(record)
        self.uow.disclose([found] if found else [], search=self.type)
        return found

    def query(
        self,
        index: Index,
        partition: str,
        *,
        sk: KeyCondition | None = None,
        forward: bool = True,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Listing[E]:
        """One page of a GSI partition (``partition`` follows ``T#{tenant}#``)."""
        self._searchable()
        page = self.uow.store.query(
            f"T#{self.uow.tenant}#{partition}",
            index=index,
            sk=sk,
            forward=forward,
            limit=limit,
            cursor=cursor,
            filter=Attr("type").eq(self.type) if shares_partitions(self.cls, index) else None,
        )
        listing = Listing([self._typed(e) for e in self.uow.admitted(page.items)], page.cursor)
        self.uow.disclose(listing.items)
        return listing

    def query_all(
        self, index: Index, partition: str, *, sk: KeyCondition | None = None
    ) -> Iterator[E]:
        """Every entity of a GSI partition."""
        cursor = None
        while True:
            page = self.query(index, partition, sk=sk, cursor=cursor)  # audited page by page
            yield from page.items
            cursor = page.cursor
            if cursor is None:
                return

    # -- writing ---------------------------------------------------------------------

    def add(self, entity: E) -> E:
        """Stage the entity's creation; returns it at version 1."""
        if entity.version != 0:
            raise ValidationError(f"{self.kind}.version", "must be 0 for a new entity")
        return self._stage(entity, None)

    def update(self, entity: E) -> E:
        """Stage a change; ``entity.version`` must be the version it was read at."""
        if entity.masked:
            raise MaskedWrite(self.kind)
        current = self.uow.current(self._home(entity.id), entity.version)
        if current is None or current.get("deleted_at"):
            raise NotFound(self.kind, entity.id)
        if int(current["version"]) != entity.version:
            raise STALE
        now = self.uow.clock()
        return self._stage(entity.changed(updated_at=now, updated_by=self.uow.actor), current)

    def delete(self, entity_id: str, *, version: int) -> E:
        """Stage a soft delete: the entity leaves every listing and lookup until restored."""
        entity = self.for_change(entity_id)
        if entity.version != version:
            raise STALE
        return self._set_deleted(entity, self.uow.clock())

    def restore(self, entity_id: str) -> E:
        """Stage the restore of a soft-deleted entity."""
        found = self._read(entity_id, True)
        if found is None or found[0].deleted_at is None:
            raise NotFound(self.kind, entity_id)
        return self._set_deleted(found[0], None)

    def _set_deleted(self, entity: E, when: datetime | None) -> E:
        current = self.uow.current(self._home(entity.id), entity.version)
        return self._stage(entity.changed(deleted_at=when), current)

    def _stage(self, entity: E, current: Item | None) -> E:
        # a patient (or registration) being created is nobody's yet: no relationship to ask
        about = None if current is None and self.cls.PATIENT == SELF else entity.patient
        self.uow.may_write(self.cls, about)  # asked of every write, whichever operation makes it
        fields = entity.fields()
        deleted = entity.deleted_at.strftime("%Y-%m-%dT%H:%M:%SZ") if entity.deleted_at else None
        staged, version = self.uow.records.stage_put(
            self.type,
            entity.id,
            fields,
            current,
            deleted_at=deleted,
            expires_at=self._expiry(entity),
        )
        if deleted is None:
            staged += self._reference_checks(entity, staged)
        self.uow.stage(staged)
        action = Action.CREATE if current is None else Action.UPDATE
        if deleted and not (current or {}).get("deleted_at"):
            action = Action.DELETE
        self.uow.record(action, entity)
        return self._typed(self.uow.shown(entity.model_copy(update={"version": version})))

    def _expiry(self, entity: E) -> int | None:
        if self.cls.EXPIRES is None:
            return None
        value = getattr(entity, self.cls.EXPIRES)
        return None if value is None else int(value.timestamp())

    def _reference_checks(self, entity: E, own: list[Staged]) -> list[Staged]:
        checks: list[Staged] = []
        seen = {_key(s.action) for s in own}
        for field, target in self.cls.REFS.items():
            value = getattr(entity, field)
            if value is None:
                continue
            pk, sk = self.uow.records.home(target, value)
            if (pk, sk) in seen or self.uow.staged_key(pk, sk):
                continue  # written in this same transaction
            seen.add((pk, sk))
            rule = f"must name an existing {BY_TYPE[target].__name__} of this clinic"
            condition = Attr("pk").exists() & Attr("deleted_at").not_exists()
            error = ValidationError(f"{self.kind}.{field}", rule)
            checks.append(Staged(ConditionCheck(pk, sk, condition), error))
        return checks
