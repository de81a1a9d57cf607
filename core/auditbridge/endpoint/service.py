"""What the CloudTrail Data service does with a PutAuditEvents request, without the HTTP.

The rules are written from the service documentation (``shared/reference/cloudtrail-lake.md``),
independently of :mod:`auditbridge.models`, so that a mistake in the client-side models is
caught here rather than mirrored.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from auditbridge.endpoint.faults import Fault, FaultPlan

_CHANNEL_ARN_RE = re.compile(r"^arn:aws[a-z-]*:cloudtrail:([a-z0-9-]+):(\d{12}):channel/([-_A-Za-z0-9]+)$")
_CHANNEL_ID_RE = re.compile(r"^[-_A-Za-z0-9]+$")
_ID_RE = re.compile(r"^[-_A-Za-z0-9]+$")
_EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]*$")
_EVENT_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?$")

MAX_ENTRIES = 100
MAX_BODY_BYTES = 1_048_576
STRING_LIMITS = {
    "version": 256,
    "userAgent": 1024,
    "eventSource": 1024,
    "eventName": 1024,
    "UID": 1024,
    "errorCode": 256,
    "errorMessage": 256,
}
IDENTITY_LIMITS = {"type": 128, "principalId": 1024}
MAP_LIMITS = {"requestParameters": 100_000, "responseElements": 100_000, "additionalEventData": 28_000}
REQUIRED = ("version", "userIdentity", "eventSource", "eventName", "eventTime", "UID", "recipientAccountId")
KNOWN_FIELDS = frozenset(
    {*REQUIRED, *STRING_LIMITS, *MAP_LIMITS, "sourceIPAddress", "recipientAccountId", "userIdentity"}
)


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel: its ARN, the account that owns it, and the external id its policy demands."""

    arn: str
    external_id: str | None = None
    event_data_store: str | None = None

    @property
    def account_id(self) -> str:
        return self.arn.split(":")[4]

    @property
    def channel_id(self) -> str:
        return self.arn.rsplit("/", 1)[1]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An accepted event, with what CloudTrail adds to it."""

    channel_arn: str
    event_data_store: str | None
    entry_id: str
    event_id: str
    event_data: str
    ingestion_time: str
    #: ``event_data`` as the service read it while checking it (so storage need not read it again).
    data: dict[str, Any] | None = None


class EventStore(Protocol):
    """Where accepted events go; one call per request, all or nothing."""

    def store(self, events: Sequence[StoredEvent]) -> None: ...


@dataclass
class MemoryStore:
    events: list[StoredEvent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def store(self, events: Sequence[StoredEvent]) -> None:
        # Without the parsed copy: kept for the process's life, it would only slow the collector.
        kept = [event if event.data is None else dataclasses.replace(event, data=None) for event in events]
        with self._lock:
            self.events.extend(kept)

    def clear(self) -> None:
        with self._lock:
            self.events.clear()


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    error_type: str | None = None
    drop_connection: bool = False


class ServiceError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class CloudTrailDataService:
    """PutAuditEvents semantics: validation, per-entry results, storage, injected faults."""

    def __init__(
        self,
        channels: Sequence[Channel] = (),
        store: EventStore | None = None,
        *,
        auto_create_channels: bool = False,
        event_id_factory: Callable[[], str] | None = None,
        check_recipient: bool = True,
    ) -> None:
        """``check_recipient=False``: events of any ``recipientAccountId`` are taken (the ``local:``
        destination, whose store keeps a deployment's events whatever its account; its channel is
        the store's own). The field is still required, and everything else is checked."""
        self.channels: dict[str, Channel] = {}
        for channel in channels:
            self.add_channel(channel)
        self.store = store if store is not None else MemoryStore()
        self.auto_create_channels = auto_create_channels
        self.faults = FaultPlan()
        self.requests = 0
        self._event_id = event_id_factory or random_event_id
        self.check_recipient = check_recipient
        self._lock = threading.Lock()

    def add_channel(self, channel: Channel) -> None:
        arn = normalize_channel_arn(channel.arn)
        self.channels[arn] = Channel(arn, channel.external_id, channel.event_data_store)

    def put_audit_events(self, query: dict[str, str], body: bytes) -> Response:
        with self._lock:
            self.requests += 1
        fault = self.faults.take()
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind == "drop_connection":
            return Response(0, b"", drop_connection=True)
        if fault is not None and fault.kind == "error":
            return _error(fault.status, fault.code, fault.message)
        try:
            channel = self._channel(query.get("channelArn"), query.get("externalId"))
            entries = self._check_entries(_parse_body(body))
        except ServiceError as exc:
            return _error(exc.status, exc.code, exc.message)
        successful, failed = self._accept(channel, entries, fault)
        if fault is not None and fault.kind == "store_then_fail":
            return _error(fault.status, fault.code, fault.message)
        return Response(200, orjson.dumps({"successful": successful, "failed": failed}))

    def put_entries(
        self,
        channel_arn: str,
        external_id: str | None,
        entries: list[dict[str, Any]],
        *,
        store: EventStore | None = None,
    ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """PutAuditEvents without HTTP, for in-process sinks; raises :class:`ServiceError`.

        ``store``: where the accepted events go instead of the service's own store.
        """
        channel = self._channel(channel_arn, external_id)
        return self._accept(channel, self._check_entries(entries), None, store)

    # -- request-level checks ----------------------------------------------------------

    def _channel(self, channel_arn: str | None, external_id: str | None) -> Channel:
        if not channel_arn:
            raise ServiceError(400, "ValidationException", "channelArn is required")
        if _CHANNEL_ARN_RE.fullmatch(channel_arn):
            arn = normalize_channel_arn(channel_arn)
            channel = self.channels.get(arn)
            if channel is None and self.auto_create_channels:
                channel = Channel(arn)
                self.channels[arn] = channel
        elif _CHANNEL_ID_RE.fullmatch(channel_arn):
            wanted = normalize_channel_id(channel_arn)
            matches = [c for c in self.channels.values() if c.channel_id == wanted]
            if len(matches) > 1:
                raise ServiceError(
                    400, "InvalidChannelARN", f"The channel id {channel_arn} names channels of several accounts."
                )
            channel = matches[0] if matches else None
        else:
            raise ServiceError(400, "InvalidChannelARN", f"The channel ARN {channel_arn} is not valid.")
        if channel is None:
            raise ServiceError(404, "ChannelNotFound", f"The channel {channel_arn} was not found.")
        if external_id is not None and not (2 <= len(external_id) <= 1224 and _EXTERNAL_ID_RE.fullmatch(external_id)):
            raise ServiceError(400, "ValidationException", "externalId does not satisfy its constraints")
        if channel.external_id is not None and external_id != channel.external_id:
            raise ServiceError(403, "ChannelInsufficientPermission", "The caller is not allowed to use this channel.")
        return channel

    def _check_entries(self, entries: Any) -> list[dict[str, Any]]:
        if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_ENTRIES:
            raise ServiceError(400, "ValidationException", "auditEvents must hold 1 to 100 entries.")
        seen: set[str] = set()
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("eventData"), str):
                raise ServiceError(400, "ValidationException", "Every audit event needs id and eventData strings.")
            entry_id = entry.get("id")
            if not isinstance(entry_id, str) or not 1 <= len(entry_id) <= 128 or not _ID_RE.fullmatch(entry_id):
                raise ServiceError(400, "ValidationException", "Audit event id does not satisfy its constraints.")
            if entry_id in seen:
                raise ServiceError(400, "DuplicatedAuditEventId", f"Duplicated audit event id {entry_id}.")
            seen.add(entry_id)
        return entries

    # -- per-entry checks and storage ---------------------------------------------------

    def _accept(
        self, channel: Channel, entries: list[dict[str, Any]], fault: Fault | None, store: EventStore | None = None
    ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        successful: list[dict[str, str]] = []
        failed: list[dict[str, str]] = []
        accepted: list[StoredEvent] = []
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for position, entry in enumerate(entries):
            entry_id = entry["id"]
            injected = (
                fault is not None
                and fault.kind == "entry_failure"
                and (entry_id in fault.ids or (not fault.ids and position < fault.count))
            )
            if injected:
                assert fault is not None
                failed.append({"id": entry_id, "errorCode": fault.code, "errorMessage": fault.message})
                continue
            problem, data = read_entry(entry, channel.account_id if self.check_recipient else None)
            if problem is not None:
                failed.append({"id": entry_id, "errorCode": problem[0], "errorMessage": problem[1]})
                continue
            event_id = self._event_id()
            accepted.append(
                StoredEvent(channel.arn, channel.event_data_store, entry_id, event_id, entry["eventData"], now, data)
            )
            successful.append({"id": entry_id, "eventID": event_id})
        if accepted:
            (store or self.store).store(accepted)
        return successful, failed


def random_event_id() -> str:
    """A random (version 4) UUID as text, as CloudTrail gives each event: ``str(uuid.uuid4())``
    at less than half its cost, which counts once per event stored."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def normalize_channel_id(channel_id: str) -> str:
    """A UUID channel id in its one canonical form (lower case, dashed); any other id as it is."""
    try:
        return str(uuid.UUID(channel_id))
    except ValueError:
        return channel_id


def normalize_channel_arn(arn: str) -> str:
    """The ARN with its channel id normalised, so one channel is one key wherever it is used."""
    prefix, _, channel_id = arn.rpartition("/")
    return f"{prefix}/{normalize_channel_id(channel_id)}" if prefix else arn


def _parse_body(body: bytes) -> Any:
    if len(body) > MAX_BODY_BYTES:
        raise ServiceError(413, "ValidationException", f"Request body is {len(body)} bytes; the limit is 1 MB.")
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ServiceError(400, "SerializationException", "The request body is not valid JSON.") from None
    return request.get("auditEvents") if isinstance(request, dict) else None


def check_entry(entry: dict[str, Any], account_id: str | None) -> tuple[str, str] | None:
    """The service's per-entry verdict: None, or (errorCode, errorMessage); never raises.

    ``account_id``: the channel's account, which ``recipientAccountId`` must name (None: any).
    """
    return read_entry(entry, account_id)[0]


def read_entry(entry: dict[str, Any], account_id: str | None) -> tuple[tuple[str, str] | None, dict[str, Any] | None]:
    """The verdict, and the eventData read while checking it (None when refused); never raises."""
    read: list[dict[str, Any]] = []
    try:
        problem = _check_entry(entry, account_id, read)
    except (TypeError, ValueError, RecursionError):  # nested too deeply to encode, and the like
        return ("InvalidData", "eventData cannot be read: nested too deeply or not encodable"), None
    return problem, (read[0] if problem is None and read else None)


def _check_entry(entry: dict[str, Any], account_id: str | None, read: list[dict[str, Any]]) -> tuple[str, str] | None:
    text: str = entry["eventData"]
    checksum = entry.get("eventDataChecksum")
    if checksum is not None:
        digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
        if checksum != digest:
            return "InvalidChecksum", "eventDataChecksum does not match eventData"
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return "InvalidData", "eventData is not valid JSON"
    if not isinstance(data, dict):
        return "InvalidData", "eventData must be a JSON object"
    read.append(data)
    for name in REQUIRED:
        if name not in data or data[name] is None:
            return "FieldNotFound", f"{name} is required"
    unknown = set(data) - KNOWN_FIELDS
    if unknown:
        return "InvalidData", f"unknown fields: {', '.join(sorted(unknown))}"
    for name, limit in STRING_LIMITS.items():
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            return "InvalidData", f"{name} must be a string"
        if len(value) > limit:
            return "FieldTooLong", f"{name} exceeds {limit} characters"
    identity = data["userIdentity"]
    if not isinstance(identity, dict):
        return "InvalidData", "userIdentity must be an object"
    for name, limit in IDENTITY_LIMITS.items():
        value = identity.get(name)
        if not isinstance(value, str) or not value:
            return "FieldNotFound", f"userIdentity.{name} is required"
        if len(value) > limit:
            return "FieldTooLong", f"userIdentity.{name} exceeds {limit} characters"
    if "details" in identity and not isinstance(identity["details"], dict):
        return "InvalidData", "userIdentity.details must be an object"
    for name, limit in MAP_LIMITS.items():
        if name in data:
            if not isinstance(data[name], dict):
                return "InvalidData", f"{name} must be an object"
            if len(orjson.dumps(data[name])) > limit:
                return "FieldTooLong", f"{name} exceeds {limit} bytes"
    event_time = data["eventTime"]
    if not isinstance(event_time, str) or not _EVENT_TIME_RE.fullmatch(event_time) or not _real_time(event_time):
        return "InvalidData", "eventTime must be yyyy-MM-ddTHH:mm:ssZ"
    if "sourceIPAddress" in data and not _is_ip_address(data["sourceIPAddress"]):
        return "InvalidData", "sourceIPAddress is not a valid IP address"
    if account_id is not None and data["recipientAccountId"] != account_id:
        return "InvalidRecipient", "recipientAccountId must be the account that owns the channel"
    return None


def _real_time(value: str) -> bool:
    try:
        datetime.fromisoformat(value[:19])
    except ValueError:
        return False
    return True


def _is_ip_address(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, value)
        except (OSError, ValueError):
            continue
        return True
    return False


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, orjson.dumps({"message": message}), error_type=code)
