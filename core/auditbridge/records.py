"""One stored event as CloudTrail Lake shows an integration event: the record other destinations keep.

CloudWatch Logs, Firehose (S3, Athena) and the local lake store this shape, so a query written for
CloudTrail Lake runs over any of them with only the table name changed: ``eventData`` with the
fields sent (its maps as ``map<string,string>``, nested values as JSON text), and what CloudTrail
Lake adds: ``eventID``, a top-level ``eventTime``, ``eventCategory``, ``eventType``,
``eventVersion``, ``awsRegion`` and ``metadata`` (``ingestionTime`` and ``channelARN``, here the
destination's address). Lean: the Lambda imports it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, Generic, TypeVar

import orjson

from auditbridge.models import AuditEvent

EVENT_DATA_STRINGS: Final = (
    "version",
    "userAgent",
    "eventSource",
    "eventName",
    "eventTime",
    "UID",
    "errorCode",
    "errorMessage",
    "sourceIPAddress",
    "recipientAccountId",
)
EVENT_DATA_MAPS: Final = ("requestParameters", "responseElements", "additionalEventData")
#: eventIDs of records are UUIDv5 in this namespace, from the entry id and checksum: the same
#: event always gets the same eventID, so a retry or a replay can be deduplicated downstream.
EVENT_ID_NAMESPACE: Final = uuid.UUID("6f1d0c1e-5b43-4e52-9d3e-61756469746b")
T = TypeVar("T")


def as_string_map(value: Any) -> dict[str, str] | None:
    """A JSON object as CloudTrail Lake shows it in SQL: nested values become JSON text."""
    if not isinstance(value, dict):
        return None
    return {str(key): item if isinstance(item, str) else orjson.dumps(item).decode() for key, item in value.items()}


def sql_time(value: Any) -> str | None:
    """``2025-06-01T08:00:00Z`` as SQL engines read a timestamp: ``2025-06-01 08:00:00``."""
    text = str(value or "").rstrip("Z").replace("T", " ")
    return text or None


def added_by_cloudtrail(data: dict[str, Any], *, event_id: str, region: str | None) -> dict[str, Any]:
    """The columns before ``eventData`` that CloudTrail Lake adds to an integration event, in order."""
    return {
        "eventVersion": "1.0",
        "eventCategory": "ActivityAuditLog",
        "eventType": "ActivityLog",
        "eventID": event_id,
        "eventTime": sql_time(data.get("eventTime")),
        "awsRegion": region,
    }


def integration_row(
    data: dict[str, Any], *, event_id: str, channel_arn: str, ingestion_time: str, region: str | None
) -> dict[str, Any]:
    """The row of one integration event (``data`` is its eventData) as CloudTrail Lake shows it."""
    identity = data.get("userIdentity")
    identity = identity if isinstance(identity, dict) else {}
    return {
        **added_by_cloudtrail(data, event_id=event_id, region=region),
        "eventData": {
            **{name: data.get(name) for name in EVENT_DATA_STRINGS},
            **{name: as_string_map(data.get(name)) for name in EVENT_DATA_MAPS},
            "userIdentity": {
                "type": identity.get("type"),
                "principalId": identity.get("principalId"),
                "details": as_string_map(identity.get("details")),
            },
        },
        "metadata": {"ingestionTime": sql_time(ingestion_time), "channelARN": channel_arn},
    }


def record_event_id(entry: AuditEvent) -> str:
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{entry.id}\n{entry.eventDataChecksum or ''}"))


def record_bytes(entry: AuditEvent, *, destination: str, region: str | None, now: datetime | None = None) -> bytes:
    """One JSON line (ending in a newline) holding ``entry`` as a CloudTrail Lake row."""
    moment = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    row = integration_row(
        orjson.loads(entry.eventData),
        event_id=record_event_id(entry),
        channel_arn=destination,
        ingestion_time=moment,
        region=region,
    )
    return orjson.dumps(row) + b"\n"


class EntryCache(Generic[T]):
    """Per-entry values a sink computes once (a record's bytes, its timestamp) and drops when sent.

    Bounded: entries measured and never sent (parked, say) would otherwise pile up in a
    long-running worker. Safe to share between the sending threads of one sink.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._values: dict[str, T] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(entry: AuditEvent) -> str:
        return f"{entry.id}\\n{entry.eventDataChecksum or ''}"

    def get(self, entry: AuditEvent, build: Callable[[AuditEvent], T]) -> T:
        key = self.key(entry)
        with self._lock:
            if key in self._values:
                return self._values[key]
        value = build(entry)
        with self._lock:
            if len(self._values) >= self.limit:
                self._values.clear()
            return self._values.setdefault(key, value)

    def put(self, entry: AuditEvent, value: T) -> None:
        with self._lock:
            self._values[self.key(entry)] = value

    def forget(self, entry: AuditEvent) -> None:
        with self._lock:
            self._values.pop(self.key(entry), None)
