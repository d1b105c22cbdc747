"""The engine-neutral item store: items, conditions, queries, transactions and a change feed."""

from carevault.store.base import Store
from carevault.store.conditions import Attr, Condition, KeyCondition, SortKey
from carevault.store.types import (
    INDEXES,
    Action,
    Change,
    ChangePage,
    ConditionCheck,
    Delete,
    Index,
    Item,
    Key,
    Page,
    Put,
)
from carevault.store.url import open_store, redact

__all__ = [
    "INDEXES",
    "Action",
    "Attr",
    "Change",
    "ChangePage",
    "Condition",
    "ConditionCheck",
    "Delete",
    "Index",
    "Item",
    "Key",
    "KeyCondition",
    "Page",
    "Put",
    "SortKey",
    "Store",
    "open_store",
    "redact",
]
