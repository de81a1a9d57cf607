"""Sending each entry to every destination its source is routed to, never twice to one that has it.

For every entry the result is one verdict over all its destinations: held by every one of them
(sent now, or recorded in the delivered set earlier), refused for good by one (parked, naming
that destination), or failed for now somewhere (back to the queue; the destinations that took
it are recorded, so the redelivery skips them when a delivered set is configured).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from auditbridge.delivered import DeliveredSet
from auditbridge.delivery import Delivery, DeliveryReport, Started
from auditbridge.destinations import Routes
from auditbridge.errors import AuditBridgeError, ConfigurationError, PermanentError, RetriableError, SchemaViolation
from auditbridge.models import AuditEvent
from auditbridge.retry import Deadline
from auditbridge.send_ahead import SendAhead, sent_ahead
from auditbridge.sinks import Sink, limits_of, record_size, sized_if_fits

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Destination:
    address: str
    sink: Sink
    delivery: Delivery


@dataclass(slots=True)
class Verdict:
    """What became of one entry over all its destinations."""

    held: bool = True
    error: AuditBridgeError | None = None
    retries: int = 0

    @property
    def rejected(self) -> bool:
        return not self.held and isinstance(self.error, PermanentError)


@dataclass(slots=True)
class FanOutReport:
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    requests: int = 0
    retried_entries: int = 0
    configuration_error: ConfigurationError | None = None
    #: per destination address: sent, already, failed, rejected, requests
    by_destination: dict[str, Counter[str]] = field(default_factory=dict)


class FanOut:
    def __init__(self, destinations: Sequence[Destination], routes: Routes, delivered: DeliveredSet | None) -> None:
        self.destinations = {destination.address: destination for destination in destinations}
        self.routes = routes
        self.delivered = delivered
        #: Destinations that answered with a configuration error in this batch: nothing more goes there.
        self.broken: dict[str, ConfigurationError] = {}

    def deliver(
        self,
        entries: Mapping[str, AuditEvent],
        sources: Mapping[str, str | None],
        deadline: Deadline,
        ahead: SendAhead | None = None,
    ) -> FanOutReport:
        """Deliver ``entries``; those in requests ``ahead`` started are not sent again, only answered."""
        report = FanOutReport(verdicts={entry_id: Verdict() for entry_id in entries})
        by_address: dict[str, list[AuditEvent]] = {}
        for entry_id, entry in entries.items():
            routed = self.routes.destinations_for(sources.get(entry_id))
            if not routed:
                self._fail(report, entry_id, _no_route(sources.get(entry_id)))
            for address in routed:
                by_address.setdefault(address, []).append(entry)
        for address, routed_entries in by_address.items():
            started = ahead.started(address) if ahead is not None else []
            self._deliver_to(self.destinations[address], routed_entries, deadline, report, started)
        return report

    def _deliver_to(
        self,
        destination: Destination,
        entries: list[AuditEvent],
        deadline: Deadline,
        report: FanOutReport,
        started: Sequence[Started] = (),
    ) -> None:
        address = destination.address
        stats = report.by_destination.setdefault(address, Counter())
        sendable = []
        sized = sized_if_fits(destination.sink)
        for entry in entries:
            if sized(entry) is not None:
                sendable.append(entry)
            else:
                stats["rejected"] += 1
                self._fail(report, entry.id, _too_large(destination, entry))
        if started:  # already on their way: only their answers are to be taken in
            ahead = sent_ahead(started)
            sendable = [entry for entry in sendable if entry.id not in ahead]
        if address in self.broken and not started:
            for entry in sendable:
                self._fail(report, entry.id, self.broken[address])
            return
        already: set[str] = set()
        if self.delivered is not None and sendable:
            try:
                already = self.delivered.already(address, [entry.id for entry in sendable])
            except RetriableError as exc:
                for entry in sendable:
                    self._fail(report, entry.id, exc)
                stats["failed"] += len(sendable)
                return
        stats["already"] += len(already)
        to_send = [entry for entry in sendable if entry.id not in already]
        result = destination.delivery.deliver(to_send, deadline, started) if to_send or started else DeliveryReport()
        if self.delivered is not None and result.sent:
            self.delivered.record(address, list(result.sent))
        stats["sent"] += len(result.sent)
        stats["requests"] += result.requests
        report.requests += result.requests
        report.retried_entries += sum(result.retries.values())
        if result.configuration_error is not None:
            self.broken[address] = result.configuration_error
            report.configuration_error = report.configuration_error or result.configuration_error
        for entry_id, rejection in result.rejected.items():
            stats["rejected"] += 1
            self._fail(report, entry_id, rejection.with_context(destination=address))
        for entry_id, failure in result.failed.items():
            stats["failed"] += 1
            self._fail(report, entry_id, failure.with_context(destination=address))
        for entry_id, count in result.retries.items():
            report.verdicts[entry_id].retries += count

    @staticmethod
    def _fail(report: FanOutReport, entry_id: str, error: AuditBridgeError) -> None:
        verdict = report.verdicts[entry_id]
        verdict.held = False
        # A failure for now outranks a refusal: the message must come back for the destination
        # that may still take it; the refusal is found again then, and parked.
        if verdict.error is None or (
            isinstance(verdict.error, PermanentError) and not isinstance(error, PermanentError)
        ):
            verdict.error = error


def _no_route(source: str | None) -> ConfigurationError:
    return ConfigurationError(
        f"no destination is routed for source {source!r}",
        code="NoRoute",
        source=source,
        hint="add a route for it (or a '*' route) to AUDITBRIDGE_ROUTES, or set AUDITBRIDGE_DESTINATIONS",
    )


def _too_large(destination: Destination, entry: AuditEvent) -> SchemaViolation:
    return SchemaViolation(
        f"the event is {record_size(destination.sink, entry):,} bytes for {destination.address}, which takes at "
        f"most {limits_of(destination.sink).max_record_bytes:,} per record",
        code="EventTooLarge",
        event_id=entry.id,
        destination=destination.address,
        hint="trim the mapper's output (userIdentity.details has no limit of its own)",
    )
