"""Packing entries into as few requests as a destination's limits allow."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from auditbridge.models import AuditEvent

#: ``{"auditEvents":[]}`` and separators: PutAuditEvents' own framing.
REQUEST_OVERHEAD = 32


def _wire_size(entry: AuditEvent) -> int:
    return entry.wire_size


def pack(
    entries: Iterable[AuditEvent],
    max_entries: int,
    max_bytes: int,
    *,
    size_of: Callable[[AuditEvent], int] = _wire_size,
    request_overhead: int = REQUEST_OVERHEAD,
    record_overhead: int = 0,
    time_of: Callable[[AuditEvent], float] | None = None,
    max_span_seconds: float | None = None,
) -> list[list[AuditEvent]]:
    """Greedy next-fit packing.

    Entries keep their arrival order, unless ``time_of`` is given: then each request holds
    entries in chronological order (a stable sort, ties in arrival order) spanning at most
    ``max_span_seconds``, as CloudWatch Logs demands. A request holds at most ``max_entries``
    and ``max_bytes``, counting ``request_overhead`` once and ``record_overhead`` per entry.
    Entry ids must be unique (the pipeline guarantees it), and every entry must fit in a
    request on its own (:func:`fits_in_one_request`).
    """
    ordered = list(entries)
    if time_of is not None:
        ordered.sort(key=time_of)
    requests: list[list[AuditEvent]] = []
    current: list[AuditEvent] = []
    size = request_overhead
    first_time = 0.0
    for entry in ordered:
        entry_size = size_of(entry) + record_overhead
        too_long = (
            time_of is not None
            and max_span_seconds is not None
            and current
            and time_of(entry) - first_time > max_span_seconds
        )
        if current and (len(current) >= max_entries or size + entry_size > max_bytes or too_long):
            requests.append(current)
            current, size = [], request_overhead
        if not current and time_of is not None:
            first_time = time_of(entry)
        current.append(entry)
        size += entry_size
    if current:
        requests.append(current)
    return requests


def fits_in_one_request(entry: AuditEvent, max_bytes: int) -> bool:
    """Whether a PutAuditEvents request can carry ``entry`` at all."""
    return entry.wire_size + REQUEST_OVERHEAD <= max_bytes
