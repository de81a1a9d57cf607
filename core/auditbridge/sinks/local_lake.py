"""The local lake as a destination: the service's own rules, then an atomic write per request."""

from __future__ import annotations

from collections.abc import Sequence

from auditbridge.endpoint.service import (
    MAX_ENTRIES,
    Channel,
    CloudTrailDataService,
    EventStore,
    ServiceError,
    StoredEvent,
)
from auditbridge.errors import ConfigurationError, PermanentError
from auditbridge.lake.store import EventDataStore, LakeEventStore, LocalLake
from auditbridge.models import MAX_REQUEST_BYTES, AuditEvent
from auditbridge.packing import REQUEST_OVERHEAD
from auditbridge.sinks import EntryFailure, PutResult, SinkLimits

#: PutAuditEvents' rules per entry; a write takes up to 1,000 entries, since a commit costs
#: milliseconds whatever its size (at 100 entries a write, commits were most of ``ingest``'s time).
LOCAL_LAKE_LIMITS = SinkLimits(
    max_records=1_000,
    max_request_bytes=10 * MAX_REQUEST_BYTES,
    max_record_bytes=MAX_REQUEST_BYTES - REQUEST_OVERHEAD,
    request_overhead=REQUEST_OVERHEAD,
)


class _Accepted:
    """Collects what the service accepts, so a whole write goes to the lake at once."""

    def __init__(self) -> None:
        self.events: list[StoredEvent] = []

    def store(self, events: Sequence[StoredEvent]) -> None:
        self.events.extend(events)


class LocalLakeSink:
    """Writes entries into an event data store of the local lake.

    Entries pass the same per-entry checks as the CloudTrail Data service, in requests of at
    most 100 as PutAuditEvents takes them (so a mapper that works here works there); what a
    call accepts is stored in one transaction: all of it or none.
    """

    name = "local"
    limits = LOCAL_LAKE_LIMITS

    def __init__(
        self,
        lake: LocalLake,
        store: EventDataStore,
        channel_arn: str | None = None,
        *,
        writer: EventStore | None = None,
        any_recipient: bool = False,
    ) -> None:
        """``writer``: what stores an accepted write, instead of writing into ``lake`` here (``ingest``'s
        preparation processes hand their writes to the one process that holds the lake).
        ``any_recipient``: take events whatever account they name (the ``local:`` destination)."""
        self.lake = lake
        self.store = store
        self.channel_arn = channel_arn or store.channel_arn
        self.address = f"local:{lake.path}"
        self._events: EventStore = writer if writer is not None else LakeEventStore(lake, store)
        self.service = CloudTrailDataService(
            [Channel(self.channel_arn)], self._events, check_recipient=not any_recipient
        )

    def put_audit_events(self, entries: Sequence[AuditEvent]) -> PutResult:
        accepted = _Accepted()
        result = PutResult()
        try:
            for start in range(0, len(entries), MAX_ENTRIES):
                chunk = [entry.to_request_entry() for entry in entries[start : start + MAX_ENTRIES]]
                successful, failed = self.service.put_entries(self.channel_arn, None, chunk, store=accepted)
                result.successful.update((item["id"], item["eventID"]) for item in successful)
                result.failed.extend(EntryFailure(i["id"], i["errorCode"], i["errorMessage"]) for i in failed)
        except ServiceError as exc:
            if exc.code.startswith("Channel") or exc.code == "InvalidChannelARN":
                raise ConfigurationError(exc.message, code=exc.code) from None
            raise PermanentError(exc.message, code=exc.code) from None
        if accepted.events:
            self._events.store(accepted.events)
        return result
