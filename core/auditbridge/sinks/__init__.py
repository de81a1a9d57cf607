"""Destinations. A sink sends one request's worth of entries; the pipeline does the rest.

Packing, retries, duplicate handling, parking and metrics live in the pipeline, so every sink
gets them for free and behaves the same. A sink only has to:

* declare its :class:`SinkLimits` (records and bytes per request, bytes per record, overhead,
  ordering) and how many bytes an entry costs it (``record_size``);
* send a list of entries within those limits and report per-entry results (:class:`PutResult`);
* raise :class:`~auditbridge.errors.RetriableError`, :class:`~auditbridge.errors.ConfigurationError`
  or :class:`~auditbridge.errors.PermanentError` for a failure of the whole request.

A sink that declares only ``max_entries_per_request`` and ``max_request_bytes`` is measured as
PutAuditEvents measures its entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from auditbridge.models import MAX_ENTRIES_PER_REQUEST, MAX_REQUEST_BYTES, AuditEvent
from auditbridge.packing import REQUEST_OVERHEAD, pack

#: Per-entry error codes worth retrying; every other code will never succeed as sent.
RETRIABLE_ENTRY_CODES = frozenset(
    {"Throttling", "ThrottlingException", "InternalFailure", "ServiceUnavailableException", "TooOldForNow"}
)
#: Per-entry codes that mean the account or channel is unusable, not the event.
CONFIGURATION_ENTRY_CODES = frozenset({"AccountNotSubscribed"})


@dataclass(frozen=True, slots=True)
class EntryFailure:
    id: str
    errorCode: str
    errorMessage: str = ""


@dataclass(slots=True)
class PutResult:
    """Per-entry outcome of one request, keyed by entry id."""

    successful: dict[str, str] = field(default_factory=dict)  # id -> the destination's event id
    failed: list[EntryFailure] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SinkLimits:
    """What one request to a destination may hold."""

    max_records: int
    max_request_bytes: int
    #: The largest one record may be, as :meth:`Sink.record_size` counts it.
    max_record_bytes: int
    #: Bytes the destination counts per record on top of its size (CloudWatch Logs: 26).
    record_overhead: int = 0
    #: Bytes of the request's own framing.
    request_overhead: int = 0
    #: Records must be in time order within a request (by ``Sink.record_time``) ...
    chronological: bool = False
    #: ... and one request may span at most this many seconds.
    max_span_seconds: float | None = None

    def describe(self) -> str:
        text = (
            f"{self.max_records:,} records and {self.max_request_bytes:,} bytes per request, "
            f"{self.max_record_bytes:,} bytes per record"
        )
        if self.record_overhead:
            text += f" (+{self.record_overhead} per record)"
        if self.chronological:
            text += ", in time order"
        if self.max_span_seconds:
            text += f", spanning at most {self.max_span_seconds / 3600:.0f} h"
        return text


#: PutAuditEvents: 100 entries and 1 MB per request.
PUT_AUDIT_EVENTS_LIMITS = SinkLimits(
    max_records=MAX_ENTRIES_PER_REQUEST,
    max_request_bytes=MAX_REQUEST_BYTES,
    max_record_bytes=MAX_REQUEST_BYTES - REQUEST_OVERHEAD,
    request_overhead=REQUEST_OVERHEAD,
)


class Sink(Protocol):
    """A destination for audit events.

    ``name`` is the destination kind (``cloudwatch-logs``); ``address`` the destination
    (``cloudwatch-logs:/audit/okta``), used in logs, metrics and parked messages' reasons.
    Optional members, used when present: ``limits: SinkLimits``, ``record_size(entry) -> int``,
    ``record_time(entry) -> float`` (epoch seconds, for chronological sinks) and
    ``check(dry_run: bool) -> str``.
    """

    name: str

    def put_audit_events(self, entries: Sequence[AuditEvent]) -> PutResult: ...


def limits_of(sink: Any) -> SinkLimits:
    """The sink's declared limits; PutAuditEvents' for a sink that declares only the two old numbers."""
    limits = getattr(sink, "limits", None)
    if isinstance(limits, SinkLimits):
        return limits
    max_records = getattr(sink, "max_entries_per_request", MAX_ENTRIES_PER_REQUEST)
    max_bytes = getattr(sink, "max_request_bytes", MAX_REQUEST_BYTES)
    return SinkLimits(max_records, max_bytes, max_bytes - REQUEST_OVERHEAD, request_overhead=REQUEST_OVERHEAD)


def address_of(sink: Any) -> str:
    return str(getattr(sink, "address", None) or getattr(sink, "name", type(sink).__name__))


def record_size(sink: Any, entry: AuditEvent) -> int:
    return size_of_records(sink)(entry)


def size_of_records(sink: Any) -> Callable[[AuditEvent], int]:
    """How ``sink`` measures an entry: its ``record_size``, else PutAuditEvents' wire size."""
    measure = getattr(sink, "record_size", None)
    if callable(measure):
        return lambda entry: int(measure(entry))
    return _wire_size


def _wire_size(entry: AuditEvent) -> int:
    return entry.wire_size


def fits(sink: Any, entry: AuditEvent) -> bool:
    """Whether one request to ``sink`` can carry ``entry`` at all."""
    return sized_if_fits(sink)(entry) is not None


def sized_if_fits(sink: Any) -> Callable[[AuditEvent], int | None]:
    """For a batch's entries: the size of one that a request to ``sink`` can carry, else None.

    The sink's limits and measure are looked up once, not per entry.
    """
    limits = limits_of(sink)
    measure = size_of_records(sink)
    largest = min(limits.max_record_bytes, limits.max_request_bytes - limits.record_overhead - limits.request_overhead)

    def sized(entry: AuditEvent) -> int | None:
        size = measure(entry)
        return size if size <= largest else None

    return sized


def pack_for(sink: Any, entries: Sequence[AuditEvent]) -> list[list[AuditEvent]]:
    """``entries`` in as few requests to ``sink`` as its limits allow."""
    limits = limits_of(sink)
    timed = getattr(sink, "record_time", None) if limits.chronological else None
    return pack(
        entries,
        limits.max_records,
        limits.max_request_bytes,
        size_of=size_of_records(sink),
        request_overhead=limits.request_overhead,
        record_overhead=limits.record_overhead,
        time_of=timed,
        max_span_seconds=limits.max_span_seconds,
    )
