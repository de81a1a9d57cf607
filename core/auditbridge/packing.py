"""Packing entries into as few PutAuditEvents requests as the limits allow."""

from __future__ import annotations

from collections.abc import Iterable

from auditbridge.models import AuditEvent

#: ``{"auditEvents":[]}`` and separators.
REQUEST_OVERHEAD = 32


def pack(entries: Iterable[AuditEvent], max_entries: int, max_bytes: int) -> list[list[AuditEvent]]:
    """Greedy next-fit packing in arrival order.

    Entry ids must be unique (the pipeline guarantees it), and every entry must fit in a
    request on its own (:func:`fits_in_one_request`).
    """
    requests: list[list[AuditEvent]] = []
    current: list[AuditEvent] = []
    size = REQUEST_OVERHEAD
    for entry in entries:
        entry_size = entry.wire_size
        if current and (len(current) >= max_entries or size + entry_size > max_bytes):
            requests.append(current)
            current, size = [], REQUEST_OVERHEAD
        current.append(entry)
        size += entry_size
    if current:
        requests.append(current)
    return requests


def fits_in_one_request(entry: AuditEvent, max_bytes: int) -> bool:
    return entry.wire_size + REQUEST_OVERHEAD <= max_bytes
