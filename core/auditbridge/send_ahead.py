"""Sending full requests while the rest of the batch is still being prepared.

A batch is prepared record by record; without this, nothing is sent until the last record is
ready, and the service's answer time adds to the batch's. Here, as soon as the entries prepared
so far fill a request for a destination (as its limits count), that request goes out on the
destination's sender threads, and the pipeline goes on preparing. What is left at the end is
packed and sent as before, and every answer -- early or not -- is taken in by the same
:class:`~auditbridge.delivery.Delivery` code, so retries, parking and reporting do not change.

Sent ahead: only an event's first copy in the batch (a later copy with other bytes waits for
its round, as before), only to destinations that take records in any order (a chronological
destination packs by time over the whole batch), and not at all when a delivered set is
configured (which must be read before anything is sent). After a request answers with a
configuration error, nothing more is sent ahead: the rest takes the ordinary path, which stops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from auditbridge.delivery import Delivery, SendAnswer, Started
from auditbridge.destinations import Routes
from auditbridge.errors import ConfigurationError
from auditbridge.models import AuditEvent
from auditbridge.sinks import CONFIGURATION_ENTRY_CODES, PutResult, SinkLimits, limits_of, sized_if_fits


@dataclass(slots=True)
class _Filling:
    """The request being filled for one destination."""

    delivery: Delivery
    limits: SinkLimits
    sized: Callable[[AuditEvent], int | None]
    entries: list[AuditEvent] = field(default_factory=list)
    size: int = 0
    started: list[Started] = field(default_factory=list)
    stopped: bool = False


class SendAhead:
    """Per batch: the requests started early, per destination address."""

    def __init__(self, deliveries: dict[str, Delivery], routes: Routes) -> None:
        self.routes = routes
        self._filling = {
            address: _Filling(delivery, limits_of(delivery.sink), sized_if_fits(delivery.sink))
            for address, delivery in deliveries.items()
            if not limits_of(delivery.sink).chronological
        }

    def offer(self, entry: AuditEvent, source: str | None) -> None:
        """An entry's first copy in the batch: add it to each routed destination's request."""
        for address in self.routes.destinations_for(source):
            filling = self._filling.get(address)
            if filling is None or filling.stopped:
                continue
            measured = filling.sized(entry)
            if measured is None:  # too large for this destination: the ordinary path refuses it
                continue
            limits = filling.limits
            size = measured + limits.record_overhead
            if filling.entries and (
                len(filling.entries) >= limits.max_records
                or limits.request_overhead + filling.size + size > limits.max_request_bytes
            ):
                self._start(filling)
            if not filling.stopped:
                filling.entries.append(entry)
                filling.size += size

    def started(self, address: str) -> list[Started]:
        """The requests sent ahead to ``address``; what is still filling is left to the ordinary path."""
        filling = self._filling.get(address)
        return filling.started if filling is not None else []

    def _start(self, filling: _Filling) -> None:
        if any(_configuration_error(future) for _, future in filling.started):
            filling.stopped = True
        else:
            filling.started.append((filling.entries, filling.delivery.start(filling.entries)))
        filling.entries, filling.size = [], 0


def _configuration_error(future: Future[SendAnswer]) -> bool:
    """Whether the answer is in and says the destination is unusable (for the whole request or an entry)."""
    if not future.done():
        return False
    answer = future.result()
    if isinstance(answer, PutResult):
        return any(failure.errorCode in CONFIGURATION_ENTRY_CODES for failure in answer.failed)
    return isinstance(answer, ConfigurationError)


def sent_ahead(started: Sequence[Started]) -> set[str]:
    return {entry.id for request, _ in started for entry in request}
