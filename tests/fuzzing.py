"""A mutation fuzzer for SQS records carrying Okta events: hostile variants of real-looking input.

Every case is derived from a seed, so a failure names the seed that reproduces it:
``mutated_record(random.Random(seed))``. The mutations are the shapes seen in hostile traffic:
wrong types, huge strings and objects, deep nesting, keys with dots, impossible timestamps,
broken JSON and broken envelopes, and records the Lambda service itself would never send.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from events import eventbridge_event, okta_log_event, sqs_record

#: Appears in every generated event; it must never reach logs while payload logging is off.
CANARY = "Canary Person 9q7x"


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for level in range(levels):
        value = {"n": value} if level % 2 else [value]
    return value


def _hostile_values(rng: random.Random) -> Any:
    choices: list[Callable[[], Any]] = [
        lambda: None,
        lambda: "",
        lambda: "null",
        lambda: 0,
        lambda: -1,
        lambda: 2**70,
        lambda: 1e308,
        lambda: True,
        lambda: [],
        lambda: {},
        lambda: "x" * rng.choice((129, 257, 1025, 5000, 30_000, 150_000, 300_000)),
        lambda: "ü" * rng.choice((300, 40_000)),
        lambda: " " * 40_000 + "2025-06-01T08:00:00Z",
        lambda: "2025-06-01T08:00:00Z" + " " * 40_000 + "x",
        lambda: rng.choice(("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2025-02-30T00:00:00Z")),
        lambda: rng.choice(("2025-06-01 08:00:00,123456789012345 UTC", "2025-06-01T25:00:00Z", "+99999-01-01")),
        lambda: _deep(rng.choice((70, 250, 600))),
        lambda: {f"k{i}": "v" for i in range(rng.choice((1_000, 10_000, 20_000)))},
        lambda: {"a.k": "x" * 150_000, "b": "y"},
        lambda: list(range(rng.choice((100, 10_000)))),
        lambda: {"": "", "\u0000": "\u0000", "\U0001f600": "\U0001f600"},
        lambda: "\ud800 lone surrogate",
        lambda: "192.0.2.1" + "0" * rng.choice((1, 50)),
        lambda: rng.choice(("::1", "::ffff:192.0.2.1", "2001:db8::1%eth0", "999.1.1.1")),
        lambda: {"id": 1, "type": ["User"], "alternateId": {"x": 1}, "displayName": 3.5},
        lambda: [{"id": "t", "displayName": "d" * 200_000, "detailEntry": {"k": "v" * 1000}}] * 3,
    ]
    return rng.choice(choices)()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, member in value.items():
            found.extend(_paths(member, (*prefix, key)))
    elif isinstance(value, list):
        for index, member in enumerate(value[:5]):
            found.extend(_paths(member, (*prefix, index)))
    return found


def _set(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = root
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return root


def _delete(root: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return root
    parent = root
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return root


def base_log_event(rng: random.Random) -> dict[str, Any]:
    """A real-looking LogEvent of one of several families."""
    event = okta_log_event(
        actor={"id": "00u1canary", "type": "User", "alternateId": "canary@example.com", "displayName": CANARY}
    )
    family = rng.randrange(4)
    if family == 1:
        event["eventType"] = "user.account.update_password"
        event["outcome"] = {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"}
        event["target"] = [
            {"id": "00u2", "type": "User", "alternateId": "t@example.com", "displayName": "Target", "detailEntry": None}
        ]
    elif family == 2:
        event["eventType"] = "policy.evaluate_sign_on"
        event["debugContext"] = {"debugData": {f"key{i}": f"value{i}" for i in range(40)}}
        event["authenticationContext"] = {"authenticationStep": 0, "externalSessionId": "x" * 40}
    elif family == 3:
        event["eventType"] = "group.user_membership.add"
        event["target"] = [{"id": f"00g{i}", "type": "UserGroup", "displayName": f"Group {i}"} for i in range(5)]
        event["client"]["ipAddress"] = "2001:db8::1"
    return event


@dataclass
class Case:
    record: Any
    #: Unmutated: must be stored exactly once.
    pristine: bool
    mutation: str


def _mutate_detail(rng: random.Random, detail: dict[str, Any]) -> str:
    names = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        paths = _paths(detail)
        path = rng.choice(paths[1:]) if len(paths) > 1 else ()
        action = rng.random()
        if action < 0.75:
            _set(detail, path, _hostile_values(rng))
            names.append(f"set {'.'.join(map(str, path))}")
        elif action < 0.9:
            _delete(detail, path)
            names.append(f"delete {'.'.join(map(str, path))}")
        else:
            detail[rng.choice(("a.b", "", "target.0.displayName", "x" * 300))] = _hostile_values(rng)
            names.append("add key")
    return ", ".join(names)


#: SQS delivers no larger message: a larger case is drawn again.
MAX_SQS_BODY_BYTES = 1_048_576


def mutated_record(rng: random.Random) -> Case:
    """One SQS record SQS could deliver: pristine, or with its LogEvent, envelope, body or record mutated."""
    while True:
        case = _draw(rng)
        body = case.record.get("body") if isinstance(case.record, dict) else None
        if not isinstance(body, str) or len(body.encode("utf-8", "surrogatepass")) <= MAX_SQS_BODY_BYTES:
            return case


def _draw(rng: random.Random) -> Case:
    detail = base_log_event(rng)
    roll = rng.random()
    if roll < 0.35:
        return Case(sqs_record(eventbridge_event(detail)), True, "none")
    if roll < 0.8:
        mutation = _mutate_detail(rng, detail)
        return Case(sqs_record(eventbridge_event(detail)), False, mutation)
    envelope = eventbridge_event(detail)
    if roll < 0.9:
        key = rng.choice(("source", "detail", "id", "time", "account", "detail-type"))
        if rng.random() < 0.3:
            del envelope[key]
        else:
            envelope[key] = _hostile_values(rng)
        return Case(sqs_record(envelope), False, f"envelope {key}")
    if roll < 0.97:
        text = json.dumps(envelope)
        body = rng.choice(
            (
                text[: rng.randrange(len(text))],
                "\ufeff" + text,
                "",
                "null",
                "[" + text + "]",
                text.replace('"detail"', '"detail":NaN,"x"', 1),
                text + " " * 50_000,
                text.replace("{", "{" * 2, 1),
            )
        )
        return Case(sqs_record(body), False, "body")
    record = sqs_record(envelope)
    kind = rng.randrange(4)
    if kind == 0:
        del record["messageId"]
    elif kind == 1:
        record["body"] = rng.choice((None, 123, {"a": 1}))
    elif kind == 2:
        record["messageId"] = 42
    else:
        record = rng.choice(("not a record", None, 7, []))
    return Case(record, False, "record")


def batch_of(seed: int, size: int) -> list[Case]:
    """``size`` cases, the ``i``-th drawn from ``random.Random(seed * 1000 + i)``."""
    return [mutated_record(random.Random(seed * 1000 + index)) for index in range(size)]


def describe(case: Case) -> str:
    return f"{case.mutation} (pristine={case.pristine})"


def message_id(case: Case, index: int) -> str:
    record = case.record
    if isinstance(record, dict) and isinstance(record.get("messageId"), str) and record["messageId"]:
        return str(record["messageId"])
    return f"#{index}"


def uuid_of(case: Case) -> str | None:
    """The LogEvent uuid the record carries, when it has a readable one."""
    record = case.record
    if not isinstance(record, dict) or not isinstance(record.get("body"), str):
        return None
    try:
        body = orjson.loads(record["body"])  # as strict as intake: lone surrogates are refused
    except orjson.JSONDecodeError:
        return None
    detail = body.get("detail") if isinstance(body, dict) else None
    uuid = detail.get("uuid") if isinstance(detail, dict) else None
    return uuid if isinstance(uuid, str) else None


def copy_case(case: Case) -> Case:
    return Case(copy.deepcopy(case.record), case.pristine, case.mutation)
