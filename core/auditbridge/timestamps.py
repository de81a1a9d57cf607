"""Turning the timestamps SaaS products send into CloudTrail Lake's ``eventTime``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from auditbridge.errors import MappingError

# Applied to the stripped text only, and never to more than MAX_TIMESTAMP_CHARS: a pattern
# with whitespace on both sides of an optional group backtracks quadratically on long runs.
_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,12}))? ?(Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?"
)
#: Longer than any real ISO 8601 timestamp with a zone; anything longer is not one.
MAX_TIMESTAMP_CHARS = 64


_UTC_NAMES = frozenset({"Z", "z", "UTC"})


def to_event_time(value: str, *, field: str = "eventTime") -> str:
    """Parse an ISO 8601 timestamp and return it in UTC to the second: ``2023-01-31T22:23:12Z``.

    Tolerates a space instead of ``T``, up to 12 fraction digits (dropped, never
    rounded up into the next second), ``Z``, ``UTC`` or a numeric offset, and no zone at
    all (read as UTC). A date that does not exist (``2017-09-31``) is a MappingError.
    """
    if _is_plain_utc(value):
        try:
            datetime(
                int(value[:4]),
                int(value[5:7]),
                int(value[8:10]),
                int(value[11:13]),
                int(value[14:16]),
                int(value[17:19]),
            )
        except ValueError:
            pass  # the full parse below says what is wrong
        else:
            return value[:19] + "Z"
    return _parse_event_time(value, field)


def _is_plain_utc(value: str) -> bool:
    """``2023-01-31T22:23:12Z`` or ``2023-01-31T22:23:12.345Z`` in ASCII: what most products send.

    Checked character by character, several times faster than the pattern; for these the
    pattern's answer is the text itself (tests/test_timestamps_and_fitting.py holds the two together).
    """
    return (
        (len(value) == 20 or (len(value) == 24 and value[19] == "." and value[20:23].isdigit()))
        and value.isascii()
        and value[4] == "-"
        and value[7] == "-"
        and value[10] == "T"
        and value[13] == ":"
        and value[16] == ":"
        and value[-1] == "Z"
        and value[:4].isdigit()
        and value[5:7].isdigit()
        and value[8:10].isdigit()
        and value[11:13].isdigit()
        and value[14:16].isdigit()
        and value[17:19].isdigit()
    )


def _parse_event_time(value: str, field: str) -> str:
    text = value.strip() if len(value) <= 4 * MAX_TIMESTAMP_CHARS else ""
    match = _ISO_RE.fullmatch(text) if len(text) <= MAX_TIMESTAMP_CHARS else None
    if match is None:
        # The value is not quoted: it is the producer's data and may carry personal data.
        raise MappingError(
            f"{field} is not an ISO 8601 timestamp such as 2023-01-31T22:23:12.345Z",
            code="InvalidTimestamp",
            field=field,
        )
    year, month, day, hour, minute, second, _fraction, zone = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC)
    except ValueError as exc:
        raise MappingError(
            f"{field} is not a real date and time ({exc})",
            code="InvalidTimestamp",
            field=field,
        ) from None
    if zone and zone not in _UTC_NAMES:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 23 or minutes > 59:
            raise MappingError(
                f"{field} has an impossible UTC offset (hours over 23 or minutes over 59)",
                code="InvalidTimestamp",
                field=field,
            )
        try:
            moment = moment.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes))).astimezone(UTC)
        except OverflowError:
            raise MappingError(
                f"{field} with its UTC offset falls outside the years 1-9999",
                code="InvalidTimestamp",
                field=field,
            ) from None
    return _format(moment)


def epoch_to_event_time(value: float, *, milliseconds: bool = False, field: str = "eventTime") -> str:
    """Epoch seconds (or milliseconds) to ``eventTime``."""
    seconds = value / 1000 if milliseconds else value
    try:
        moment = datetime.fromtimestamp(int(seconds), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise MappingError(
            f"{field} is outside the years 1-9999 as epoch {'milliseconds' if milliseconds else 'seconds'}",
            code="InvalidTimestamp",
            field=field,
        ) from None
    return _format(moment)


def _format(moment: datetime) -> str:
    # An f-string is several times faster than strftime, and this runs for every event.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )
