"""Inspecting and redriving the dead-letter queue.

Parked messages carry ``auditbridge.*`` message attributes (see ``dead_letters.py``); messages the
queue's own redrive policy moved there have none and are reported as ``(moved by SQS)``.
"""

from __future__ import annotations

import fnmatch
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditbridge.dead_letters import ATTRIBUTE_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MOVED_BY_SQS = "(moved by SQS)"
#: Received messages stay hidden this long while we scan, then are made visible again.
SCAN_VISIBILITY = 60
#: SendMessageBatch's limit on the bodies of one call.
MAX_BATCH_BYTES = 1_048_576


@dataclass(frozen=True, slots=True)
class Parked:
    message_id: str
    receipt_handle: str
    body: str
    reason: str
    source: str
    attributes: dict[str, str]

    @classmethod
    def from_sqs(cls, message: Mapping[str, Any]) -> Parked:
        attributes = {
            name.removeprefix(ATTRIBUTE_PREFIX): value.get("StringValue", "")
            for name, value in (message.get("MessageAttributes") or {}).items()
            if name.startswith(ATTRIBUTE_PREFIX)
        }
        return cls(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message.get("Body", ""),
            reason=attributes.get("errorCode", MOVED_BY_SQS),
            source=attributes.get("source", "-"),
            attributes=attributes,
        )

    def matches(self, reason: str | None, source_pattern: str | None) -> bool:
        if reason is not None and self.reason != reason:
            return False
        return source_pattern is None or fnmatch.fnmatchcase(self.source, source_pattern)


@dataclass
class Inspection:
    total: int = 0
    by_reason_and_source: Counter[tuple[str, str]] = field(default_factory=Counter)
    samples: list[Parked] = field(default_factory=list)


@dataclass
class Redrive:
    moved: int = 0
    kept: int = 0
    failed: int = 0


def _scan(client: SQSClient, queue_url: str, limit: int | None, visibility: int = SCAN_VISIBILITY) -> list[Parked]:
    """Receive up to ``limit`` messages (hidden while we work); the caller releases or deletes them.

    The scan ends when the queue has nothing more to give, when ``limit`` messages are held
    (exactly: never more), when a message comes round a second time, or after half the
    visibility timeout, before the first messages could reappear: it always ends.
    """
    seen: dict[str, Parked] = {}
    empty = 0
    stop_at = time.monotonic() + SCAN_VISIBILITY / 2
    while (limit is None or len(seen) < limit) and time.monotonic() < stop_at:
        wanted = 10 if limit is None else min(10, limit - len(seen))
        response = client.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=wanted,
            WaitTimeSeconds=1,
            VisibilityTimeout=visibility,
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            empty += 1
            if empty >= 2:
                break
            continue
        empty = 0
        again = False
        for message in messages:
            # The newest receipt handle is the one that can still delete or release it.
            again = again or message["MessageId"] in seen
            seen[message["MessageId"]] = Parked.from_sqs(message)
        if again:
            break
    return list(seen.values())


def _release(client: SQSClient, queue_url: str, parked: list[Parked]) -> None:
    for start in range(0, len(parked), 10):
        chunk = parked[start : start + 10]
        client.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": p.receipt_handle, "VisibilityTimeout": 0} for i, p in enumerate(chunk)
            ],
        )


def _batches(parked: list[Parked]) -> list[list[Parked]]:
    """At most 10 messages and 1 MiB of bodies per SendMessageBatch call."""
    batches: list[list[Parked]] = []
    size = 0
    for item in parked:
        body = len(item.body.encode("utf-8", "replace"))
        if not batches or len(batches[-1]) == 10 or size + body > MAX_BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += body
    return batches


def inspect(client: SQSClient, queue_url: str, *, show: int = 5) -> Inspection:
    """Count parked messages by reason and source, keep a few; delete nothing."""
    parked = _scan(client, queue_url, None)
    try:
        result = Inspection(total=len(parked))
        for item in parked:
            result.by_reason_and_source[(item.reason, item.source)] += 1
        result.samples = parked[:show]
        return result
    finally:
        _release(client, queue_url, parked)


def redrive(
    client: SQSClient,
    queue_url: str,
    target_url: str,
    *,
    reason: str | None = None,
    source_pattern: str | None = None,
    limit: int | None = None,
) -> Redrive:
    """Move matching messages to ``target_url``: send first, then delete (a crash duplicates, never loses).

    ``limit`` moves at most that many of the matching messages; with no filter, the scan itself
    stops there, so no more messages than needed are held.
    """
    filtered = reason is not None or source_pattern is not None
    parked = _scan(client, queue_url, None if filtered else limit)
    matching = [p for p in parked if p.matches(reason, source_pattern)]
    chosen = matching if limit is None else matching[:limit]
    keep = [p for p in parked if not p.matches(reason, source_pattern)] + matching[len(chosen) :]
    result = Redrive(kept=len(keep))
    try:
        for chunk in _batches(chosen):
            sent = client.send_message_batch(
                QueueUrl=target_url,
                Entries=[{"Id": str(i), "MessageBody": p.body} for i, p in enumerate(chunk)],
            )
            failed_ids = {f["Id"] for f in sent.get("Failed", [])}
            delivered = [p for i, p in enumerate(chunk) if str(i) not in failed_ids]
            result.failed += len(failed_ids)
            keep.extend(p for i, p in enumerate(chunk) if str(i) in failed_ids)
            if delivered:
                client.delete_message_batch(
                    QueueUrl=queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": p.receipt_handle} for i, p in enumerate(delivered)],
                )
                result.moved += len(delivered)
    finally:
        _release(client, queue_url, keep)
    return result
