"""Sending packed requests to a sink: retry what is transient, never re-send what succeeded.

For every distinct entry the result is exactly one of: sent (with the destination's
eventID), rejected for good (to be parked), or failed for now (back to the queue).

Requests go out in waves of up to ``max_in_flight`` at once: the service's latency, not our
CPU, dominates a batch, and a wave's answers are all read -- successes recorded -- before
anything is decided, so a configuration error in one request never causes a resend of
another request's events.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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
from auditbridge.retry import Deadline, RetryPolicy
from auditbridge.sinks import CONFIGURATION_ENTRY_CODES, RETRIABLE_ENTRY_CODES, PutResult, Sink, pack_for

log = logging.getLogger(__name__)

Request = list[AuditEvent]
SendAnswer = PutResult | AuditBridgeError
#: A request sent ahead (:mod:`auditbridge.send_ahead`) and its answer to come.
Started = tuple[Request, Future[SendAnswer]]


#: The interpreter's switch interval for processes whose sender threads work beside a thread busy
#: preparing (the Lambda, the worker). At CPython's default of 5 ms, a sender thread whose answer
#: has arrived waits up to that long for the GIL at each step, so requests finish late and every
#: batch ends waiting for them: measured with the benchmark's handler, 1 ms took it from 67 to 55 us
#: of wall time per event, for about 1 us more CPU.
SENDER_SWITCH_INTERVAL = 0.001


def favour_sender_threads() -> None:
    """Set :data:`SENDER_SWITCH_INTERVAL`, unless the process runs with a shorter interval already.

    A setting of the whole interpreter: called by the programs auditbridge runs (the Lambda
    handler, ``auditbridge worker``), never by the library on its own.
    """
    if sys.getswitchinterval() > SENDER_SWITCH_INTERVAL:
        sys.setswitchinterval(SENDER_SWITCH_INTERVAL)


@dataclass(slots=True)
class DeliveryReport:
    sent: dict[str, str] = field(default_factory=dict)  # entry id -> destination eventID
    rejected: dict[str, PermanentError] = field(default_factory=dict)
    failed: dict[str, AuditBridgeError] = field(default_factory=dict)
    requests: int = 0
    #: entry id -> how many times it was sent again
    retries: Counter[str] = field(default_factory=Counter)
    configuration_error: ConfigurationError | None = None


@dataclass(slots=True)
class _Round:
    """What one attempt over a set of requests leaves to do."""

    to_retry: list[AuditEvent] = field(default_factory=list)
    last_error: dict[str, AuditBridgeError] = field(default_factory=dict)

    def retry(self, entries: Sequence[AuditEvent], error: AuditBridgeError) -> None:
        self.to_retry.extend(entries)
        for entry in entries:
            self.last_error[entry.id] = error


class Delivery:
    """Delivers one batch of entries, whose ids must be unique, through ``sink``."""

    def __init__(self, sink: Sink, retry: RetryPolicy, reserve_seconds: float = 1.0, max_in_flight: int = 4) -> None:
        self.sink = sink
        self.retry = retry
        #: Time kept back from the deadline for parking and answering SQS.
        self.reserve_seconds = reserve_seconds
        self.max_in_flight = max(1, max_in_flight)
        self._executor: ThreadPoolExecutor | None = None

    def deliver(
        self, entries: Sequence[AuditEvent], deadline: Deadline, started: Sequence[Started] = ()
    ) -> DeliveryReport:
        """Deliver ``entries``, and take in the answers of the requests ``started`` ahead of them.

        The started requests count as the first wave of the first round: their failures are
        retried with the rest, and a configuration error among them stops the batch.
        """
        report = DeliveryReport()
        state = _Round()
        pending: list[Request] = []
        if started:
            report.requests += len(started)
            for request, future in started:
                pending.extend(self._record(report, state, request, future.result()))
            if report.configuration_error is not None:
                unsent = [e for r in pending for e in r] + list(entries) + state.to_retry
                self._stop(report, report.configuration_error, unsent)
                return report
        pending.extend(self._pack(entries))
        attempt = 1
        while pending or state.to_retry:
            while pending:
                wave, pending = pending[: self.max_in_flight], pending[self.max_in_flight :]
                answers = self._send_wave(wave)
                report.requests += len(wave)
                for request, answer in zip(wave, answers, strict=True):
                    pending.extend(self._record(report, state, request, answer))
                if report.configuration_error is not None:
                    unsent = [e for r in pending for e in r] + state.to_retry
                    self._stop(report, report.configuration_error, unsent)
                    return report
            if not state.to_retry:
                break
            if not self.retry.wait_before(attempt, deadline, self.reserve_seconds):
                for entry in state.to_retry:
                    report.failed[entry.id] = state.last_error[entry.id]
                log.warning(
                    "giving up on %d entries after %d attempts; they return to the queue",
                    len(state.to_retry),
                    attempt,
                    extra={"attempts": attempt},
                )
                break
            attempt += 1
            report.retries.update(entry.id for entry in state.to_retry)
            pending = self._pack(state.to_retry)
            state = _Round()
        return report

    def _pack(self, entries: Sequence[AuditEvent]) -> list[Request]:
        return pack_for(self.sink, entries)

    def start(self, request: Request) -> Future[SendAnswer]:
        """Send ``request`` on a sender thread; the answer never raises (see :meth:`_send`)."""
        return self._threads().submit(self._send, request)

    def _threads(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="auditbridge-send")
        return self._executor

    def _send_wave(self, wave: list[Request]) -> list[SendAnswer]:
        if len(wave) == 1:
            return [self._send(wave[0])]
        return list(self._threads().map(self._send, wave))

    def _send(self, request: Request) -> SendAnswer:
        try:
            return self.sink.put_audit_events(request)
        except AuditBridgeError as exc:
            return exc
        except Exception as exc:
            # A sink bug must not lose the record of what other requests already delivered:
            # treat it as transient, so the messages come back (and reach the DLQ if it persists).
            log.exception("sink %s failed unexpectedly", self.sink.name)
            return RetriableError(f"the {self.sink.name} sink failed: {type(exc).__name__}: {exc}", code="SinkFailed")

    def _record(self, report: DeliveryReport, state: _Round, request: Request, answer: SendAnswer) -> list[Request]:
        """Take in one request's answer; return requests to send in the same round."""
        if isinstance(answer, RetriableError):
            state.retry(request, answer)
            return []
        if isinstance(answer, ConfigurationError):
            report.configuration_error = report.configuration_error or answer
            state.to_retry.extend(request)
            return []
        if isinstance(answer, PermanentError):
            # The whole request was refused for something in it: halve it until the entry
            # at fault stands alone, so one bad event cannot sink its neighbours.
            if len(request) > 1:
                middle = len(request) // 2
                return [request[:middle], request[middle:]]
            report.rejected[request[0].id] = _as_rejection(answer, request[0].id)
            return []
        if isinstance(answer, AuditBridgeError):  # any other classified failure: try again later
            state.retry(request, answer)
            return []
        by_id = {entry.id: entry for entry in request} if answer.failed else {}
        report.sent.update(answer.successful)
        for failure in answer.failed:
            entry = by_id.get(failure.id)
            if entry is None or failure.id in answer.successful:
                continue
            message = f"the destination answered {failure.errorCode}: {failure.errorMessage}"
            if failure.errorCode in RETRIABLE_ENTRY_CODES:
                state.retry([entry], RetriableError(message, code=failure.errorCode, event_id=entry.id))
            elif failure.errorCode in CONFIGURATION_ENTRY_CODES:
                report.configuration_error = report.configuration_error or ConfigurationError(
                    message,
                    code=failure.errorCode,
                    hint="subscribe the account to CloudTrail Lake or choose another sink",
                )
                state.to_retry.append(entry)
            else:
                report.rejected[entry.id] = RejectedByDestination(
                    f"the destination rejected the event: {failure.errorMessage or failure.errorCode}",
                    code=failure.errorCode,
                    event_id=entry.id,
                    hint="fix the mapper, then redrive the message from the dead-letter queue",
                )
        answered = set(answer.successful) | {f.id for f in answer.failed}
        # Entries the service did not mention: their fate is unknown, so try again.
        unanswered = [entry for entry in request if entry.id not in answered]
        if unanswered:
            state.retry(
                unanswered, RetriableError("the destination's answer did not mention this entry", code="NoResult")
            )
        return []

    @staticmethod
    def _stop(report: DeliveryReport, error: ConfigurationError, unsent: Sequence[AuditEvent]) -> None:
        for entry in unsent:
            if entry.id not in report.sent:
                report.failed[entry.id] = error


def _as_rejection(exc: PermanentError, entry_id: str) -> PermanentError:
    exc.event_id = exc.event_id or entry_id
    exc.stage = Stage.SEND
    return exc
