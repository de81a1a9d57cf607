"""Parking: the original message goes to a dead-letter queue with the reason attached."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from auditbridge import aws_clients
from auditbridge.errors import AuditBridgeError
from auditbridge.messages import InboundMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)

#: Message attribute names written on every parked message.
ATTRIBUTE_PREFIX = "auditbridge."
_NOT_XML_CHARS = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True)
class Parcel:
    """A message to park and why."""

    message: InboundMessage
    error: AuditBridgeError

    def attributes(self) -> dict[str, str]:
        values = {
            "errorCode": self.error.code,
            "errorMessage": self.error.message,
            "stage": self.error.stage.value,
            "source": self.error.source,
            "eventId": self.error.event_id,
            "field": self.error.field,
            "hint": self.error.hint,
            "originalMessageId": self.message.message_id,
            "parkedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        return {ATTRIBUTE_PREFIX + key: _NOT_XML_CHARS.sub("?", value)[:1024] for key, value in values.items() if value}


class DeadLetters(Protocol):
    """Where parked messages go."""

    def park(self, parcels: Sequence[Parcel]) -> set[str]:
        """Park ``parcels``; return the message ids that could not be parked."""
        ...


class SqsDeadLetterQueue:
    """An SQS dead-letter queue; parked messages keep their original body."""

    #: SendMessageBatch takes at most 10 entries.
    batch_size = 10

    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            self._client = aws_clients.sqs_client(self.queue_url)
        return self._client

    def park(self, parcels: Sequence[Parcel]) -> set[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        not_parked: set[str] = set()
        for start in range(0, len(parcels), self.batch_size):
            chunk = parcels[start : start + self.batch_size]
            entries: list[Any] = [
                {
                    "Id": str(index),
                    "MessageBody": parcel.message.body or "(empty body)",
                    "MessageAttributes": {
                        name: {"DataType": "String", "StringValue": value}
                        for name, value in parcel.attributes().items()
                    },
                }
                for index, parcel in enumerate(chunk)
            ]
            try:
                response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                log.error("could not park %d messages in the dead-letter queue: %s", len(chunk), exc)
                not_parked.update(parcel.message.message_id for parcel in chunk)
                continue
            for failure in response.get("Failed", []):
                parcel = chunk[int(failure["Id"])]
                log.error(
                    "could not park message %s: %s %s",
                    parcel.message.message_id,
                    failure.get("Code"),
                    failure.get("Message"),
                )
                not_parked.add(parcel.message.message_id)
        return not_parked


class JsonLinesDeadLetters:
    """A dead-letter file for the CLI: one JSON line per rejected event, reason and original body."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0

    def park(self, parcels: Sequence[Parcel]) -> set[str]:
        if not parcels:
            return set()
        with self.path.open("ab") as out:
            for parcel in parcels:
                error = parcel.error
                line = {
                    "position": parcel.message.position or parcel.message.message_id,
                    "errorCode": error.code,
                    "errorMessage": error.message,
                    "stage": error.stage.value,
                    "source": error.source,
                    "eventId": error.event_id,
                    "field": error.field,
                    "hint": error.hint,
                    "body": parcel.message.body,
                }
                out.write(orjson.dumps({k: v for k, v in line.items() if v is not None}) + b"\n")
                self.count += 1
        return set()
