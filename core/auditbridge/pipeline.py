"""The path of an event: intake -> dispatch -> map -> validate -> pack -> send -> park.

:meth:`Pipeline.prepare` takes one queue message through intake, dispatch, mapping and
validation; :meth:`Pipeline.deliver` sends what was prepared in as few requests as the
limits allow, parks what can never succeed, and says what became of every message.
The Lambda handler, the worker and the CLI all run exactly this code.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from auditbridge.dead_letters import DeadLetters, Parcel
from auditbridge.delivered import DeliveredSet
from auditbridge.delivery import Delivery
from auditbridge.destinations import Routes
from auditbridge.errors import (
    AuditBridgeError,
    ConfigurationError,
    PermanentError,
    Stage,
    internal_error,
)
from auditbridge.fanout import Destination, FanOut
from auditbridge.messages import Disposition, InboundMessage, Outcome
from auditbridge.models import AuditEvent
from auditbridge.plugins import MapperRegistry
from auditbridge.preparation import EventPreparer, Prepared, Rejected
from auditbridge.retry import Deadline, RetryPolicy
from auditbridge.send_ahead import SendAhead
from auditbridge.sinks import Sink, address_of

log = logging.getLogger(__name__)


@dataclass(slots=True)
class BatchReport:
    """What happened to every message of a batch, in input order."""

    outcomes: list[Outcome] = field(default_factory=list)
    requests: int = 0
    #: per destination address: sent, already (held before), failed, rejected, requests
    by_destination: dict[str, Counter[str]] = field(default_factory=dict)
    retried_entries: int = 0
    configuration_error: ConfigurationError | None = None

    @property
    def failed_message_ids(self) -> list[str]:
        return [o.message.message_id for o in self.outcomes if o.disposition is Disposition.FAILED]

    def count(self, disposition: Disposition) -> int:
        return sum(1 for o in self.outcomes if o.disposition is disposition)

    def by_source(self) -> dict[str, Counter[str]]:
        """Per source: received, sent, duplicate, parked, failed, retried and ``parked:<code>`` counts."""
        counts: dict[str, Counter[str]] = {}
        for outcome in self.outcomes:
            counter = counts.setdefault(outcome.source or "(unknown)", Counter())
            counter["received"] += 1
            counter[outcome.disposition.value] += 1
            if outcome.retries:
                counter["retried"] += outcome.retries
            if outcome.disposition is Disposition.PARKED and outcome.error is not None:
                counter[f"parked:{outcome.error.code}"] += 1
        return counts

    def rejections(self) -> Counter[str]:
        return Counter(o.error.code for o in self.outcomes if o.error is not None)


class Pipeline:
    """One configured pipeline: the mappers, the destinations, the routes and the dead-letter queue.

    ``sinks`` is one sink or several; ``routes`` says which sources go to which of them (by
    address; default: every source to every sink); ``delivered`` remembers which destination
    holds which event, so a message that comes back is not sent again where it arrived.
    """

    def __init__(
        self,
        registry: MapperRegistry,
        sinks: Sink | Sequence[Sink],
        *,
        recipient_account_id: str | None,
        channel_arn: str | None = None,
        dead_letters: DeadLetters | None = None,
        retry: RetryPolicy | None = None,
        log_payloads: bool = False,
        reserve_seconds: float = 1.0,
        max_in_flight: int = 4,
        routes: Routes | None = None,
        delivered: DeliveredSet | None = None,
    ) -> None:
        self.preparer = EventPreparer(registry, recipient_account_id=recipient_account_id, channel_arn=channel_arn)
        listed = list(sinks) if isinstance(sinks, Sequence) else [sinks]
        if not listed:
            raise ConfigurationError("no destination is configured", code="MissingConfiguration")
        self.sink = listed[0]
        self.dead_letters = dead_letters
        self.log_payloads = log_payloads
        retry = retry or RetryPolicy()
        self.destinations = [
            Destination(address_of(sink), sink, Delivery(sink, retry, reserve_seconds, max_in_flight))
            for sink in listed
        ]
        addresses = [destination.address for destination in self.destinations]
        if len(set(addresses)) != len(addresses):
            raise ConfigurationError(
                f"a destination is listed twice: {', '.join(addresses)}", code="InvalidDestination"
            )
        self._deliveries = {destination.address: destination.delivery for destination in self.destinations}
        self.routes = routes or Routes.everything_to(addresses)
        unknown = [address for address in self.routes.addresses if address not in addresses]
        if unknown:
            raise ConfigurationError(
                f"the routes name destinations without a sink: {', '.join(unknown)}", code="InvalidRoutes"
            )
        self.delivered = delivered

    def prepare(self, message: InboundMessage) -> Prepared | Rejected:
        """Intake, dispatch, map and validate one message (see :class:`EventPreparer`)."""
        return self.preparer.prepare(message)

    # -- pack, send, park ---------------------------------------------------------------

    def deliver(self, items: Iterable[Prepared | Rejected], deadline: Deadline) -> BatchReport:
        """Send what was prepared, park what never can be, and report every message.

        ``items`` may be a generator that prepares as it goes: full requests are sent while
        the rest is still being prepared (:mod:`auditbridge.send_ahead`).
        """
        report = BatchReport()
        outcomes: dict[int, Outcome] = {}
        to_park: list[tuple[int, Parcel]] = []
        # A delivered set must be read before anything is sent: then nothing goes ahead.
        ahead = None if self.delivered is not None else SendAhead(self._deliveries, self.routes)

        # One entry per distinct (id, bytes): a duplicate delivery is sent once and every
        # copy is acknowledged with it. The same id with other bytes goes in a later round.
        rounds: list[dict[str, list[int]]] = []
        entries: list[dict[str, AuditEvent]] = []
        listed: list[Prepared | Rejected] = []
        for index, item in enumerate(items):
            listed.append(item)
            try:
                first = self._enrol(index, item, rounds, entries, outcomes, to_park)
            except Exception as exc:  # a bug must cost only its own record
                error = internal_error(exc, Stage.SEND, source=item.source)
                log.error("internal error, message %s: %s", item.message.message_id, error.describe())
                self._reject(index, item.message, error, outcomes, to_park)
                continue
            if first and ahead is not None and isinstance(item, Prepared):
                try:
                    ahead.offer(item.entry, item.source)
                except Exception as exc:  # a bug: the entry simply waits for the ordinary path
                    log.error("internal error sending ahead: %s", internal_error(exc, Stage.SEND).describe())
        items = listed

        fanout = FanOut(self.destinations, self.routes, self.delivered)
        for round_number, (round_entries, round_members) in enumerate(zip(entries, rounds, strict=True)):
            sources = {entry_id: items[indexes[0]].source for entry_id, indexes in round_members.items()}
            delivered = fanout.deliver(round_entries, sources, deadline, ahead if round_number == 0 else None)
            report.requests += delivered.requests
            report.retried_entries += delivered.retried_entries
            report.configuration_error = report.configuration_error or delivered.configuration_error
            for address, counts in delivered.by_destination.items():
                report.by_destination.setdefault(address, Counter()).update(counts)
            for entry_id, indexes in round_members.items():
                verdict = delivered.verdicts[entry_id]
                for position, index in enumerate(indexes):
                    item = items[index]
                    assert isinstance(item, Prepared)
                    if verdict.held:
                        disposition = Disposition.SENT if position == 0 else Disposition.DUPLICATE
                        outcomes[index] = Outcome(
                            item.message, disposition, item.source, entry_id, retries=verdict.retries
                        )
                    elif verdict.rejected:
                        assert verdict.error is not None
                        rejection = verdict.error.with_context(source=item.source, event_id=entry_id)
                        self._reject(index, item.message, rejection, outcomes, to_park)
                    else:
                        assert verdict.error is not None
                        failure = verdict.error.with_context(source=item.source, event_id=entry_id)
                        outcomes[index] = Outcome(
                            item.message, Disposition.FAILED, item.source, entry_id, failure, retries=verdict.retries
                        )

        self._park(to_park, outcomes)
        report.outcomes = [outcomes[index] for index in range(len(items))]
        self._log(report)
        return report

    def _enrol(
        self,
        index: int,
        item: Prepared | Rejected,
        rounds: list[dict[str, list[int]]],
        entries: list[dict[str, AuditEvent]],
        outcomes: dict[int, Outcome],
        to_park: list[tuple[int, Parcel]],
    ) -> bool:
        """Reject ``item`` or place its entry in the first round that does not hold its id yet.

        True when the entry is the first of its id in the batch (the first round's).
        """
        if isinstance(item, Rejected):
            self._reject(index, item.message, item.error, outcomes, to_park)
            return False
        entry = item.entry
        for round_index in range(len(rounds) + 1):
            if round_index == len(rounds):
                rounds.append({})
                entries.append({})
            claimed = entries[round_index].get(entry.id)
            if claimed is None:
                entries[round_index][entry.id] = entry
                rounds[round_index][entry.id] = [index]
                return round_index == 0
            if claimed.eventDataChecksum == entry.eventDataChecksum:
                rounds[round_index][entry.id].append(index)
                return False
        return False  # not reached: the last round is always new

    def run(self, messages: Iterable[InboundMessage], deadline: Deadline | None = None) -> BatchReport:
        """Prepare and deliver a batch in one call (the worker and the CLI)."""
        return self.deliver((self.prepare(message) for message in messages), deadline or Deadline.none())

    def _reject(
        self,
        index: int,
        message: InboundMessage,
        error: AuditBridgeError,
        outcomes: dict[int, Outcome],
        to_park: list[tuple[int, Parcel]],
    ) -> None:
        outcomes[index] = Outcome(message, Disposition.FAILED, error.source, error.event_id, error)
        if isinstance(error, PermanentError) and self.dead_letters is not None:
            to_park.append((index, Parcel(message, error)))

    def _park(self, to_park: list[tuple[int, Parcel]], outcomes: dict[int, Outcome]) -> None:
        if not to_park or self.dead_letters is None:
            return
        try:
            not_parked = self.dead_letters.park([parcel for _, parcel in to_park])
        except Exception as exc:  # they stay FAILED and come back; the others are unaffected
            log.error("parking failed: %s", internal_error(exc, Stage.PARK).describe())
            return
        for index, parcel in to_park:
            if parcel.message.message_id not in not_parked:
                outcomes[index].disposition = Disposition.PARKED

    def _log(self, report: BatchReport) -> None:
        # Configuration errors while preparing (a plugin's settings cannot be read, say) only
        # hold back their own source's events; they are reported once per code, loudly.
        preparation_errors: dict[str, tuple[ConfigurationError, int]] = {}
        for outcome in report.outcomes:
            error = outcome.error
            if error is None or error is report.configuration_error:
                continue
            if isinstance(error, ConfigurationError):
                first, count = preparation_errors.get(error.code, (error, 0))
                preparation_errors[error.code] = (first, count + 1)
                continue
            extra: dict[str, object] = {
                "message_id": outcome.message.message_id,
                "disposition": outcome.disposition.value,
                "error_code": error.code,
                "stage": error.stage.value,
                "source": error.source,
                "event_id": error.event_id,
                "field": error.field,
            }
            if self.log_payloads:
                extra["payload"] = outcome.message.body
            log.warning("event %s: %s", outcome.disposition.value, error.describe(), extra=extra)
        for first, count in preparation_errors.values():
            log.error(
                "CONFIGURATION ERROR, %d messages left on the queue: %s",
                count,
                first.describe(),
                extra={"error_code": first.code, "source": first.source},
            )
        if report.configuration_error is not None:
            # Once per batch, loudly: nothing will get through until an operator acts.
            log.error(
                "CONFIGURATION ERROR, %d messages left on the queue: %s",
                report.count(Disposition.FAILED),
                report.configuration_error.describe(),
                extra={"error_code": report.configuration_error.code},
            )
