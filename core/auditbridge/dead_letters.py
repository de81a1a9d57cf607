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
            "destination": self.error.destination,
            "hint": self.error.hint,
            "originalMessageId": self.message.message_id,
            "parkedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        return {ATTRIBUTE_PREFIX + key: _NOT_XML_CHARS.sub("?", value)[:1024] for key, value in values.items() if value}

    def essential_attributes(self) -> dict[str, str]:
        """What a parcel too large for its full reason still carries (a few hundred bytes)."""
        keep = {"errorCode", "stage", "source", "eventId", "destination", "originalMessageId", "parkedAt"}
        essential = {
            name: value[:256]
            for name, value in self.attributes().items()
            if name.removeprefix(ATTRIBUTE_PREFIX) in keep
        }
        essential[ATTRIBUTE_PREFIX + "attributesTrimmed"] = "true"
        return essential


class DeadLetters(Protocol):
    """Where parked messages go."""

    def park(self, parcels: Sequence[Parcel]) -> set[str]:
        """Park ``parcels``; return the message ids that could not be parked."""
        ...


class SqsDeadLetterQueue:
    """An SQS dead-letter queue; parked messages keep their original body.

    Parcels go out in ``SendMessageBatch`` calls of at most 10 entries and 1 MiB in all
    (bodies and attributes, as SQS counts them). A parcel too large for a batch with its
    full reason goes alone with the essential attributes only (and
    ``auditbridge.attributesTrimmed``); a batch SQS still refuses whole is sent again one
    message at a time, so one parcel can never keep the others from being parked.
    """

    #: SendMessageBatch takes at most 10 entries...
    batch_size = 10
    #: ...and at most 1 MiB in all; so does one message.
    max_batch_bytes = 1_048_576

    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            self._client = aws_clients.sqs_client(self.queue_url)
        return self._client

    def park(self, parcels: Sequence[Parcel]) -> set[str]:
        not_parked: set[str] = set()
        batch: list[tuple[Parcel, dict[str, Any]]] = []
        batch_bytes = 0
        for parcel in parcels:
            entry = _entry(parcel, parcel.attributes())
            size = _entry_size(entry)
            if size > self.max_batch_bytes:
                entry = _entry(parcel, parcel.essential_attributes())
                size = _entry_size(entry)
            if batch and (len(batch) == self.batch_size or batch_bytes + size > self.max_batch_bytes):
                not_parked |= self._send(batch)
                batch, batch_bytes = [], 0
            batch.append((parcel, entry))
            batch_bytes += size
        if batch:
            not_parked |= self._send(batch)
        return not_parked

    def _send(self, batch: list[tuple[Parcel, dict[str, Any]]]) -> set[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        entries: list[Any] = [{**entry, "Id": str(index)} for index, (_, entry) in enumerate(batch)]
        try:
            response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            if len(batch) > 1:
                # A queue with a smaller MaximumMessageSize, say: each parcel on its own.
                log.warning("parking %d messages one at a time: the batch was refused: %s", len(batch), exc)
                not_parked: set[str] = set()
                for item in batch:
                    not_parked |= self._send([item])
                return not_parked
            log.error(
                "could not park message %s in the dead-letter queue: %s; it stays on the queue",
                batch[0][0].message.message_id,
                exc,
            )
            return {batch[0][0].message.message_id}
        failed: set[str] = set()
        for failure in response.get("Failed", []):
            parcel = batch[int(failure["Id"])][0]
            log.error(
                "could not park message %s: %s %s",
                parcel.message.message_id,
                failure.get("Code"),
                failure.get("Message"),
            )
            failed.add(parcel.message.message_id)
        return failed


def _entry(parcel: Parcel, attributes: dict[str, str]) -> dict[str, Any]:
    return {
        "MessageBody": parcel.message.body or "(empty body)",
        "MessageAttributes": {name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()},
    }


def _entry_size(entry: dict[str, Any]) -> int:
    """Bytes SQS counts for a message: the body and each attribute's name, type and value."""
    size = len(entry["MessageBody"].encode("utf-8", "replace"))
    for name, attribute in entry["MessageAttributes"].items():
        size += len(name) + len(attribute["DataType"]) + len(attribute["StringValue"].encode("utf-8", "replace"))
    return size


class JsonLinesDeadLetters:
    """A dead-letter file for the CLI: one JSON line per rejected event, reason and original body."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0

    def park(self, parcels: Sequence[Parcel]) -> set[str]:
        self.append([dead_letter_line(parcel) for parcel in parcels])
        return set()

    def append(self, lines: Sequence[bytes]) -> None:
        """Lines made by :func:`dead_letter_line` (in this process or another)."""
        if not lines:
            return
        with self.path.open("ab") as out:
            out.write(b"".join(line + b"\n" for line in lines))
        self.count += len(lines)


def dead_letter_line(parcel: Parcel) -> bytes:
    """A rejected event as one JSON line of the CLI's dead-letter file: the reason, then the original body."""
    error = parcel.error
    line = {
        "position": parcel.message.position or parcel.message.message_id,
        "errorCode": error.code,
        "errorMessage": error.message,
        "stage": error.stage.value,
        "source": error.source,
        "eventId": error.event_id,
        "field": error.field,
        "destination": error.destination,
        "hint": error.hint,
        "body": parcel.message.body,
    }
    return orjson.dumps({k: v for k, v in line.items() if v is not None})
