"""Making mapped data fit CloudTrail Lake's limits deterministically instead of being rejected."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from auditbridge.models import json_bytes

#: Key added to a trimmed object, listing what was removed.
TRIMMED_MARKER = "auditbridgeTrimmed"
TRUNCATION_SUFFIX = "…[truncated]"


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with a visible suffix when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(TRUNCATION_SUFFIX))] + TRUNCATION_SUFFIX


def fit_object(data: dict[str, Any], limit: int, drop_first: Sequence[str] = ()) -> dict[str, Any]:
    """Return ``data`` or a copy trimmed to at most ``limit`` bytes of canonical JSON.

    Parts are removed in a fixed order, least useful first:

    1. the dotted paths of ``drop_first`` in order; a path ending in ``.*`` removes that
       object's members one at a time, largest first;
    2. then the remaining top-level members, largest first (ties by name).

    The result carries ``auditbridgeTrimmed``: the removed paths, comma-separated, so a
    reader knows the record is partial. The same input always gives the same output.
    """
    if len(orjson.dumps(data)) <= limit:  # key order does not change the size
        return data
    result = data
    removed: list[str] = []

    def marked() -> dict[str, Any]:
        return {**result, TRIMMED_MARKER: ",".join(removed)}

    def fits() -> bool:
        return len(json_bytes(marked())) <= limit

    for path in drop_first:
        if path.endswith(".*"):
            parent_path = path[:-2]
            while True:
                parent = _get(result, parent_path)
                if not isinstance(parent, dict) or not parent:
                    break
                child = _largest_member(parent)
                result = _without(result, f"{parent_path}.{child}")
                removed.append(f"{parent_path}.{child}")
                if fits():
                    return marked()
        elif _has(result, path):
            result = _without(result, path)
            removed.append(path)
            if fits():
                return marked()
    while result:
        key = _largest_member(result)
        result = _without(result, key)
        removed.append(key)
        if fits():
            return marked()
    # Even the list of removed paths is too long: say so without listing them.
    everything = {TRIMMED_MARKER: "*"}
    return everything if len(json_bytes(everything)) <= limit else {}


def _largest_member(obj: dict[str, Any]) -> str:
    return max(sorted(obj), key=lambda key: len(json_bytes(obj[key])))


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _has(obj: Any, path: str) -> bool:
    *parents, last = path.split(".")
    for part in parents:
        if not isinstance(obj, dict):
            return False
        obj = obj.get(part)
    return isinstance(obj, dict) and last in obj


def _without(obj: dict[str, Any], path: str) -> dict[str, Any]:
    """A copy of ``obj`` without ``path``; only the dicts on the path are copied."""
    head, _, rest = path.partition(".")
    if head not in obj:
        return obj
    copy = dict(obj)
    if not rest:
        del copy[head]
    elif isinstance(copy[head], dict):
        copy[head] = _without(copy[head], rest)
    return copy
