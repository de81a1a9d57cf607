"""Frozen models that mirror CloudTrail Lake's integration event schema, field for field.

`EventData` is the JSON object sent as ``eventData``; `AuditEvent` is one entry of a
``PutAuditEvents`` request (``id``, ``eventData``, ``eventDataChecksum``). Every limit
of the AWS reference is stated once, next to the field it constrains. botocore checks
only minimums, so these models are the only thing between a mapper and a rejected entry.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import socket
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, Final, TypeVar

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
    # fullmatch: with match, ``$`` would also accept a trailing newline.
    if not _EVENT_TIME_RE.fullmatch(value):
        raise ValueError("must be UTC in the form yyyy-MM-ddTHH:mm:ssZ, e.g. 2023-01-31T22:23:12Z")
    # The regex fixed the layout; the constructor checks the calendar (strptime is 5x slower).
    # Days recur from event to event, so their verdicts are kept; a time of day is in range.
    problem = _date_problem(value[:10])
    if problem is None and not (int(value[11:13]) <= 23 and int(value[14:16]) <= 59 and int(value[17:19]) <= 59):
        problem = "the time of day is out of range"
    if problem is not None:
        raise ValueError(f"is not a real date and time: {problem}")
    return value


@functools.lru_cache(maxsize=1024)
def _date_problem(day: str) -> str | None:
    try:
        datetime(int(day[:4]), int(day[5:7]), int(day[8:10]))
    except ValueError as exc:
        return str(exc)
    return None


def normalize_ip_address(value: object) -> str | None:
    """The canonical text of an IPv4 or IPv6 address, or None when ``value`` is not one.

    Uses the C resolver functions: ``ipaddress`` is an order of magnitude slower, and this
    runs for every event (twice: the mapper's call and the model's check). Addresses recur,
    so recent answers are kept.
    """
    if not isinstance(value, str) or not 2 <= len(value) <= 45:
        return None
    return _normalized_ip_address(str(value))


@functools.lru_cache(maxsize=4096)
def _normalized_ip_address(value: str) -> str | None:
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
    # The schema is built when first needed: the mappers' fast path (build) never needs it, so a
    # cold start whose events all take it skips building it.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, str_strip_whitespace=False, defer_build=True)


_M = TypeVar("_M", bound=_Frozen)


def _text(value: object, limit: int) -> bool:
    """What ``Text<limit>`` accepts, in plain Python (exact ``str`` only: subclasses take the model's path)."""
    return type(value) is str and 0 < len(value) <= limit


def _trusted(cls: type[_M], values: dict[str, Any]) -> _M:
    """An instance of ``cls`` holding ``values`` as they are, as ``model_construct`` builds one.

    Only for values the model's own rules were just checked against: see ``build``.
    """
    instance = cls.__new__(cls)
    object.__setattr__(instance, "__dict__", values)
    _set_fields_set(instance, set(values))
    _set_extra(instance, None)
    _set_private(instance, None)
    return instance


# BaseModel's slots, set through their descriptors: a third faster than object.__setattr__.
_BASE_MODEL_SLOTS: Any = vars(BaseModel)
_set_fields_set = _BASE_MODEL_SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _BASE_MODEL_SLOTS["__pydantic_extra__"].__set__
_set_private = _BASE_MODEL_SLOTS["__pydantic_private__"].__set__


class UserIdentity(_Frozen):
    """``userIdentity``: who acted."""

    type: Text128
    principalId: Text1024
    #: Free-form; SQL reads it as ``map<string,string>``, so keep values flat strings.
    details: JsonObject | None = None

    @classmethod
    def build(cls, *, type: str, principalId: str, details: JsonObject | None = None) -> UserIdentity:
        """Exactly ``UserIdentity(...)``, several times faster for the values mappers produce.

        What passes the plain-Python checks here is a subset of what the model accepts
        (``tests/test_model_fast_path.py`` holds the two together with hypothesis); anything
        else is handed to the model itself, so its errors are the model's.
        """
        if (
            _text(type, 128)
            and _text(principalId, 1024)
            and (details is None or (details.__class__ is dict and all(k.__class__ is str for k in details)))
        ):
            return _trusted(cls, {"type": type, "principalId": principalId, "details": details})
        return cls(type=type, principalId=principalId, details=details)


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

    @classmethod
    def build(
        cls,
        *,
        version: str,
        userIdentity: UserIdentity,
        eventSource: str,
        eventName: str,
        eventTime: str,
        UID: str,
        recipientAccountId: str,
        userAgent: str | None = None,
        requestParameters: JsonObject | None = None,
        responseElements: JsonObject | None = None,
        errorCode: str | None = None,
        errorMessage: str | None = None,
        sourceIPAddress: str | None = None,
        additionalEventData: JsonObject | None = None,
    ) -> EventData:
        """Exactly ``EventData(...)``, several times faster for the values mappers produce.

        The checks below are the model's rules restated in plain Python, for the common case
        only: what passes them is a subset of what the model accepts (``tests/test_model_fast_path.py``
        holds the two together with hypothesis). Anything else -- a wrong type, a limit
        exceeded, an unencodable value -- is handed to the model itself, so every error is the
        model's own. The eventData bytes are encoded once here and kept: the three object-size
        limits are read off them (an object is no larger than the whole), and
        :meth:`to_json_bytes` returns them.
        """
        values: dict[str, Any] = {
            "version": version,
            "userIdentity": userIdentity,
            "userAgent": userAgent,
            "eventSource": eventSource,
            "eventName": eventName,
            "eventTime": eventTime,
            "UID": UID,
            "requestParameters": requestParameters,
            "responseElements": responseElements,
            "errorCode": errorCode,
            "errorMessage": errorMessage,
            "sourceIPAddress": sourceIPAddress,
            "recipientAccountId": recipientAccountId,
            "additionalEventData": additionalEventData,
        }
        # Written out rather than through helpers: this runs for every event.
        if (
            type(version) is str
            and 0 < len(version) <= 256
            and type(userIdentity) is UserIdentity
            and (userAgent is None or (type(userAgent) is str and 0 < len(userAgent) <= 1024))
            and type(eventSource) is str
            and 0 < len(eventSource) <= 1024
            and type(eventName) is str
            and 0 < len(eventName) <= 1024
            and type(UID) is str
            and 0 < len(UID) <= 1024
            and _is_event_time(eventTime)
            and (requestParameters is None or type(requestParameters) is dict)
            and (responseElements is None or type(responseElements) is dict)
            and (errorCode is None or (type(errorCode) is str and 0 < len(errorCode) <= 256))
            and (errorMessage is None or (type(errorMessage) is str and 0 < len(errorMessage) <= 256))
            and (sourceIPAddress is None or normalize_ip_address(sourceIPAddress) is not None)
            and type(recipientAccountId) is str
            and len(recipientAccountId) == 12
            and recipientAccountId.isascii()
            and recipientAccountId.isdigit()
            and (additionalEventData is None or type(additionalEventData) is dict)
        ):
            try:
                encoded = _encode(values)
            except (TypeError, ValueError, RecursionError):
                encoded = None  # the model's validators meet the same value and say what is wrong
            if encoded is not None and (len(encoded) <= _SMALLEST_OBJECT_LIMIT or _objects_within_limits(values)):
                model = _trusted(cls, values)
                model.__dict__["encoded"] = encoded
                return model
        return cls(**values)

    @cached_property
    def encoded(self) -> bytes:
        """The exact bytes sent as ``eventData``: absent fields omitted, keys sorted."""
        return _encode(self.__dict__)

    def to_json_bytes(self) -> bytes:
        """The exact bytes sent as ``eventData``: absent fields omitted, keys sorted."""
        return self.encoded


_OBJECT_LIMITS: Final = {
    "requestParameters": REQUEST_PARAMETERS_MAX_BYTES,
    "responseElements": RESPONSE_ELEMENTS_MAX_BYTES,
    "additionalEventData": ADDITIONAL_EVENT_DATA_MAX_BYTES,
}
_SMALLEST_OBJECT_LIMIT: Final = min(_OBJECT_LIMITS.values())
_EVENT_DATA_FIELDS: Final = tuple(EventData.model_fields)


def _is_event_time(value: object) -> bool:
    if type(value) is not str or len(value) != 20:
        return False
    try:
        _event_time(value)
    except ValueError:
        return False
    return True


def _objects_within_limits(values: dict[str, Any]) -> bool:
    return all(
        values[name] is None or len(orjson.dumps(values[name])) <= limit for name, limit in _OBJECT_LIMITS.items()
    )


def _encode(fields: dict[str, Any]) -> bytes:
    # Equivalent to model_dump(exclude_none=True) for these plain fields, at a fraction of the
    # cost on the per-event path; test_models checks the two agree. Only the model's fields:
    # the instance dict also caches ``encoded`` once computed.
    data = {name: fields[name] for name in _EVENT_DATA_FIELDS if fields[name] is not None}
    identity = data["userIdentity"]
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
        if not (len(entry_id) <= 128 and _ENTRY_ID_RE.fullmatch(entry_id)):
            raise ValueError("the entry id must be 1-128 characters of [-_A-Za-z0-9]")
        data = event_data.to_json_bytes()
        # Every field is valid by construction here; skipping re-validation saves a third of the
        # per-event cost of building an entry.
        text, digest = data.decode("utf-8"), checksum(data)
        entry = _trusted(cls, {"id": entry_id, "eventData": text, "eventDataChecksum": digest})
        # eventData as the JSON string orjson writes in the request body (one pass in C; two
        # bytes.replace passes cost twice as much).
        quoted = orjson.dumps(text)
        entry.__dict__["request_json"] = b"".join(
            (
                b'{"id":"',
                entry_id.encode("ascii"),
                b'","eventData":',
                quoted,
                b',"eventDataChecksum":"',
                digest.encode("ascii"),
                b'"}',
            )
        )
        entry.__dict__["wire_size"] = _wire_size(len(quoted) - 2, len(data) - len(text), entry_id, digest)
        return entry

    @cached_property
    def wire_size(self) -> int:
        """Bytes this entry adds to a request body as botocore serialises it (ASCII-escaped JSON)."""
        data = self.eventData.encode("utf-8")
        escaped = len(data) + data.count(b'"') + data.count(b"\\")
        return _wire_size(escaped, len(data) - len(self.eventData), self.id, self.eventDataChecksum)

    @cached_property
    def request_json(self) -> bytes:
        """This entry as PutAuditEvents' request body carries it (orjson's encoding of :meth:`to_request_entry`)."""
        return orjson.dumps(self.to_request_entry())

    def to_request_entry(self) -> dict[str, str]:
        entry = {"id": self.id, "eventData": self.eventData}
        if self.eventDataChecksum is not None:
            entry["eventDataChecksum"] = self.eventDataChecksum
        return entry


def _wire_size(escaped: int, extra: int, entry_id: str, digest: str | None) -> int:
    # ``escaped``: the eventData bytes with quotes and backslashes escaped. botocore also
    # writes a non-ASCII character as a \\uXXXX escape (12 bytes for a surrogate pair),
    # bounded by 12 per ``extra`` UTF-8 byte.
    return escaped + 12 * extra + len(entry_id) + len(digest or "") + 64
