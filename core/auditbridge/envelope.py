"""The EventBridge event that an SQS message body carries, and how a body is read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from auditbridge.bounds import check_body_size, check_structure
from auditbridge.errors import MalformedMessageError

#: EventBridge's own limit on ``source``.
MAX_SOURCE_CHARS = 256


@dataclass(frozen=True, slots=True)
class EventBridgeEvent:
    """An EventBridge event, with the envelope's own field names in snake case.

    ``detail`` is the producer's payload (for Okta, one LogEvent). The object is shared
    with the mapper as is: mappers must not mutate ``detail``.
    """

    source: str
    detail: dict[str, Any]
    detail_type: str | None = None
    id: str | None = None
    time: str | None = None
    account: str | None = None
    region: str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> EventBridgeEvent:
        if not isinstance(data, dict):
            raise MalformedMessageError(
                f"the message is a JSON {type(data).__name__}, not an EventBridge event object",
                hint="the queue must receive events from an EventBridge rule target",
            )
        source = data.get("source")
        if not isinstance(source, str) or not source:
            raise MalformedMessageError(
                "the EventBridge event has no 'source' string",
                field="source",
                event_id=_str_or_none(data.get("id")),
                hint="the queue must receive events from an EventBridge rule target",
            )
        if len(source) > MAX_SOURCE_CHARS:
            raise MalformedMessageError(
                f"the EventBridge 'source' is over {MAX_SOURCE_CHARS} characters",
                code="InvalidSource",
                field="source",
                event_id=_str_or_none(data.get("id")),
                hint="EventBridge sources are at most 256 characters; the producer sent something else",
            )
        detail = data.get("detail")
        if not isinstance(detail, dict):
            raise MalformedMessageError(
                f"'detail' must be a JSON object, got {_json_type(detail)}",
                field="detail",
                source=source,
                event_id=_str_or_none(data.get("id")),
            )
        detail_type, event_id, time = data.get("detail-type"), data.get("id"), data.get("time")
        account, region = data.get("account"), data.get("region")
        # Written out (not through _str_or_none): this runs for every event.
        return cls(
            source,
            detail,
            detail_type if isinstance(detail_type, str) else None,
            event_id if isinstance(event_id, str) else None,
            time if isinstance(time, str) else None,
            account if isinstance(account, str) else None,
            region if isinstance(region, str) else None,
        )

    @classmethod
    def from_json(cls, body: str | bytes) -> EventBridgeEvent:
        """Parse a queue message body, within the bounds of :mod:`auditbridge.bounds`."""
        if not isinstance(body, str | bytes):
            raise MalformedMessageError(
                f"the message body is a {type(body).__name__}, not text",
                hint="the queue must receive EventBridge events as JSON, as an EventBridge rule sends them",
            )
        check_body_size(body)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise MalformedMessageError(
                f"the message body is not valid JSON ({exc})",
                hint="the queue must receive EventBridge events as JSON, as an EventBridge rule sends them",
            ) from None
        brackets = body.count("{") + body.count("[") if isinstance(body, str) else body.count(b"{") + body.count(b"[")
        try:
            check_structure(data, len(body), brackets)
        except MalformedMessageError as exc:
            if isinstance(data, dict):
                exc.with_context(source=_str_or_none(data.get("source")), event_id=_str_or_none(data.get("id")))
            raise
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": "0"}
        for key, value in (
            ("id", self.id),
            ("detail-type", self.detail_type),
            ("source", self.source),
            ("account", self.account),
            ("time", self.time),
            ("region", self.region),
        ):
            if value is not None:
                out[key] = value
        out["resources"] = []
        out["detail"] = self.detail
        return out


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
