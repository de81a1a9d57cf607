"""Pull sources: what a collector plugin provides, and the errors it raises.

A collector fetches a product's events page by page (the Okta System Log API, say). It only
speaks to the product: given a :class:`FetchRequest` (where to resume, which time window) it
yields :class:`Page` objects, each with its raw events and the checkpoint after it. The framework
(:mod:`auditbridge.collect`) owns the rest: it wraps each event in an EventBridge envelope with
the collector's ``source`` (so the mapper that already handles the product maps it), sends each
page through the same pipeline as pushed events, advances the checkpoint only once the page is
delivered or parked, waits when asked to, and retries.

A collector signals the framework with exceptions:

* :class:`RateLimited` -- wait until ``retry_at`` (epoch seconds), then resume from the last checkpoint;
* :class:`~auditbridge.errors.RetriableError` -- a transient failure (5xx, network): back off, resume;
* :class:`~auditbridge.errors.ConfigurationError` -- credentials, permissions, a bad URL: stop;
* :class:`~auditbridge.errors.PermanentError` -- a malformed page: stop without advancing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from auditbridge.errors import RetriableError, Stage


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """Where to resume and what to fetch."""

    #: The checkpoint of the last page delivered, or None to start at ``since``.
    checkpoint: str | None
    since: datetime | None
    #: None: poll, following the product's cursor forever.
    until: datetime | None
    #: The collector's own settings (``--setting key=value`` on the command line).
    settings: Mapping[str, str] = field(default_factory=dict)
    #: The clock the framework uses (epoch seconds): collectors compare rate-limit resets to it.
    now: Callable[[], float] = lambda: 0.0


@dataclass(frozen=True, slots=True)
class Page:
    """One page of raw events, and where the next request resumes."""

    events: list[dict[str, Any]]
    checkpoint: str | None
    #: Ask the framework to wait until then (epoch seconds) before the next page: an empty
    #: page while polling, or a rate-limit budget nearly spent.
    pause_until: float | None = None
    #: The product's own name for what is waited on, for progress lines ("rate limit", "poll").
    pause_reason: str = ""


Fetch = Callable[[FetchRequest], Iterator[Page]]


@dataclass(frozen=True, slots=True)
class Collector:
    """A pull source: its name, the EventBridge ``source`` its events carry, and how to fetch."""

    name: str
    source: str
    fetch: Fetch
    #: The ``detail-type`` of the envelopes, as the product's push integration names it.
    detail_type: str = "Event"
    #: The member of a raw event holding its time (ISO 8601), for envelopes and progress.
    time_member: str | None = None
    #: The member holding the event's own id, for envelopes.
    id_member: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("-", "_").isidentifier():
            raise ValueError(f"collector name {self.name!r} must be a short identifier such as 'okta'")
        if not self.source or (self.source.startswith("aws.") and not self.source.startswith("aws.partner/")):
            raise ValueError(f"collector {self.name!r}: source {self.source!r} must name the product")


class RateLimited(RetriableError):
    """The product said: not before ``retry_at`` (epoch seconds)."""

    default_code = "RateLimited"
    default_stage = Stage.INTAKE

    def __init__(self, message: str, *, retry_at: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_at = retry_at
