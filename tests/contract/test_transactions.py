"""transact_write: all or nothing, per-action reasons, and DynamoDB's limits on every engine."""

from __future__ import annotations

import pytest

from carevault.errors import (
    CancelReason,
    ItemTooLarge,
    TransactionCanceled,
    TransactionTooLarge,
    ValidationError,
)
from carevault.store import Attr, ConditionCheck, Delete, Put, Store
from carevault.store.validate import MAX_ITEM_BYTES, MAX_PK_BYTES, MAX_SK_BYTES


def test_puts_deletes_and_checks_commit_together(store: Store) -> None:
    store.put({"pk": "A", "sk": "#", "v": 1})
    store.put({"pk": "B", "sk": "#", "v": 1})
    store.transact_write(
        [
            Put({"pk": "C", "sk": "#", "v": 1}, Attr("pk").not_exists()),
            Delete("A", "#", Attr("v").eq(1)),
            ConditionCheck("B", "#", Attr("v").eq(1)),
        ]
    )
    assert store.get("A", "#") is None
    assert store.get("C", "#") == {"pk": "C", "sk": "#", "v": 1}


def test_failed_condition_cancels_everything_and_names_each_action(store: Store) -> None:
    store.put({"pk": "A", "sk": "#", "v": 1})
    store.put({"pk": "B", "sk": "#", "v": 1})
    before = store.changes().position
    with pytest.raises(TransactionCanceled) as caught:
        store.transact_write(
            [
                Put({"pk": "NEW", "sk": "#"}),
                ConditionCheck("B", "#", Attr("v").eq(2)),
                Delete("A", "#"),
                Put({"pk": "A2", "sk": "#"}, Attr("pk").exists()),
            ]
        )
    assert caught.value.reasons == [
        None,
        CancelReason.CONDITION_FAILED,
        None,
        CancelReason.CONDITION_FAILED,
    ]
    assert store.get("NEW", "#") is None and store.get("A", "#") is not None
    assert store.changes(before).changes == []


def test_one_hundred_actions_fit_and_one_more_is_refused(store: Store) -> None:
    store.transact_write([Put({"pk": f"K#{i}", "sk": "#"}) for i in range(100)])
    assert all(store.batch_get([(f"K#{i}", "#") for i in range(100)]))
    with pytest.raises(TransactionTooLarge) as caught:
        store.transact_write([Put({"pk": f"L#{i}", "sk": "#"}) for i in range(101)])
    assert caught.value.field == "actions"
    assert store.get("L#0", "#") is None


def test_four_megabytes_per_transaction(store: Store) -> None:
    blob = "x" * 390_000
    with pytest.raises(TransactionTooLarge):
        store.transact_write([Put({"pk": f"M#{i}", "sk": "#", "b": blob}) for i in range(11)])
    assert store.get("M#0", "#") is None
    store.transact_write([Put({"pk": f"M#{i}", "sk": "#", "b": blob}) for i in range(10)])
    assert store.get("M#9", "#")["b"] == blob  # type: ignore[index]


def test_one_action_per_key(store: Store) -> None:
    with pytest.raises(ValidationError) as caught:
        store.transact_write([Put({"pk": "D", "sk": "#"}), Delete("D", "#")])
    assert caught.value.field == "actions[1]"
    with pytest.raises(ValidationError):
        store.transact_write([])


def test_item_size_limit_is_400_kb(store: Store) -> None:
    overhead = len("pk") + 1 + len("sk") + 1 + len("b")
    fits = {"pk": "I", "sk": "#", "b": "y" * (MAX_ITEM_BYTES - overhead)}
    store.put(fits)
    assert store.get("I", "#") == fits
    with pytest.raises(ItemTooLarge) as caught:
        store.put({**fits, "b": fits["b"] + "y"})
    assert caught.value.field == "item"
    with pytest.raises(ItemTooLarge):
        store.transact_write([Put({**fits, "pk": "J", "extra": 1})])
    assert store.get("J", "#") is None


def test_key_size_limits(store: Store) -> None:
    store.put({"pk": "p" * MAX_PK_BYTES, "sk": "s" * MAX_SK_BYTES})
    assert store.get("p" * MAX_PK_BYTES, "s" * MAX_SK_BYTES) is not None
    for item in (
        {"pk": "p" * (MAX_PK_BYTES + 1), "sk": "#"},
        {"pk": "P", "sk": "é" * 513},
        {"pk": "P", "sk": "#", "gsi1pk": "g", "gsi1sk": "s" * (MAX_SK_BYTES + 1)},
    ):
        with pytest.raises(ValidationError):
            store.put(item)
