"""Bounds on what one message may hold, checked once at intake so later stages can rely on them.

Every per-event step after intake (mapping, trimming, encoding, checksums) is linear or
n log n in the size of the event; these bounds keep n small enough that one hostile record
can never outlast a Lambda timeout or a worker's visibility timeout.
"""

from __future__ import annotations

from typing import Any, Final

from auditbridge.errors import MalformedMessageError

#: SQS's largest message: no real queue message is bigger.
MAX_BODY_BYTES: Final = 1_048_576
#: Nesting levels of objects and arrays; Okta LogEvents use fewer than 10. orjson cannot
#: encode more than 254, and Python's recursion limit is near 1000.
MAX_DEPTH: Final = 64
#: Values (objects, arrays, strings, numbers, ...) in one message.
MAX_MEMBERS: Final = 100_000
#: Characters in one string or object key: EventBridge events are at most 256 KB.
MAX_STRING_CHARS: Final = 262_144


def check_body_size(body: str | bytes, *, event_id: str | None = None) -> None:
    """Refuse a body over :data:`MAX_BODY_BYTES` before parsing it."""
    # A character is at most 4 UTF-8 bytes: encode only when the length alone cannot decide.
    if len(body) > MAX_BODY_BYTES or (
        isinstance(body, str)
        and len(body) * 4 > MAX_BODY_BYTES
        and len(body.encode("utf-8", "replace")) > MAX_BODY_BYTES
    ):
        raise MalformedMessageError(
            f"the message body is over {MAX_BODY_BYTES:,} bytes",
            code="TooLarge",
            event_id=event_id,
            hint="no EventBridge event is this large; the producer sent something else",
        )


def check_structure(data: Any, body_length: int, brackets: int) -> None:
    """Refuse parsed JSON that is nested deeper, has more values or longer strings than allowed.

    ``body_length`` and ``brackets`` (the count of ``{`` and ``[`` in the text) let the usual
    small event skip the walk: a text shorter than a bound cannot break it.
    """
    if brackets <= MAX_DEPTH and body_length <= min(MAX_MEMBERS, MAX_STRING_CHARS):
        return
    members = 0
    stack: list[tuple[Any, int, str]] = [(data, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        members += 1
        if members > MAX_MEMBERS:
            raise MalformedMessageError(
                f"the message holds more than {MAX_MEMBERS:,} JSON values",
                code="TooLarge",
                field=path or None,
                hint="no audit event is this large; the producer sent something else",
            )
        if isinstance(value, str):
            if len(value) > MAX_STRING_CHARS:
                raise _too_long(path)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise MalformedMessageError(
                    f"the message is nested more than {MAX_DEPTH} levels deep",
                    code="TooDeep",
                    field=path or None,
                    hint="no audit event is nested this deeply; the producer sent something else",
                )
            if isinstance(value, dict):
                for key, member in value.items():
                    if len(key) > MAX_STRING_CHARS:
                        raise _too_long(path)
                    stack.append((member, depth + 1, f"{path}.{key[:64]}" if path else key[:64]))
            else:
                stack.extend((member, depth + 1, f"{path}[{index}]") for index, member in enumerate(value))


def _too_long(path: str) -> MalformedMessageError:
    return MalformedMessageError(
        f"a string or key is over {MAX_STRING_CHARS:,} characters",
        code="TooLarge",
        field=path or None,
        hint="no EventBridge event holds a string this long; the producer sent something else",
    )
