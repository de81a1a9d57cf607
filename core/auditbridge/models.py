"""Frozen models that mirror CloudTrail Lake's integration event schema, field for field.

`EventData` is the JSON object sent as ``eventData``; `AuditEvent` is one entry of a
``PutAuditEvents`` request (``id``, ``eventData``, ``eventDataChecksum``). Every limit
of the AWS reference is stated once, next to the field it constrains. botocore checks
only minimums, so these models are the only thing between a mapper and a rejected entry.
"""

from __future__ import annotations

import base64
import hashlib
import re
import socket
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, Final

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

# Sizes the service states in kB; we read them as decimal kilobytes, the stricter reading.
REQUEST_PARAMETERS_MAX_BYTES: Final = 100_000
RESPONSE_ELEMENTS_MAX_BYTES: Final = 100_000
ADDITIONAL_EVENT_DATA_MAX_BYTES: Final = 28_000
#: PutAuditEvents: at most 100 entries and 1 MB per request.
MAX_ENTRIES_PER_REQUEST: Final = 100
MAX_REQUEST_BYTES: Final = 1_000_000

ENTRY_ID_PATTERN: Final = r"^[-_A-Za-z0-9]+$"
EVENT_TIME_PATTERN: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
_EVENT_TIME_RE: Final = re.compile(EVENT_TIME_PATTERN)
_ENTRY_ID_RE: Final = re.compile(ENTRY_ID_PATTERN)


def json_bytes(value: Any) -> bytes:
    """The canonical JSON encoding used everywhere: compact, keys sorted, UTF-8."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _max_json_bytes(limit: int) -> AfterValidator:
    def check(value: dict[str, Any]) -> dict[str, Any]:
        size = len(orjson.dumps(value))  # key order does not change the size
        if size > limit:
            raise ValueError(f"is {size:,} bytes as JSON; the limit is {limit:,} bytes")
        return value

    return AfterValidator(check)


def _event_time(value: str) -> str:
    if not _EVENT_TIME_RE.match(value):
        raise ValueError("must be UTC in the form yyyy-MM-ddTHH:mm:ssZ, e.g. 2023-01-31T22:23:12Z")
    try:
        # The regex fixed the layout; the constructor checks the calendar (strptime is 5x slower).
        datetime(
            int(value[:4]), int(value[5:7]), int(value[8:10]), int(value[11:13]), int(value[14:16]), int(value[17:19])
        )
    except ValueError as exc:
        raise ValueError(f"is not a real date and time: {exc}") from None
    return value


def normalize_ip_address(value: object) -> str | None:
    """The canonical text of an IPv4 or IPv6 address, or None when ``value`` is not one.

    Uses the C resolver functions: ``ipaddress`` is an order of magnitude slower, and this
    runs for every event.
    """
    if not isinstance(value, str) or not 2 <= len(value) <= 45:
        return None
    for family in (socket.AF_INET, socket.AF_INET6) if ":" not in value else (socket.AF_INET6,):
        try:
            return socket.inet_ntop(family, socket.inet_pton(family, value))
        except (OSError, ValueError):
            continue
    return None


def _ip_address(value: str) -> str:
    if normalize_ip_address(value) is None:
        raise ValueError("must be a valid IPv4 or IPv6 address; omit the field when unknown")
    return value


Text128 = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Text256 = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Text1024 = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


JsonObject = dict[str, Any]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, str_strip_whitespace=False)


class UserIdentity(_Frozen):
    """``userIdentity``: who acted."""

    type: Text128
    principalId: Text1024
    #: Free-form; SQL reads it as ``map<string,string>``, so keep values flat strings.
    details: JsonObject | None = None


class EventData(_Frozen):
    """The ``eventData`` JSON object of a CloudTrail Lake integration event."""

    version: Text256
    userIdentity: UserIdentity
    userAgent: Text1024 | None = None
    eventSource: Text1024
    eventName: Text1024
    eventTime: Annotated[str, AfterValidator(_event_time)]
    UID: Text1024
    requestParameters: Annotated[JsonObject, _max_json_bytes(REQUEST_PARAMETERS_MAX_BYTES)] | None = None
    responseElements: Annotated[JsonObject, _max_json_bytes(RESPONSE_ELEMENTS_MAX_BYTES)] | None = None
    errorCode: Text256 | None = None
    errorMessage: Text256 | None = None
    sourceIPAddress: Annotated[str, AfterValidator(_ip_address)] | None = None
    recipientAccountId: Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
    additionalEventData: Annotated[JsonObject, _max_json_bytes(ADDITIONAL_EVENT_DATA_MAX_BYTES)] | None = None

    def to_json_bytes(self) -> bytes:
        """The exact bytes sent as ``eventData``: absent fields omitted, keys sorted."""
        # Equivalent to model_dump(exclude_none=True) for these plain fields, at a fraction of
        # the cost on the per-event path; test_models checks the two agree.
        data = {name: value for name, value in self.__dict__.items() if value is not None}
        identity = self.userIdentity
        data["userIdentity"] = {name: value for name, value in identity.__dict__.items() if value is not None}
        return json_bytes(data)


def checksum(event_data: bytes) -> str:
    """``eventDataChecksum``: base64 of the raw SHA-256 digest of the eventData bytes."""
    return base64.b64encode(hashlib.sha256(event_data).digest()).decode("ascii")


class AuditEvent(_Frozen):
    """One ``auditEvents`` entry of a PutAuditEvents request, exactly as sent."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=ENTRY_ID_PATTERN)]
    eventData: str
    eventDataChecksum: str | None = Field(default=None)

    @classmethod
    def from_event_data(cls, entry_id: str, event_data: EventData) -> AuditEvent:
        if not (len(entry_id) <= 128 and _ENTRY_ID_RE.match(entry_id)):
            raise ValueError("the entry id must be 1-128 characters of [-_A-Za-z0-9]")
        data = event_data.to_json_bytes()
        # Every field is valid by construction here; skipping re-validation saves a third of the
        # per-event cost of building an entry.
        entry = cls.model_construct(id=entry_id, eventData=data.decode("utf-8"), eventDataChecksum=checksum(data))
        entry.__dict__["wire_size"] = _wire_size(entry_id, data, entry.eventData, entry.eventDataChecksum)
        return entry

    @cached_property
    def wire_size(self) -> int:
        """Bytes this entry adds to a request body as botocore serialises it (ASCII-escaped JSON)."""
        return _wire_size(self.id, self.eventData.encode("utf-8"), self.eventData, self.eventDataChecksum)

    def to_request_entry(self) -> dict[str, str]:
        entry = {"id": self.id, "eventData": self.eventData}
        if self.eventDataChecksum is not None:
            entry["eventDataChecksum"] = self.eventDataChecksum
        return entry


def _wire_size(entry_id: str, data: bytes, text: str, digest: str | None) -> int:
    # Quotes and backslashes gain one byte each; a non-ASCII character becomes a \\uXXXX
    # escape (12 bytes for a surrogate pair), bounded by 12 per extra UTF-8 byte.
    extra = len(data) - len(text)
    escaped = len(data) + data.count(b'"') + data.count(b"\\") + 12 * extra
    return escaped + len(entry_id) + len(digest or "") + 64
