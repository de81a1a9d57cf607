"""The local lake as a destination: the service's own rules, then an atomic write per request."""

from __future__ import annotations

from collections.abc import Sequence

from auditbridge.endpoint.service import Channel, CloudTrailDataService, ServiceError
from auditbridge.errors import ConfigurationError, PermanentError
from auditbridge.lake.store import EventDataStore, LakeEventStore, LocalLake
from auditbridge.models import AuditEvent
from auditbridge.sinks import PUT_AUDIT_EVENTS_LIMITS, EntryFailure, PutResult


class LocalLakeSink:
    """Writes entries into an event data store of the local lake.

    Entries pass the same per-entry checks as the CloudTrail Data service (so a mapper that
    works here works there), and each request is stored in one transaction.
    """

    name = "local"
    limits = PUT_AUDIT_EVENTS_LIMITS

    def __init__(self, lake: LocalLake, store: EventDataStore, channel_arn: str | None = None) -> None:
        self.lake = lake
        self.store = store
        self.channel_arn = channel_arn or store.channel_arn
        self.address = f"local:{lake.path}"
        self.service = CloudTrailDataService([Channel(self.channel_arn)], LakeEventStore(lake, store))

    def put_audit_events(self, entries: Sequence[AuditEvent]) -> PutResult:
        try:
            successful, failed = self.service.put_entries(
                self.channel_arn, None, [entry.to_request_entry() for entry in entries]
            )
        except ServiceError as exc:
            if exc.code.startswith("Channel") or exc.code == "InvalidChannelARN":
                raise ConfigurationError(exc.message, code=exc.code) from None
            raise PermanentError(exc.message, code=exc.code) from None
        return PutResult(
            successful={item["id"]: item["eventID"] for item in successful},
            failed=[EntryFailure(item["id"], item["errorCode"], item["errorMessage"]) for item in failed],
        )
