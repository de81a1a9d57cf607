"""The delivered set: which destination already holds which event, so a redelivered message skips it.

When a message goes to several destinations and one of them fails, the message returns to the
queue; without this record the destinations that had it would get it again. With
``AUDITBRIDGE_DELIVERED_TABLE`` each success is recorded as ``(destination, entry id)`` in a
DynamoDB table (with a TTL), and looked up before sending. Without it delivery is at least once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from auditbridge import aws_clients
from auditbridge.errors import RetriableError

log = logging.getLogger(__name__)

#: How long a record is kept: longer than any message stays in the queue (SQS keeps 14 days at most).
DEFAULT_TTL_DAYS = 15
KEY = "pk"
EXPIRES = "expiresAt"


class DeliveredSet(Protocol):
    def already(self, address: str, ids: Sequence[str]) -> set[str]:
        """The ids among ``ids`` that ``address`` holds; raises ``RetriableError`` when it cannot tell."""
        ...

    def record(self, address: str, ids: Sequence[str]) -> None:
        """Remember that ``address`` holds ``ids``; a failure is logged, never raised."""
        ...


def _key(address: str, entry_id: str) -> str:
    return f"{address}\n{entry_id}"


class DynamoDBDeliveredSet:
    """A DynamoDB table with a string partition key ``pk`` and TTL attribute ``expiresAt``.

    Writes are ``BatchWriteItem`` puts (25 a call): recording membership twice changes nothing,
    so no condition is needed, and unprocessed items are retried.
    """

    def __init__(self, table: str, *, ttl_days: int = DEFAULT_TTL_DAYS, client: Any = None) -> None:
        self.table = table
        self.ttl_seconds = ttl_days * 86400
        self._client = client

    client = aws_clients.LazyClient("dynamodb", read_timeout=10)

    def already(self, address: str, ids: Sequence[str]) -> set[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        found: set[str] = set()
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 100):
            keys: list[dict[str, Any]] = [{KEY: {"S": _key(address, i)}} for i in unique[start : start + 100]]
            for _attempt in range(5):
                try:
                    response = self.client.batch_get_item(
                        RequestItems={self.table: {"Keys": keys, "ProjectionExpression": KEY}}
                    )
                except (BotoCoreError, ClientError) as exc:
                    raise RetriableError(
                        f"cannot read the delivered set {self.table}: {type(exc).__name__}",
                        code="DeliveredSetUnavailable",
                        hint="check the table and the role's dynamodb:BatchGetItem permission",
                    ) from None
                for item in response.get("Responses", {}).get(self.table, []):
                    found.add(item[KEY]["S"].split("\n", 1)[1])
                keys = response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
                if not keys:
                    break
                time.sleep(0.05)
            else:
                raise RetriableError(
                    f"the delivered set {self.table} left keys unprocessed", code="DeliveredSetUnavailable"
                )
        return found

    def record(self, address: str, ids: Sequence[str]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        expires = str(int(time.time()) + self.ttl_seconds)
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 25):
            requests: list[dict[str, Any]] = [
                {"PutRequest": {"Item": {KEY: {"S": _key(address, i)}, EXPIRES: {"N": expires}}}}
                for i in unique[start : start + 25]
            ]
            for _attempt in range(5):
                try:
                    response = self.client.batch_write_item(RequestItems={self.table: requests})
                except (BotoCoreError, ClientError) as exc:
                    log.warning(
                        "could not record %d deliveries to %s in %s (%s): a redelivery may send them again",
                        len(requests),
                        address,
                        self.table,
                        type(exc).__name__,
                    )
                    break
                requests = response.get("UnprocessedItems", {}).get(self.table, [])
                if not requests:
                    break
                time.sleep(0.05)


class MemoryDeliveredSet:
    """In one process only (the CLI's ingest, tests): the same contract, no persistence."""

    def __init__(self) -> None:
        self._held: set[tuple[str, str]] = set()

    def already(self, address: str, ids: Sequence[str]) -> set[str]:
        return {i for i in ids if (address, i) in self._held}

    def record(self, address: str, ids: Sequence[str]) -> None:
        self._held.update((address, i) for i in ids)
