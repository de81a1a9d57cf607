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
    def from_lambda_record(cls, record: Any, index: int = 0) -> InboundMessage:
        """A record of a Lambda SQS event; a malformed record still becomes a message.

        Its body is then not a string, and intake rejects it as malformed: its failure
        stays its own instead of failing the batch.
        """
        # dict first: the Lambda runtime hands dicts, and the ABC check costs ten times more.
        if type(record) is not dict and not isinstance(record, Mapping):
            return cls(message_id=f"#{index}", body="", position=f"#{index}")
        message_id = record.get("messageId")
        body = record.get("body")
        attributes = record.get("attributes")
        receipt = record.get("receiptHandle")
        return cls(
            message_id=message_id if isinstance(message_id, str) and message_id else f"#{index}",
            body=body if isinstance(body, str) else "",
            receipt_handle=receipt if isinstance(receipt, str) else None,
            attributes=attributes if type(attributes) is dict or isinstance(attributes, Mapping) else {},
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
