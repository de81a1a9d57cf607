"""A long-running SQS consumer running exactly the Lambda's batch processing, for containers.

It long-polls the ingest queue, gathers up to ``batch_size`` messages, runs the pipeline, deletes
what was sent or parked and leaves failures for redelivery after the visibility timeout. Several
workers can share a queue. SIGTERM (or SIGINT) finishes the batch in hand, then stops.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from auditbridge.errors import ConfigurationError
from auditbridge.messages import Disposition, InboundMessage
from auditbridge.pipeline import BatchReport, Pipeline
from auditbridge.retry import Deadline

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)

#: SQS returns at most 10 messages per ReceiveMessage call.
RECEIVE_MAX = 10


@dataclass
class WorkerSummary:
    batches: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    stopped_by: str = ""

    def add(self, report: BatchReport) -> None:
        self.batches += 1
        self.requests += report.requests
        for outcome in report.outcomes:
            self.counts["received"] += 1
            self.counts[outcome.disposition.value] += 1

    def describe(self) -> str:
        c = self.counts
        return (
            f"{c['received']:,} messages in {self.batches:,} batches: {c['sent']:,} sent, "
            f"{c['duplicate']:,} duplicates, {c['parked']:,} parked, {c['failed']:,} left for redelivery; "
            f"{self.requests:,} PutAuditEvents requests; stopped: {self.stopped_by}"
        )


class Worker:
    """Consumes ``queue_url`` with ``pipeline`` until told to stop."""

    def __init__(
        self,
        pipeline: Pipeline,
        queue_url: str,
        client: SQSClient,
        *,
        batch_size: int = 100,
        wait_seconds: int = 20,
        gather_seconds: float = 1.0,
    ) -> None:
        self.pipeline = pipeline
        self.queue_url = queue_url
        self.client = client
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self.gather_seconds = gather_seconds
        self.stopping = threading.Event()
        self._visibility = self._visibility_timeout()

    def _visibility_timeout(self) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            attributes = self.client.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"])
        except (BotoCoreError, ClientError) as exc:
            raise ConfigurationError(
                f"cannot read the queue {self.queue_url}: {exc}",
                code="QueueUnavailable",
                hint="check --queue-url, the Region, credentials and AWS_ENDPOINT_URL_SQS",
            ) from None
        return int(attributes.get("Attributes", {}).get("VisibilityTimeout", "30"))

    def install_signal_handlers(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            log.info("received %s: finishing the batch in hand", signal.Signals(signum).name)
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def run(self, *, max_messages: int | None = None, until_empty: bool = False) -> WorkerSummary:
        summary = WorkerSummary()
        empty_polls = 0
        while not self.stopping.is_set():
            if max_messages is not None and summary.counts["received"] >= max_messages:
                summary.stopped_by = f"--max-messages {max_messages}"
                break
            limit = self.batch_size
            if max_messages is not None:
                limit = min(limit, max_messages - summary.counts["received"])
            messages = self._gather(limit, short_poll=until_empty)
            if not messages:
                empty_polls += 1
                # One empty answer can be a sampling artefact of SQS; two in a row mean empty.
                if until_empty and empty_polls >= 2:
                    summary.stopped_by = "queue empty"
                    break
                continue
            empty_polls = 0
            report = self.process(messages)
            summary.add(report)
            if report.configuration_error is not None:
                summary.stopped_by = f"configuration error {report.configuration_error.code}"
                raise report.configuration_error
        if not summary.stopped_by:
            summary.stopped_by = "signal"
        log.info("worker stopped: %s", summary.describe())
        return summary

    def process(self, messages: list[dict[str, Any]]) -> BatchReport:
        """One batch, as the Lambda would: run the pipeline, delete what succeeded or was parked."""
        # Keep a margin so a slow batch ends before its messages become visible to other workers.
        deadline = Deadline.after(max(1.0, self._visibility * 0.8 - self.gather_seconds))
        inbound = [InboundMessage.from_sqs_message(m) for m in messages]
        report = self.pipeline.run(inbound, deadline)
        done = [o.message for o in report.outcomes if o.disposition is not Disposition.FAILED]
        self._delete(done)
        return report

    def _gather(self, limit: int, *, short_poll: bool) -> list[dict[str, Any]]:
        gathered: list[dict[str, Any]] = []
        started = time.monotonic()
        wait = 1 if short_poll else self.wait_seconds
        while len(gathered) < limit and not self.stopping.is_set():
            response = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(RECEIVE_MAX, limit - len(gathered)),
                WaitTimeSeconds=0 if gathered else wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            batch: list[Any] = list(response.get("Messages", []))
            gathered.extend(batch)
            if not batch or time.monotonic() - started > self.gather_seconds:
                break
        return gathered

    def _delete(self, messages: list[InboundMessage]) -> None:
        for start in range(0, len(messages), RECEIVE_MAX):
            chunk = messages[start : start + RECEIVE_MAX]
            response = self.client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m.receipt_handle or ""} for i, m in enumerate(chunk)],
            )
            for failure in response.get("Failed", []):
                # It will come back and be sent again under the same id: a duplicate, never a loss.
                log.warning(
                    "could not delete message %s: %s", chunk[int(failure["Id"])].message_id, failure.get("Message")
                )


def run_worker(build: Callable[[], Worker], **options: Any) -> WorkerSummary:
    worker = build()
    worker.install_signal_handlers()
    # From here a SIGTERM finishes the batch in hand; before, it ends the process at once.
    log.info("worker ready: consuming %s", worker.queue_url)
    return worker.run(**options)
