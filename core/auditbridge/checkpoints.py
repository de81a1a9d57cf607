"""Where a pull source resumes: checkpoints that advance only after a page is delivered or parked.

A store keeps, per key (collector, org, window), the collector's cursor and progress. Saving names
the checkpoint it replaces: if another process advanced it meanwhile, the save is refused
(:class:`CheckpointConflict`), so two pollers can never both move one forward.

* :class:`FileCheckpoints` -- a JSON file for the command line, replaced atomically.
* :class:`DynamoDBCheckpoints` -- a DynamoDB item per key, written with a condition on the previous cursor.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from auditbridge import aws_clients
from auditbridge.errors import ConfigurationError, RetriableError


@dataclass(frozen=True, slots=True)
class Checkpoint:
    cursor: str | None
    #: The time of the last event delivered (ISO 8601), for progress and lag.
    last_event_time: str | None = None
    events: int = 0
    updated_at: str | None = None
    #: Where the window began and ends (ISO 8601): a resumed run keeps them, whatever it is given.
    since: str | None = None
    until: str | None = None


class CheckpointConflict(ConfigurationError):
    """Another process advanced the checkpoint: two pollers on one key."""

    default_code = "CheckpointConflict"


class CheckpointStore(Protocol):
    def load(self, key: str) -> Checkpoint | None: ...

    def save(self, key: str, checkpoint: Checkpoint, previous: Checkpoint | None) -> None:
        """Replace ``previous`` by ``checkpoint``; :class:`CheckpointConflict` if it is not current."""
        ...


def _conflict(key: str) -> CheckpointConflict:
    return CheckpointConflict(
        f"the checkpoint {key!r} was advanced by another process",
        hint="run one poller per org and window; this one stops without advancing it",
    )


class FileCheckpoints:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigurationError(
                f"the checkpoint file {self.path} cannot be read ({type(exc).__name__})",
                code="InvalidCheckpoint",
                hint="move it aside to start over (the lake stores nothing twice)",
            ) from None
        if not isinstance(data, dict):
            raise ConfigurationError(f"the checkpoint file {self.path} is not a JSON object", code="InvalidCheckpoint")
        return data

    def load(self, key: str) -> Checkpoint | None:
        with self._lock:
            found = self._read().get(key)
        if not isinstance(found, dict):
            return None
        return Checkpoint(
            cursor=found.get("cursor"),
            last_event_time=found.get("last_event_time"),
            events=int(found.get("events") or 0),
            updated_at=found.get("updated_at"),
            since=found.get("since"),
            until=found.get("until"),
        )

    def save(self, key: str, checkpoint: Checkpoint, previous: Checkpoint | None) -> None:
        with self._lock:
            data = self._read()
            current = data.get(key)
            if (current is None) != (previous is None) or (
                current is not None and previous is not None and current.get("cursor") != previous.cursor
            ):
                raise _conflict(key)
            data[key] = asdict(checkpoint)
            folder = self.path.parent if str(self.path.parent) else Path(".")
            handle, name = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name}.", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(name, self.path)  # atomic: a crash leaves the old file or the new one
            except BaseException:
                if os.path.exists(name):
                    os.unlink(name)
                raise


class DynamoDBCheckpoints:
    """Items keyed by ``pk``; ``cursor``, ``lastEventTime``, ``events``, ``updatedAt``."""

    def __init__(self, table: str, client: Any = None) -> None:
        self.table = table
        self._client = client

    client = aws_clients.LazyClient("dynamodb", read_timeout=10)

    def load(self, key: str) -> Checkpoint | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            item = self.client.get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
        except (BotoCoreError, ClientError) as exc:
            raise RetriableError(f"cannot read the checkpoint table {self.table}: {type(exc).__name__}") from None
        if not item:
            return None
        return Checkpoint(
            cursor=item.get("cursor", {}).get("S"),
            last_event_time=item.get("lastEventTime", {}).get("S"),
            events=int(item.get("events", {}).get("N", "0")),
            updated_at=item.get("updatedAt", {}).get("S"),
            since=item.get("since", {}).get("S"),
            until=item.get("until", {}).get("S"),
        )

    def save(self, key: str, checkpoint: Checkpoint, previous: Checkpoint | None) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        item: dict[str, Any] = {"pk": {"S": key}, "events": {"N": str(checkpoint.events)}}
        for name, value in (
            ("cursor", checkpoint.cursor),
            ("lastEventTime", checkpoint.last_event_time),
            ("updatedAt", checkpoint.updated_at),
            ("since", checkpoint.since),
            ("until", checkpoint.until),
        ):
            if value is not None:
                item[name] = {"S": value}
        if previous is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        elif previous.cursor is None:
            # CURSOR is a DynamoDB reserved word: always through a name placeholder.
            condition = {
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#cursor)",
                "ExpressionAttributeNames": {"#cursor": "cursor"},
            }
        else:
            condition = {
                "ConditionExpression": "#cursor = :previous",
                "ExpressionAttributeNames": {"#cursor": "cursor"},
                "ExpressionAttributeValues": {":previous": {"S": previous.cursor}},
            }
        try:
            self.client.put_item(TableName=self.table, Item=item, **condition)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise _conflict(key) from None
            raise RetriableError(f"cannot write the checkpoint table {self.table}: {type(exc).__name__}") from None
        except BotoCoreError as exc:
            raise RetriableError(f"cannot write the checkpoint table {self.table}: {type(exc).__name__}") from None
