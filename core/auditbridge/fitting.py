"""Making mapped data fit CloudTrail Lake's limits deterministically instead of being rejected."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

#: Key added to a trimmed object, listing what was removed.
TRIMMED_MARKER = "auditbridgeTrimmed"
TRUNCATION_SUFFIX = "…[truncated]"
#: The marker lists removed paths up to about this many bytes, then counts the rest
#: (``+N more``): a list as long as the data it replaced would defeat the trimming.
MARKER_BUDGET = 1_000

Path = tuple[str, ...]
# `"auditbridgeTrimmed":""` without the listed paths.
_MARKER_OVERHEAD = len(orjson.dumps({TRIMMED_MARKER: ""})) - 2


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with a visible suffix when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(TRUNCATION_SUFFIX))] + TRUNCATION_SUFFIX


def fit_object(data: dict[str, Any], limit: int, drop_first: Sequence[str] = ()) -> dict[str, Any]:
    """Return ``data`` or a copy trimmed to at most ``limit`` bytes of canonical JSON.

    Parts are removed in a fixed order, least useful first:

    1. the dotted paths of ``drop_first`` in order; a path ending in ``.*`` removes that
       object's members one at a time, largest first (ties by name);
    2. then the remaining top-level members, largest first (ties by name).

    The result carries ``auditbridgeTrimmed``: the removed paths, comma-separated (keys are
    joined with dots as they are, so a key that holds a dot reads like a path), and
    ``+N more`` once the list reaches about 1 kB. The same input always gives the same
    output, the input is never modified, and the work is O(n log n) in the number of
    members: sizes are computed once and updated arithmetically, never re-encoded per step.
    """
    if len(orjson.dumps(data)) <= limit:  # key order does not change the size
        return data
    plan = _Plan(data, limit)
    # A marker already there (an earlier pass's, or the producer's) goes first: ours replaces it.
    if TRIMMED_MARKER in data:
        plan.remove((TRIMMED_MARKER,))
    if not plan.fits():
        for path in drop_first:
            parts = tuple(path.split("."))
            if parts[-1] == "*" and plan.remove_members_of(parts[:-1]):
                break
            if parts[-1] != "*" and plan.remove(parts):
                break
        else:
            plan.remove_members_of(())
    if not plan.fits():
        # Even the marker alone is too long for the limit: say so without listing anything.
        everything = {TRIMMED_MARKER: "*"}
        return everything if len(orjson.dumps(everything)) <= limit else {}
    result = plan.build()
    # The arithmetic is exact (tests hold it to that); this guard only keeps a promise.
    if len(orjson.dumps(result)) > limit:
        return {TRIMMED_MARKER: "*"} if limit >= len(orjson.dumps({TRIMMED_MARKER: "*"})) else {}
    return result


@dataclass(slots=True)
class _Plan:
    """Which paths to remove from ``data``, with the canonical size tracked exactly."""

    data: dict[str, Any]
    limit: int
    removed: list[Path] = field(default_factory=list)
    removed_set: set[Path] = field(default_factory=set)
    #: Size change so far inside the value at a path (the root is ``()``).
    delta: dict[Path, int] = field(default_factory=dict)
    #: Members left in the object at a path, once something under it was removed.
    members: dict[Path, int] = field(default_factory=dict)
    sizes: dict[Path, int] = field(default_factory=dict)
    size: int = 0
    listed_bytes: int = 0
    listed: int = 0
    unlisted: int = 0

    def __post_init__(self) -> None:
        self.size = len(orjson.dumps(self.data))

    # -- size arithmetic ---------------------------------------------------------------

    def marker_size(self) -> int:
        if not self.removed:
            return 0
        text = self.listed_bytes + max(0, self.listed - 1)
        if self.unlisted:
            text += len(f"+{self.unlisted} more") + (1 if self.listed else 0)
        comma = 1 if self.members.get((), len(self.data)) else 0
        return _MARKER_OVERHEAD + text + comma

    def fits(self) -> bool:
        return self.size + self.marker_size() <= self.limit

    def _value_size(self, path: Path, value: Any) -> int:
        size = self.sizes.get(path)
        if size is None:
            size = self.sizes[path] = len(orjson.dumps(value))
        return size + self.delta.get(path, 0)

    def _lookup(self, path: Path) -> tuple[bool, Any]:
        node: Any = self.data
        for depth, part in enumerate(path):
            if not isinstance(node, dict) or part not in node or path[: depth + 1] in self.removed_set:
                return False, None
            node = node[part]
        return True, node

    # -- removal -----------------------------------------------------------------------

    def remove(self, path: Path) -> bool:
        """Remove one path if it is there; True once the result fits."""
        found, value = self._lookup(path)
        if not found or not path:
            return False
        parent = path[:-1]
        siblings = self.members.get(parent)
        if siblings is None:
            _, parent_value = self._lookup(parent)
            siblings = len(parent_value)
        change = len(orjson.dumps(path[-1])) + 1 + self._value_size(path, value) + (1 if siblings > 1 else 0)
        self.members[parent] = siblings - 1
        for depth in range(len(path)):
            prefix = path[:depth]
            self.delta[prefix] = self.delta.get(prefix, 0) - change
        self.size -= change
        self.removed.append(path)
        self.removed_set.add(path)
        listed = len(orjson.dumps(".".join(path))) - 2
        if self.unlisted == 0 and self.listed_bytes + listed + self.listed <= MARKER_BUDGET:
            self.listed_bytes += listed
            self.listed += 1
        else:
            self.unlisted += 1
        return self.fits()

    def remove_members_of(self, parent: Path) -> bool:
        """Remove the members of the object at ``parent``, largest first; True once it fits."""
        found, obj = self._lookup(parent)
        if not found or not isinstance(obj, dict):
            return False
        order = sorted(
            ((-self._value_size((*parent, key), value) - len(orjson.dumps(key)), key) for key, value in obj.items()),
        )
        for _, key in order:
            if (*parent, key) in self.removed_set:
                continue
            if self.remove((*parent, key)):
                return True
        return False

    def build(self) -> dict[str, Any]:
        touched = {path[:depth] for path in self.removed for depth in range(len(path))}
        result = _copy_without(self.data, (), self.removed_set, touched)
        if self.removed:
            result[TRIMMED_MARKER] = self._marker_text()
        return result

    def _marker_text(self) -> str:
        names = [".".join(path) for path in self.removed[: self.listed]]
        if self.unlisted:
            names.append(f"+{self.unlisted} more")
        return ",".join(names)


def _copy_without(obj: dict[str, Any], prefix: Path, removed: set[Path], touched: set[Path]) -> dict[str, Any]:
    copy: dict[str, Any] = {}
    for key, value in obj.items():
        path = (*prefix, key)
        if path in removed:
            continue
        copy[key] = (
            _copy_without(value, path, removed, touched) if path in touched and isinstance(value, dict) else value
        )
    return copy
