"""Conditions on attributes and sort-key conditions, with DynamoDB's semantics.

The SQL engines evaluate conditions in Python with ``Condition.holds``; the DynamoDB
engine compiles them to expressions. Both follow DynamoDB: a comparison with a missing
attribute or a value of another type is false, except ``<>``, which is then true.
Operands are checked when a condition is built, so every engine rejects the same ones.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from carevault.errors import ValidationError
from carevault.store.validate import MAX_SK_BYTES, check_name, key_string, value_size

Op = Literal["=", "<>", "<", "<=", ">", ">="]
ORDERED = (str, int, bytes)


def same(a: Any, b: Any) -> bool:
    """Equality as DynamoDB sees it: types must match, so True is not 1."""
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    return bool(a == b)


def _ordered(value: Any, field: str) -> Any:
    if type(value) not in ORDERED:
        raise ValidationError(field, "ordering comparisons take a str, int or bytes operand")
    value_size(value, field)
    return value


class Condition(ABC):
    """A condition on one item; combine with ``&``, ``|`` and ``~``."""

    __slots__ = ()

    @abstractmethod
    def holds(self, item: Mapping[str, Any] | None) -> bool:
        """Whether the condition is true of ``item`` (None: no item)."""

    @abstractmethod
    def names(self) -> frozenset[str]:
        """The attribute names the condition reads."""

    def __and__(self, other: Condition) -> Condition:
        return And(self, other)

    def __or__(self, other: Condition) -> Condition:
        return Or(self, other)

    def __invert__(self) -> Condition:
        return Not(self)


@dataclass(frozen=True, slots=True)
class Exists(Condition):
    name: str

    def holds(self, item: Mapping[str, Any] | None) -> bool:
        return item is not None and self.name in item

    def names(self) -> frozenset[str]:
        return frozenset((self.name,))


@dataclass(frozen=True, slots=True)
class NotExists(Condition):
    name: str

    def holds(self, item: Mapping[str, Any] | None) -> bool:
        return item is None or self.name not in item

    def names(self) -> frozenset[str]:
        return frozenset((self.name,))


@dataclass(frozen=True, slots=True)
class Compare(Condition):
    name: str
    op: Op
    value: Any

    def holds(self, item: Mapping[str, Any] | None) -> bool:
        if item is None or self.name not in item:
            return self.op == "<>"
        current = item[self.name]
        if self.op == "=":
            return same(current, self.value)
        if self.op == "<>":
            return not same(current, self.value)
        if type(current) is not type(self.value):
            return False
        if self.op == "<":
            return bool(current < self.value)
        if self.op == "<=":
            return bool(current <= self.value)
        if self.op == ">":
            return bool(current > self.value)
        return bool(current >= self.value)

    def names(self) -> frozenset[str]:
        return frozenset((self.name,))


@dataclass(frozen=True, slots=True)
class Between(Condition):
    name: str
    low: Any
    high: Any

    def holds(self, item: Mapping[str, Any] | None) -> bool:
        if item is None or self.name not in item:
            return False
        current = item[self.name]
        return type(current) is type(self.low) and bool(self.low <= current <= self.high)

    def names(self) -> frozenset[str]:
        return frozenset((self.name,))


@dataclass(frozen=True, slots=True)
class BeginsWith(Condition):
    name: str
    prefix: Any  # str or bytes, checked by Attr.begins_with

    def holds(self, item: Mapping[str, Any] | None) -> bool:
        if item is None or self.name not in item:
            return False
        current, prefix = item[self.name], self.prefix
        return type(current) is type(prefix) and bool(current.startswith(prefix))

    def names(self) -> frozenset[str]:
        return frozenset((self.name,))


@dataclass(frozen=True, slots=True)
class In(Condition):
    name: str
    values: tuple[Any, ...]

    def holds(self, item: Mapping[str, Any] | None) -> bool:
        if item is None or self.name not in item:
            return False
        return any(same(item[self.name], v) for v in self.values)

    def names(self) -> frozenset[str]:
        return frozenset((self.name,))


@dataclass(frozen=True, slots=True)
class And(Condition):
    left: Condition
    right: Condition

    def holds(self, item: Mapping[str, Any] | None) -> bool:
        return self.left.holds(item) and self.right.holds(item)

    def names(self) -> frozenset[str]:
        return self.left.names() | self.right.names()


@dataclass(frozen=True, slots=True)
class Or(Condition):
    left: Condition
    right: Condition

    def holds(self, item: Mapping[str, Any] | None) -> bool:
        return self.left.holds(item) or self.right.holds(item)

    def names(self) -> frozenset[str]:
        return self.left.names() | self.right.names()


@dataclass(frozen=True, slots=True)
class Not(Condition):
    inner: Condition

    def holds(self, item: Mapping[str, Any] | None) -> bool:
        return not self.inner.holds(item)

    def names(self) -> frozenset[str]:
        return self.inner.names()


class Attr:
    """Builds conditions on one top-level attribute: ``Attr("version").eq(3)``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = check_name(name, "condition.attribute")

    def _operand(self, value: Any) -> Any:
        value_size(value, f"condition.{self.name}")
        return value

    def exists(self) -> Condition:
        """The attribute is present."""
        return Exists(self.name)

    def not_exists(self) -> Condition:
        """The attribute is absent (``Attr("pk").not_exists()``: no such item)."""
        return NotExists(self.name)

    def eq(self, value: Any) -> Condition:
        """Equal, with types compared (True is not 1)."""
        return Compare(self.name, "=", self._operand(value))

    def ne(self, value: Any) -> Condition:
        """Not equal; true when the attribute is absent."""
        return Compare(self.name, "<>", self._operand(value))

    def lt(self, value: str | int | bytes) -> Condition:
        return Compare(self.name, "<", _ordered(value, f"condition.{self.name}"))

    def le(self, value: str | int | bytes) -> Condition:
        return Compare(self.name, "<=", _ordered(value, f"condition.{self.name}"))

    def gt(self, value: str | int | bytes) -> Condition:
        return Compare(self.name, ">", _ordered(value, f"condition.{self.name}"))

    def ge(self, value: str | int | bytes) -> Condition:
        return Compare(self.name, ">=", _ordered(value, f"condition.{self.name}"))

    def between(self, low: str | int | bytes, high: str | int | bytes) -> Condition:
        """Inclusive range; both bounds of one type, low <= high."""
        field = f"condition.{self.name}"
        _ordered(low, field)
        _ordered(high, field)
        if type(low) is not type(high):
            raise ValidationError(field, "between bounds must be of one type")
        if low > high:  # type: ignore[operator]
            raise ValidationError(field, "between needs low <= high")
        return Between(self.name, low, high)

    def begins_with(self, prefix: str | bytes) -> Condition:
        """String or bytes prefix."""
        if type(prefix) not in (str, bytes):
            raise ValidationError(f"condition.{self.name}", "begins_with takes str or bytes")
        return BeginsWith(self.name, self._operand(prefix))

    def is_in(self, *values: Any) -> Condition:
        """Equal to one of 1 to 100 values."""
        if not 1 <= len(values) <= 100:
            raise ValidationError(f"condition.{self.name}", "is_in takes 1 to 100 values")
        return In(self.name, tuple(self._operand(v) for v in values))


KeyOp = Literal["=", "<", "<=", ">", ">=", "between", "begins_with"]


@dataclass(frozen=True, slots=True)
class KeyCondition:
    """A condition on the sort key of a query (keys compare as UTF-8 bytes)."""

    op: KeyOp
    values: tuple[str, ...]


def successor(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix``, if any."""
    chars = list(prefix.rstrip("\U0010ffff"))
    if not chars:
        return None
    code = ord(chars[-1]) + 1
    if 0xD800 <= code <= 0xDFFF:
        code = 0xE000
    chars[-1] = chr(code)
    return "".join(chars)


def _key_value(value: object) -> str:
    return key_string(value, "sort key condition", MAX_SK_BYTES)


class SortKey:
    """Builds sort-key conditions: ``SortKey.begins_with("APPT#")``."""

    @staticmethod
    def eq(value: str) -> KeyCondition:
        return KeyCondition("=", (_key_value(value),))

    @staticmethod
    def lt(value: str) -> KeyCondition:
        return KeyCondition("<", (_key_value(value),))

    @staticmethod
    def le(value: str) -> KeyCondition:
        return KeyCondition("<=", (_key_value(value),))

    @staticmethod
    def gt(value: str) -> KeyCondition:
        return KeyCondition(">", (_key_value(value),))

    @staticmethod
    def ge(value: str) -> KeyCondition:
        return KeyCondition(">=", (_key_value(value),))

    @staticmethod
    def between(low: str, high: str) -> KeyCondition:
        """Inclusive on both ends."""
        if _key_value(low) > _key_value(high):
            raise ValidationError("sort key condition", "between needs low <= high")
        return KeyCondition("between", (low, high))

    @staticmethod
    def begins_with(prefix: str) -> KeyCondition:
        return KeyCondition("begins_with", (_key_value(prefix),))
