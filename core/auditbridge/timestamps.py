"""Turning the timestamps SaaS products send into CloudTrail Lake's ``eventTime``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from auditbridge.errors import MappingError

_ISO_RE = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s*(Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?\s*$"
)


_UTC_NAMES = frozenset({"Z", "z", "UTC"})


def to_event_time(value: str, *, field: str = "eventTime") -> str:
    """Parse an ISO 8601 timestamp and return it in UTC to the second: ``2023-01-31T22:23:12Z``.

    Tolerates a space instead of ``T``, any number of fraction digits (dropped, never
    rounded up into the next second), ``Z``, ``UTC`` or a numeric offset, and no zone at
    all (read as UTC). A date that does not exist (``2017-09-31``) is a MappingError.
    """
    match = _ISO_RE.match(value)
    if match is None:
        raise MappingError(f"{field} {value[:40]!r} is not an ISO 8601 timestamp", code="InvalidTimestamp", field=field)
    year, month, day, hour, minute, second, _fraction, zone = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC)
    except ValueError as exc:
        raise MappingError(
            f"{field} {value[:40]!r} is not a real date and time ({exc})",
            code="InvalidTimestamp",
            field=field,
        ) from None
    if zone and zone not in _UTC_NAMES:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 23 or minutes > 59:
            raise MappingError(f"{field} has an impossible UTC offset {zone!r}", code="InvalidTimestamp", field=field)
        moment = moment.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes))).astimezone(UTC)
    return _format(moment)


def epoch_to_event_time(value: float, *, milliseconds: bool = False, field: str = "eventTime") -> str:
    """Epoch seconds (or milliseconds) to ``eventTime``."""
    seconds = value / 1000 if milliseconds else value
    try:
        moment = datetime.fromtimestamp(int(seconds), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise MappingError(
            f"{field} {value!r} is outside the range of dates", code="InvalidTimestamp", field=field
        ) from None
    return _format(moment)


def _format(moment: datetime) -> str:
    # An f-string is several times faster than strftime, and this runs for every event.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )
