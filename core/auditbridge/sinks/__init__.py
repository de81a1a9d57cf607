"""Destinations. A sink sends one PutAuditEvents-shaped request; the pipeline does the rest.

Packing, retries, duplicate handling and parking live in the pipeline, so every sink gets
them for free and behaves the same. A sink only has to:

* send a list of at most ``max_entries_per_request`` entries (and ``max_request_bytes``),
* report per-entry results (:class:`PutResult`), and
* raise :class:`~auditbridge.errors.RetriableError`, :class:`~auditbridge.errors.ConfigurationError`
  or :class:`~auditbridge.errors.PermanentError` for a failure of the whole request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from auditbridge.models import AuditEvent

#: Per-entry error codes worth retrying; every other code will never succeed as sent.
RETRIABLE_ENTRY_CODES = frozenset({"Throttling", "InternalFailure"})
#: Per-entry codes that mean the account or channel is unusable, not the event.
CONFIGURATION_ENTRY_CODES = frozenset({"AccountNotSubscribed"})


@dataclass(frozen=True, slots=True)
class EntryFailure:
    id: str
    errorCode: str
    errorMessage: str = ""


@dataclass(slots=True)
class PutResult:
    """Per-entry outcome of one request, keyed by entry id as the service reports it."""

    successful: dict[str, str] = field(default_factory=dict)  # id -> eventID
    failed: list[EntryFailure] = field(default_factory=list)


class Sink(Protocol):
    """A destination for audit events."""

    name: str
    max_entries_per_request: int
    max_request_bytes: int

    def put_audit_events(self, entries: Sequence[AuditEvent]) -> PutResult: ...
