"""Running a collector: pages in, the same pipeline as pushed events, a checkpoint after each page.

The loop, for one checkpoint key:

1. ask the collector for pages from the stored checkpoint (or the window's start);
2. wrap each raw event in an EventBridge envelope carrying the collector's ``source``, so the
   mapper that handles pushed events of that product maps pulled ones too, to the same entry ids;
3. deliver the page through the pipeline; only when every event of it is delivered or parked,
   save the page's checkpoint (conditionally on the previous one);
4. wait when the collector or the product asks (rate limits, an empty page while polling), and
   back off and resume from the last checkpoint on transient failures.

A crash anywhere resumes from the last saved checkpoint: the page in hand is fetched and sent
again, under the same entry ids, and nothing is skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from auditbridge.checkpoints import Checkpoint, CheckpointStore
from auditbridge.collectors import Collector, FetchRequest, Page, RateLimited
from auditbridge.errors import ConfigurationError, RetriableError
from auditbridge.messages import Disposition, InboundMessage
from auditbridge.pipeline import Pipeline
from auditbridge.retry import Deadline

log = logging.getLogger(__name__)


class Clock:
    """Real time; :meth:`sleep` wakes early when ``stop`` is set. Tests pass a fake one."""

    def __init__(self) -> None:
        self.stop = threading.Event()

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.stop.wait(seconds)


@dataclass(slots=True)
class CollectProgress:
    pages: int = 0
    events: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    waited: dict[str, float] = field(default_factory=dict)  # reason -> seconds
    retries: int = 0
    last_event_time: str | None = None
    finished: bool = False
    stopped_by: str = ""

    def describe(self) -> str:
        waits = ", ".join(f"{seconds:,.0f} s for {reason}" for reason, seconds in self.waited.items()) or "none"
        return (
            f"{self.events:,} events in {self.pages:,} pages: {self.counts['sent']:,} sent, "
            f"{self.counts['duplicate']:,} duplicates, {self.counts['parked']:,} parked; waits: {waits}; "
            f"last event {self.last_event_time or '-'}; "
            + ("window complete" if self.finished else f"stopped: {self.stopped_by or 'not finished'}")
        )


@dataclass
class CollectRun:
    collector: Collector
    pipeline: Pipeline
    checkpoints: CheckpointStore
    key: str
    since: datetime | None
    until: datetime | None
    settings: Mapping[str, str] = field(default_factory=dict)
    #: The account envelopes name (the recipient when no CloudTrail Lake destination says one).
    account: str | None = None
    clock: Clock = field(default_factory=Clock)
    max_attempts: int = 8
    on_page: Callable[[CollectProgress], None] | None = None
    #: Stop cleanly before this deadline (the Lambda's time budget), at a page boundary.
    deadline: Deadline | None = None
    #: Polling: end the run at the first empty page instead of waiting (a scheduled function).
    stop_when_caught_up: bool = False

    def run(self) -> CollectProgress:
        progress = CollectProgress()
        previous = self.checkpoints.load(self.key)
        progress.last_event_time = previous.last_event_time if previous else None
        if previous is not None:
            # A resumed window keeps its start and end: the cursor belongs to them.
            if previous.since:
                self.since = datetime.fromisoformat(previous.since)
            if previous.until:
                self.until = datetime.fromisoformat(previous.until)
        attempts = 0
        while not self._should_stop(progress):
            request = FetchRequest(
                checkpoint=previous.cursor if previous else None,
                since=self.since,
                until=self.until,
                settings=self.settings,
                now=self.clock.now,
            )
            try:
                for page in self.collector.fetch(request):
                    previous = self._deliver(page, previous, progress)
                    attempts = 0
                    if self.stop_when_caught_up and not page.events and self.until is None:
                        progress.stopped_by = "caught up"
                        return progress
                    if page.pause_until is not None:
                        self._wait(page.pause_until - self.clock.now(), page.pause_reason or "the source", progress)
                    if self._should_stop(progress):
                        return progress
                progress.finished = True
                return progress
            except RateLimited as exc:
                progress.retries += 1
                # At least a second, whatever the reset says: never hammer.
                self._wait(max(exc.retry_at - self.clock.now(), 1.0), "rate limit", progress)
            except ConfigurationError:
                raise
            except RetriableError as exc:
                attempts += 1
                progress.retries += 1
                if attempts >= self.max_attempts:
                    raise
                delay = min(60.0, 0.5 * 2**attempts)
                log.warning("%s; resuming from the last checkpoint in %.1f s", exc.describe(), delay)
                self._wait(delay, "retries", progress)
        return progress

    def _should_stop(self, progress: CollectProgress) -> bool:
        if self.clock.stop.is_set():
            progress.stopped_by = progress.stopped_by or "signal"
            return True
        if self.deadline is not None and self.deadline.remaining() <= 0:
            progress.stopped_by = progress.stopped_by or "time budget"
            return True
        return False

    def _wait(self, seconds: float, reason: str, progress: CollectProgress) -> None:
        if seconds <= 0:
            return
        if self.deadline is not None:
            seconds = min(seconds, max(0.0, self.deadline.remaining()))
        progress.waited[reason] = progress.waited.get(reason, 0.0) + seconds
        self.clock.sleep(seconds)

    def _deliver(self, page: Page, previous: Checkpoint | None, progress: CollectProgress) -> Checkpoint | None:
        if not page.events and previous is not None and page.checkpoint == previous.cursor:
            return previous  # nothing new; the first page is saved even empty, to keep the window's start
        messages = [self._message(event, progress.pages, index) for index, event in enumerate(page.events)]
        report = self.pipeline.deliver(
            [self.pipeline.prepare(message) for message in messages], self.deadline or Deadline.none()
        )
        if report.configuration_error is not None:
            raise report.configuration_error
        failed = report.count(Disposition.FAILED)
        if failed:
            first = next(o.error for o in report.outcomes if o.disposition is Disposition.FAILED)
            raise RetriableError(
                f"{failed} events of page {progress.pages + 1} were not delivered"
                + (f" ({first.code})" if first is not None else ""),
                code="PageNotDelivered",
            )
        for outcome in report.outcomes:
            progress.counts[outcome.disposition.value] += 1
        times = [str(e.get(self.collector.time_member)) for e in page.events if self.collector.time_member]
        last_time = max((t for t in times if t), default=None) or (previous.last_event_time if previous else None)
        saved = Checkpoint(
            cursor=page.checkpoint,
            last_event_time=last_time,
            events=(previous.events if previous else 0) + len(page.events),
            updated_at=datetime.fromtimestamp(self.clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            since=self.since.isoformat() if self.since else None,
            until=self.until.isoformat() if self.until else None,
        )
        self.checkpoints.save(self.key, saved, previous)
        progress.pages += 1
        progress.events += len(page.events)
        progress.last_event_time = last_time or progress.last_event_time
        if self.on_page is not None:
            self.on_page(progress)
        return saved

    def _message(self, event: dict[str, Any], page: int, index: int) -> InboundMessage:
        collector = self.collector
        event_id = event.get(collector.id_member) if collector.id_member else None
        envelope: dict[str, Any] = {
            "version": "0",
            "id": f"pull-{event_id}" if isinstance(event_id, str) else f"pull-{page}-{index}",
            "detail-type": collector.detail_type,
            "source": collector.source,
            "account": self.account,
            "time": event.get(collector.time_member) if collector.time_member else None,
            "resources": [],
            "detail": event,
        }
        body = orjson.dumps({k: v for k, v in envelope.items() if v is not None}).decode()
        return InboundMessage(f"{self.key}#{page}.{index}", body, position=f"page {page + 1}, event {index + 1}")
