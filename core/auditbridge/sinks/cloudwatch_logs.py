"""Amazon CloudWatch Logs: ``PutLogEvents`` into a log group, one JSON record per event.

Address: ``cloudwatch-logs:<log group>[?stream=<name>&create=true&timestamp=ingestion|event]``.

* Each log event's message is the record of :mod:`auditbridge.records` (the event as a CloudTrail
  Lake row); query by the event's own time with its ``eventTime`` field.
* The log event's timestamp is the time auditbridge sent it (``timestamp=ingestion``, the
  default): CloudWatch Logs refuses events more than 14 days old or 2 hours ahead, and a
  backfill of 80-day-old audit events must still arrive. With ``timestamp=event`` the event's
  own time is used when the service takes it, and the sending time otherwise.
* Log streams: one per event source and day (``<eventSource>/<yyyy-mm-dd>``), or the one
  ``stream=`` names; created when missing. The group is created when ``create=true``.
* Limits: 10,000 events and 1,048,576 bytes per call (UTF-8 message bytes + 26 per event),
  events in chronological order, one call spanning at most 24 hours, 256 KiB per event (the
  older, smaller of the two limits the references give).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from auditbridge import aws_clients
from auditbridge.errors import ConfigurationError, PermanentError
from auditbridge.models import AuditEvent
from auditbridge.records import EntryCache, record_bytes, record_event_id
from auditbridge.sinks import EntryFailure, PutResult, SinkLimits, aws_errors

EVENT_OVERHEAD = 26
LIMITS = SinkLimits(
    max_records=10_000,
    max_request_bytes=1_048_576,
    max_record_bytes=262_144 - EVENT_OVERHEAD,
    record_overhead=EVENT_OVERHEAD,
    chronological=True,
    max_span_seconds=24 * 3600 - 60,  # a minute's margin under the service's 24 hours
)
#: How far back and ahead the service takes events, with margins for clock skew.
OLDEST_SECONDS = 14 * 24 * 3600 - 3600
NEWEST_SECONDS = 2 * 3600 - 300
#: Records measured and kept for sending; a bound, since some are never sent.
CACHE_LIMIT = 100_000
CONFIGURATION_ERRORS = {
    "ResourceNotFoundException": "the log group does not exist (add create=true to the address to create it)",
    "InvalidSequenceTokenException": "the log stream is written by a legacy writer",
    "UnrecognizedClientException": "the AWS credentials are not valid",
}
HINT = "check the log group, the Region and the role's logs:PutLogEvents and logs:CreateLogStream permissions"


class CloudWatchLogsSink:
    name = "cloudwatch-logs"
    limits = LIMITS

    def __init__(
        self,
        log_group: str,
        settings: Mapping[str, str] | None = None,
        *,
        client: Any = None,
        region: str | None = None,
    ) -> None:
        settings = dict(settings or {})
        unknown = set(settings) - {"stream", "create", "timestamp", "region"}
        if unknown or not log_group or settings.get("timestamp", "ingestion") not in {"ingestion", "event"}:
            raise ConfigurationError(
                f"cloudwatch-logs:{log_group}: settings are stream=, create=true, timestamp=ingestion|event, region=",
                code="InvalidDestination",
            )
        self.log_group = log_group
        self.stream = settings.get("stream")
        self.create = settings.get("create", "false").lower() == "true"
        self.event_time = settings.get("timestamp") == "event"
        self.region = settings.get("region") or region
        self.address = f"cloudwatch-logs:{log_group}"
        self._client = client
        self._known_streams: set[str] = set()
        self._records: EntryCache[bytes] = EntryCache(CACHE_LIMIT)
        self._times: EntryCache[int] = EntryCache(CACHE_LIMIT)

    client = aws_clients.LazyClient("logs", read_timeout=30, retries={"total_max_attempts": 1})

    # -- what the pipeline measures ------------------------------------------------------

    def _record(self, entry: AuditEvent) -> bytes:
        return self._records.get(
            entry, lambda e: record_bytes(e, destination=self.address, region=self.region).rstrip(b"\n")
        )

    def record_size(self, entry: AuditEvent) -> int:
        return len(self._record(entry))

    def record_time(self, entry: AuditEvent) -> float:
        """The log event's timestamp, in seconds: see the module's notes."""
        return self._timestamp(entry) / 1000

    def _timestamp(self, entry: AuditEvent) -> int:
        return self._times.get(entry, self._choose_timestamp)

    def _choose_timestamp(self, entry: AuditEvent) -> int:
        now = time.time()
        chosen = now
        if self.event_time:
            event = _epoch(orjson.loads(entry.eventData).get("eventTime"))
            if event is not None and now - OLDEST_SECONDS < event < now + NEWEST_SECONDS:
                chosen = event
        return int(chosen * 1000)

    # -- sending ---------------------------------------------------------------------------

    def put_audit_events(self, entries: Sequence[AuditEvent]) -> PutResult:
        result = PutResult()
        by_stream: dict[str, list[AuditEvent]] = {}
        for entry in entries:
            by_stream.setdefault(self._stream_for(entry), []).append(entry)
        for stream, group in by_stream.items():
            ordered = sorted(group, key=self._timestamp)
            events = [{"timestamp": self._timestamp(e), "message": self._record(e).decode()} for e in ordered]
            response = self._put(stream, events)
            rejected = _rejected_indexes(response.get("rejectedLogEventsInfo") or {}, len(events))
            for index, entry in enumerate(ordered):
                if index in rejected:
                    # Outside the service's window now: sent again later with the sending time.
                    self._times.put(entry, int(time.time() * 1000))
                    result.failed.append(EntryFailure(entry.id, "TooOldForNow", rejected[index]))
                else:
                    result.successful[entry.id] = record_event_id(entry)
                    self._records.forget(entry)
                    self._times.forget(entry)
        return result

    def _stream_for(self, entry: AuditEvent) -> str:
        if self.stream:
            return self.stream
        source = str(orjson.loads(entry.eventData).get("eventSource") or "unknown")
        day = datetime.fromtimestamp(self._timestamp(entry) / 1000, UTC).strftime("%Y-%m-%d")
        # Log stream names may not hold ':' or '*'.
        return f"{source.replace(':', '_').replace('*', '_')[:400]}/{day}"

    def _put(self, stream: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        for attempt in range(2):
            try:
                if stream not in self._known_streams:
                    self._ensure_stream(stream)
                response: dict[str, Any] = self.client.put_log_events(
                    logGroupName=self.log_group, logStreamName=stream, logEvents=events
                )
                return response
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "ResourceNotFoundException" and attempt == 0:
                    self._known_streams.discard(stream)  # deleted behind our back: create it again
                    continue
                raise aws_errors.classify_client_error(
                    exc, operation="PutLogEvents", configuration=CONFIGURATION_ERRORS, hint=HINT
                ) from exc
            except BotoCoreError as exc:
                raise aws_errors.classify_botocore_error(exc, service="CloudWatch Logs") from exc
        raise PermanentError("PutLogEvents kept answering ResourceNotFound", code="ResourceNotFoundException")

    def _ensure_stream(self, stream: str) -> None:
        from botocore.exceptions import ClientError

        def create(call: Any, **kwargs: Any) -> None:
            try:
                call(**kwargs)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                    raise

        try:
            create(self.client.create_log_stream, logGroupName=self.log_group, logStreamName=stream)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException" or not self.create:
                raise
            create(self.client.create_log_group, logGroupName=self.log_group)
            create(self.client.create_log_stream, logGroupName=self.log_group, logStreamName=stream)
        self._known_streams.add(stream)

    def check(self, dry_run: bool) -> str:
        """Reachable (the group exists) and, unless ``dry_run``, writable (one check event)."""
        with aws_errors.classified(
            operation="CloudWatch Logs", service="CloudWatch Logs", configuration=CONFIGURATION_ERRORS, hint=HINT
        ):
            found = self.client.describe_log_groups(logGroupNamePrefix=self.log_group).get("logGroups", [])
            exists = any(group.get("logGroupName") == self.log_group for group in found)
            if not exists and not self.create:
                raise ConfigurationError(
                    f"the log group {self.log_group} does not exist", code="ResourceNotFoundException", hint=HINT
                )
            if dry_run:
                return f"log group {self.log_group} {'exists' if exists else 'will be created'}; nothing sent"
            stream = "auditbridge-destination-check"
            self._ensure_stream(stream)
            message = orjson.dumps({"auditbridgeCheck": datetime.now(UTC).isoformat()}).decode()
            self.client.put_log_events(
                logGroupName=self.log_group,
                logStreamName=stream,
                logEvents=[{"timestamp": int(time.time() * 1000), "message": message}],
            )
        return f"wrote one check event to {self.log_group}, stream {stream}"


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _rejected_indexes(info: Mapping[str, Any], count: int) -> dict[int, str]:
    """Indexes of the events the service did not store, with why (its end indexes are exclusive)."""
    rejected: dict[int, str] = {}
    too_new = info.get("tooNewLogEventStartIndex")
    if isinstance(too_new, int):
        rejected.update(dict.fromkeys(range(too_new, count), "more than 2 hours ahead of the service's clock"))
    for field, why in (
        ("tooOldLogEventEndIndex", "older than the service takes (14 days)"),
        ("expiredLogEventEndIndex", "older than the log group's retention"),
    ):
        end = info.get(field)
        if isinstance(end, int):
            rejected.update(dict.fromkeys(range(min(end, count)), why))
    return rejected
