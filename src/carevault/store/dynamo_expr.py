"""DynamoDB wire forms: items as AttributeValues, conditions as expressions."""

from __future__ import annotations

from typing import Any

from carevault.store.conditions import (
    And,
    BeginsWith,
    Between,
    Compare,
    Condition,
    Exists,
    In,
    KeyCondition,
    Not,
    NotExists,
    Or,
)
from carevault.store.types import Item


def to_av(value: Any) -> dict[str, Any]:
    """One value as a DynamoDB AttributeValue."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is int:
        return {"N": str(value)}
    if kind is bool:
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if kind is bytes:
        return {"B": value}
    if kind is list:
        return {"L": [to_av(v) for v in value]}
    return {"M": {k: to_av(v) for k, v in value.items()}}


def from_av(av: Any) -> Any:
    """A value from a DynamoDB AttributeValue."""
    if not av:  # DynamoDB Local's stream images write an empty map as {} without its "M"
        return {}
    ((tag, value),) = av.items()
    if tag == "S":
        return value
    if tag == "N":
        return int(value)
    if tag == "BOOL":
        return value
    if tag == "NULL":
        return None
    if tag == "B":
        return bytes(value)
    if tag == "L":
        return [from_av(v) for v in value]
    return {k: from_av(v) for k, v in value.items()}


def dump_item(item: Item) -> dict[str, Any]:
    """An item as a map of AttributeValues."""
    return {k: to_av(v) for k, v in item.items()}


def load_item(raw: dict[str, Any]) -> Item:
    """An item from a map of AttributeValues."""
    return {k: from_av(v) for k, v in raw.items()}


class Expr:
    """Collects placeholder names and values while one request's expressions are built."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self._by_name: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        placeholder = self._by_name.get(attribute)
        if placeholder is None:
            placeholder = f"#n{len(self._by_name)}"
            self._by_name[attribute] = placeholder
            self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = to_av(value)
        return placeholder

    def condition(self, cond: Condition) -> str:
        """A condition expression (same meaning as ``Condition.holds``)."""
        if isinstance(cond, And):
            return f"({self.condition(cond.left)}) AND ({self.condition(cond.right)})"
        if isinstance(cond, Or):
            return f"({self.condition(cond.left)}) OR ({self.condition(cond.right)})"
        if isinstance(cond, Not):
            return f"NOT ({self.condition(cond.inner)})"
        if isinstance(cond, Exists):
            return f"attribute_exists({self.name(cond.name)})"
        if isinstance(cond, NotExists):
            return f"attribute_not_exists({self.name(cond.name)})"
        if isinstance(cond, Compare):
            return f"{self.name(cond.name)} {cond.op} {self.value(cond.value)}"
        if isinstance(cond, Between):
            low, high = self.value(cond.low), self.value(cond.high)
            return f"{self.name(cond.name)} BETWEEN {low} AND {high}"
        if isinstance(cond, BeginsWith):
            return f"begins_with({self.name(cond.name)}, {self.value(cond.prefix)})"
        if isinstance(cond, In):
            options = ", ".join(self.value(v) for v in cond.values)
            return f"{self.name(cond.name)} IN ({options})"
        raise TypeError(type(cond).__name__)

    def alive(self, now: int) -> str:
        """True of an item that has not expired."""
        expires = self.name("expires_at")
        return f"(attribute_not_exists({expires}) OR {expires} > {self.value(now)})"

    def write_condition(self, cond: Condition, now: int) -> str:
        """``cond`` of the item if alive, else of no item: expired items count as absent."""
        body = self.condition(cond)
        expires = self.name("expires_at")
        if cond.holds(None):
            return f"(attribute_exists({expires}) AND {expires} <= {self.value(now)}) OR ({body})"
        return f"{self.alive(now)} AND ({body})"

    def key_condition(self, pk_name: str, pk: str, sk_name: str, sk: KeyCondition | None) -> str:
        text = f"{self.name(pk_name)} = {self.value(pk)}"
        if sk is None:
            return text
        name = self.name(sk_name)
        if sk.op == "between":
            low, high = sk.values
            return f"{text} AND {name} BETWEEN {self.value(low)} AND {self.value(high)}"
        if sk.op == "begins_with":
            return f"{text} AND begins_with({name}, {self.value(sk.values[0])})"
        return f"{text} AND {name} {sk.op} {self.value(sk.values[0])}"

    def kwargs(self) -> dict[str, Any]:
        """The ExpressionAttributeNames/Values arguments, omitting empty ones."""
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = self.names
        if self.values:
            out["ExpressionAttributeValues"] = self.values
        return out
