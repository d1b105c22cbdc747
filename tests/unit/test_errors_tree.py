"""The tree drawn in errors.py's docstring is the real class hierarchy, and nothing is missing."""

from __future__ import annotations

import inspect
import re

from carevault import errors


def _drawn_tree() -> dict[str, str | None]:
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^(\s*)(?:[│ ]*[├└]── )?([A-Z][A-Za-z]+)(\s|$)", line)
        if not match or not line.startswith("    "):
            continue
        depth = len(line) - len(line.lstrip(" │├└─"))
        name = match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def test_docstring_tree_matches_classes() -> None:
    drawn = _drawn_tree()
    classes = {
        name: cls
        for name, cls in vars(errors).items()
        if inspect.isclass(cls) and issubclass(cls, errors.CarevaultError)
    }
    assert set(drawn) == set(classes)
    for name, parent in drawn.items():
        expected = errors.CarevaultError.__base__ if parent is None else classes[parent]
        assert classes[name].__base__ is expected, name


def test_validation_error_names_field_and_rule() -> None:
    exc = errors.ValidationError("item.pk", "must be a non-empty string")
    assert (exc.field, exc.rule) == ("item.pk", "must be a non-empty string")
    assert str(exc) == "item.pk: must be a non-empty string"
