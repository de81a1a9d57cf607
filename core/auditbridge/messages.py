"""What enters the pipeline (an SQS message) and what becomes of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from auditbridge.errors import AuditBridgeError


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One queue message, whatever delivered it (Lambda, the worker, the CLI)."""

    message_id: str
    body: str
    receipt_handle: str | None = None
    #: Where it came from, for CLI errors: ``file.json:3`` or ``#3``.
    position: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_lambda_record(cls, record: Mapping[str, Any]) -> InboundMessage:
        return cls(
            message_id=str(record["messageId"]),
            body=record.get("body") or "",
            receipt_handle=record.get("receiptHandle"),
            attributes=record.get("attributes") or {},
        )

    @classmethod
    def from_sqs_message(cls, message: Mapping[str, Any]) -> InboundMessage:
        """A message as SQS ReceiveMessage returns it (PascalCase keys)."""
        return cls(
            message_id=str(message["MessageId"]),
            body=message.get("Body") or "",
            receipt_handle=message.get("ReceiptHandle"),
            attributes=message.get("Attributes") or {},
        )


class Disposition(StrEnum):
    """What the pipeline did with a message."""

    #: Delivered; acknowledge.
    SENT = "sent"
    #: The same event (same id and bytes) was delivered for another message in the batch.
    DUPLICATE = "duplicate"
    #: Can never succeed; parked in the dead-letter queue with its reason; acknowledge.
    PARKED = "parked"
    #: Not delivered now; leave it on the queue for redelivery.
    FAILED = "failed"

    @property
    def acknowledged(self) -> bool:
        return self is not Disposition.FAILED


@dataclass(slots=True)
class Outcome:
    message: InboundMessage
    disposition: Disposition
    source: str | None = None
    event_id: str | None = None
    error: AuditBridgeError | None = None
    #: How many times its entry was sent again after a transient failure.
    retries: int = 0
