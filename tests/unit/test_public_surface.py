"""The names carevault exports are a promise: this pins them."""

from __future__ import annotations

import carevault
import carevault.store


def test_store_exports() -> None:
    assert sorted(carevault.store.__all__) == sorted(
        [
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
    )
    for name in carevault.store.__all__:
        assert getattr(carevault.store, name) is not None


def test_package_exports() -> None:
    assert carevault.__all__ == ["CarevaultError", "__version__"]
