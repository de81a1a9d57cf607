"""Sending packed requests to a sink: retry what is transient, never re-send what succeeded.

For every distinct entry the result is exactly one of: sent (with the destination's
eventID), rejected for good (to be parked), or failed for now (back to the queue).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from auditbridge.errors import (
    AuditBridgeError,
    ConfigurationError,
    PermanentError,
    RejectedByDestination,
    RetriableError,
    Stage,
)
from auditbridge.models import AuditEvent
from auditbridge.packing import pack
from auditbridge.retry import Deadline, RetryPolicy
from auditbridge.sinks import CONFIGURATION_ENTRY_CODES, RETRIABLE_ENTRY_CODES, Sink

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DeliveryReport:
    sent: dict[str, str] = field(default_factory=dict)  # entry id -> destination eventID
    rejected: dict[str, PermanentError] = field(default_factory=dict)
    failed: dict[str, AuditBridgeError] = field(default_factory=dict)
    requests: int = 0
    #: entry id -> how many times it was sent again
    retries: Counter[str] = field(default_factory=Counter)
    configuration_error: ConfigurationError | None = None


class Delivery:
    """Delivers one batch of entries, whose ids must be unique, through ``sink``."""

    def __init__(self, sink: Sink, retry: RetryPolicy, reserve_seconds: float = 1.0) -> None:
        self.sink = sink
        self.retry = retry
        #: Time kept back from the deadline for parking and answering SQS.
        self.reserve_seconds = reserve_seconds

    def deliver(self, entries: Sequence[AuditEvent], deadline: Deadline) -> DeliveryReport:
        report = DeliveryReport()
        pending = pack(entries, self.sink.max_entries_per_request, self.sink.max_request_bytes)
        attempt = 1
        while pending:
            to_retry: list[AuditEvent] = []
            last_error: dict[str, AuditBridgeError] = {}
            queue = list(pending)
            while queue:
                request = queue.pop(0)
                try:
                    report.requests += 1
                    result = self.sink.put_audit_events(request)
                except RetriableError as exc:
                    to_retry.extend(request)
                    last_error.update(dict.fromkeys((e.id for e in request), exc))
                    continue
                except ConfigurationError as exc:
                    self._stop(report, exc, [e for r in (request, *queue) for e in r] + to_retry)
                    return report
                except PermanentError as exc:
                    # The whole request was refused for something in it: halve it until the
                    # entry at fault stands alone, so one bad event cannot sink its neighbours.
                    if len(request) > 1:
                        middle = len(request) // 2
                        queue[:0] = [request[:middle], request[middle:]]
                    else:
                        report.rejected[request[0].id] = _as_rejection(exc, request[0].id)
                    continue
                by_id = {entry.id: entry for entry in request}
                report.sent.update(result.successful)
                for failure in result.failed:
                    entry = by_id.get(failure.id)
                    if entry is None or failure.id in result.successful:
                        continue
                    if failure.errorCode in RETRIABLE_ENTRY_CODES:
                        to_retry.append(entry)
                        last_error[entry.id] = RetriableError(
                            f"the destination answered {failure.errorCode}: {failure.errorMessage}",
                            code=failure.errorCode,
                            event_id=entry.id,
                        )
                    elif failure.errorCode in CONFIGURATION_ENTRY_CODES:
                        error = ConfigurationError(
                            f"the destination answered {failure.errorCode}: {failure.errorMessage}",
                            code=failure.errorCode,
                            hint="subscribe the account to CloudTrail Lake or choose another sink",
                        )
                        self._stop(report, error, [entry, *to_retry] + [e for r in queue for e in r])
                        return report
                    else:
                        report.rejected[entry.id] = RejectedByDestination(
                            f"the destination rejected the event: {failure.errorMessage or failure.errorCode}",
                            code=failure.errorCode,
                            event_id=entry.id,
                            hint="fix the mapper, then redrive the message from the dead-letter queue",
                        )
                answered = set(result.successful) | {f.id for f in result.failed}
                # Entries the service did not mention: their fate is unknown, so try again.
                for entry in request:
                    if entry.id not in answered:
                        to_retry.append(entry)
                        last_error[entry.id] = RetriableError(
                            "the destination's answer did not mention this entry",
                            code="NoResult",
                            event_id=entry.id,
                        )
            if not to_retry:
                break
            if not self.retry.wait_before(attempt, deadline, self.reserve_seconds):
                for entry in to_retry:
                    report.failed[entry.id] = last_error[entry.id]
                log.warning(
                    "giving up on %d entries after %d attempts; they return to the queue",
                    len(to_retry),
                    attempt,
                    extra={"attempts": attempt},
                )
                break
            attempt += 1
            report.retries.update(entry.id for entry in to_retry)
            pending = pack(to_retry, self.sink.max_entries_per_request, self.sink.max_request_bytes)
        return report

    @staticmethod
    def _stop(report: DeliveryReport, error: ConfigurationError, unsent: Sequence[AuditEvent]) -> None:
        report.configuration_error = error
        for entry in unsent:
            if entry.id not in report.sent:
                report.failed[entry.id] = error


def _as_rejection(exc: PermanentError, entry_id: str) -> PermanentError:
    exc.event_id = exc.event_id or entry_id
    exc.stage = Stage.SEND
    return exc
