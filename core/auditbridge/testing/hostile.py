"""Hostile variants of a valid event: wrong types, huge fields, deep nesting, missing members.

Every variant must map to a valid entry or be rejected with a classified error; none may
crash the mapper with an unclassified exception or produce an entry the service refuses.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

HUGE_TEXT = "x" * 1_100_000
DEPTH = 300

WRONG_VALUES: tuple[tuple[str, Any], ...] = (
    ("null", None),
    ("integer", 12345),
    ("float", 1.5e308),
    ("boolean", True),
    ("string", "unexpected"),
    ("empty string", ""),
    ("string null", "null"),
    ("array", ["a", 1, None]),
    ("object", {"unexpected": {"nested": 1}}),
    ("huge string", HUGE_TEXT),
    ("long array", list(range(20_000))),
)
NESTED_WRONG_VALUES: tuple[tuple[str, Any], ...] = (
    ("null", None),
    ("integer", 7),
    ("array", [1, 2]),
    ("object", {"a": "b"}),
    ("huge string", HUGE_TEXT),
)


def deeply_nested(depth: int = DEPTH) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": True}
    for _ in range(depth):
        value = {"n": value}
    return value


def hostile_variants(event: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(description, event) pairs derived from one EventBridge event."""
    detail = event.get("detail")
    for label, value in (("array", []), ("string", "text"), ("null", None), ("number", 3)):
        yield f"detail is a JSON {label}", {**event, "detail": value}
    yield "detail nested 300 levels deep", {**event, "detail": deeply_nested()}
    yield "detail is empty", {**event, "detail": {}}
    if not isinstance(detail, dict):
        return
    yield "an extra member nested 300 levels deep", {**event, "detail": {**detail, "zzExtra": deeply_nested()}}
    yield "an extra huge member", {**event, "detail": {**detail, "zzExtra": HUGE_TEXT}}
    yield "many extra members", {**event, "detail": {**detail, **{f"extra{i}": "v" * 100 for i in range(2000)}}}
    for key in sorted(detail):
        without = {k: v for k, v in detail.items() if k != key}
        yield f"detail.{key} missing", {**event, "detail": without}
        for label, value in WRONG_VALUES:
            yield f"detail.{key} is a {label}", {**event, "detail": {**detail, key: copy.deepcopy(value)}}
        child = detail[key]
        if isinstance(child, dict):
            for sub in sorted(child):
                for label, value in NESTED_WRONG_VALUES:
                    changed = {**child, sub: copy.deepcopy(value)}
                    yield f"detail.{key}.{sub} is a {label}", {**event, "detail": {**detail, key: changed}}
