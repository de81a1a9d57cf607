"""The signed-webhook intake: verify, split, and put each item on the stack's bus as one event.

HTTP-agnostic: the Lambda function URL handler and ``auditbridge webhook serve`` both call
:meth:`Intake.handle`. Answers: 200 accepted (or a handshake reply), 400 malformed, 401 failed
verification (no detail), 404 unknown source, 405 wrong method, 413 too large, 415 wrong content
type, 503 the bus refused. Nothing unverified is ever forwarded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from auditbridge import aws_clients
from auditbridge.errors import AuditBridgeError

from auditbridge_generic_webhook.config import SourceSpec, WebhookConfig, _cached_compile
from auditbridge_generic_webhook.verification import (
    Handshake,
    ReplayCache,
    ReplayClaim,
    Unverified,
    WebhookRequest,
    verify,
)

log = logging.getLogger(__name__)

#: EventBridge takes entries of at most 256 KB.
MAX_EVENT_BYTES = 256_000
#: How long a delivery of a source without signatures is remembered, to refuse it again.
DELIVERY_WINDOW = 24 * 3600


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":")).encode()


class Forwarder(Protocol):
    def forward(self, source: str, details: list[dict[str, Any]]) -> None:
        """Put each detail on the bus as one event; raise :class:`ForwardingFailed` on any failure."""
        ...


class ForwardingFailed(Exception):
    """Some details were not put on the bus; ``forwarded`` holds the positions of those that were."""

    def __init__(self, message: str, forwarded: set[int] | None = None) -> None:
        super().__init__(message)
        self.forwarded = forwarded or set()


class EventBridgeForwarder:
    """PutEvents onto the stack's webhook bus, whose rule feeds the ingest queue."""

    detail_type = "Webhook"

    def __init__(self, bus_name: str, client: Any = None) -> None:
        self.bus_name = bus_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_clients.client("events", connect_timeout=3)
        return self._client

    def forward(self, source: str, details: list[dict[str, Any]]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        forwarded: set[int] = set()
        for start in range(0, len(details), 10):
            entries = [
                {
                    "EventBusName": self.bus_name,
                    "Source": source,
                    "DetailType": self.detail_type,
                    "Detail": orjson.dumps(detail).decode(),
                }
                for detail in details[start : start + 10]
            ]
            try:
                response = self.client.put_events(Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                raise ForwardingFailed(f"PutEvents failed: {type(exc).__name__}", forwarded) from None
            results = response.get("Entries", [])
            forwarded.update(start + i for i, result in enumerate(results) if result.get("EventId"))
            if response.get("FailedEntryCount") or len(results) != len(entries):
                codes = {e.get("ErrorCode") for e in results if e.get("ErrorCode")}
                raise ForwardingFailed(f"PutEvents refused entries: {', '.join(sorted(map(str, codes)))}", forwarded)


class Intake:
    def __init__(
        self, config: WebhookConfig, forwarder: Forwarder, replay: ReplayCache | None = None, clock: Any = time.time
    ) -> None:
        self.config = config
        self.forwarder = forwarder
        self.replay = replay or ReplayCache()
        self.clock = clock

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        name = path.strip("/").split("/")[0] if path else ""
        spec = self.config.source(name)
        if spec is None or spec.verification is None:
            return Response(404)
        method = method.upper()
        allowed = ("POST", "GET") if spec.verification.scheme == "okta_event_hook" else ("POST",)
        if method not in allowed:
            return Response(405, headers={"Allow": ", ".join(allowed)})
        if len(body) > spec.max_body_bytes:
            self._reject(name, 413, f"body of {len(body):,} bytes over the {spec.max_body_bytes:,} limit")
            return Response(413)
        request = WebhookRequest(method, name, {k.lower(): v for k, v in headers.items()}, body, self.clock())
        claim = ReplayClaim(self.replay)
        try:
            handshake = verify(request, spec.verification, claim)
            if claim.delivery is None:  # schemes without a signature (shared secrets): the body's digest
                digest = hashlib.sha256(body).hexdigest()
                claim.check_and_remember(f"body:{name}:{digest}", DELIVERY_WINDOW, request.received_at)
        except Unverified as exc:
            self._reject(name, 401, str(exc))
            return Response(401)
        except ValueError as exc:
            self._reject(name, 400, str(exc))
            return Response(400)
        except AuditBridgeError as exc:  # the secret cannot be read: our problem, not the sender's
            log.error("webhook source %s: %s", name, exc.describe())
            return Response(503)
        response: Response | None = None
        try:
            response = self._accept(name, spec, request, handshake, claim)
            return response
        finally:
            # Accepted, handshake or refused for good: a replay from now on. Not forwarded
            # (503, or a bug): the sender's retry may come, and carries on where this one stopped.
            claim.settle(done=response is not None and response.status != 503)

    def _accept(
        self, name: str, spec: SourceSpec, request: WebhookRequest, handshake: Handshake | None, claim: ReplayClaim
    ) -> Response:
        if isinstance(handshake, Handshake):
            log.info("webhook source %s: answered a verification handshake", name)
            return Response(200, handshake.body)
        media_type = request.header("content-type") or ""
        if media_type.split(";")[0].strip().lower() not in spec.content_types:
            self._reject(name, 415, "content type not accepted")
            return Response(415)
        try:
            items = split_items(request.body, spec)
        except ValueError as exc:
            self._reject(name, 400, str(exc))
            return Response(400)
        received = datetime.fromtimestamp(request.received_at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        forwarded = {h: request.headers[h] for h in spec.forward_headers if h in request.headers}
        details = [{"payload": item, "headers": forwarded, "receivedAt": received} for item in items]
        if any(len(orjson.dumps(d)) > MAX_EVENT_BYTES for d in details):
            self._reject(name, 413, "an item is over EventBridge's 256 KB")
            return Response(413)
        delivery = claim.delivery
        already = delivery.forwarded if delivery is not None else set()
        pending = [index for index in range(len(details)) if index not in already]
        try:
            self.forwarder.forward(spec.event_source, [details[index] for index in pending])
        except ForwardingFailed as exc:
            if delivery is not None:
                delivery.forwarded.update(pending[position] for position in exc.forwarded)
            log.error("webhook source %s: %s", name, exc)
            return Response(503)
        if delivery is not None:
            delivery.forwarded.update(pending)
        log.info("webhook source %s: forwarded %d events", name, len(pending))
        return Response(200, {"accepted": len(details)})

    @staticmethod
    def _reject(name: str, status: int, reason: str) -> None:
        log.warning("webhook source %s: answered %d: %s", name, status, reason)


def split_items(body: bytes, spec: SourceSpec) -> list[dict[str, Any]]:
    """One item per event: the split expression's list, a JSON array, JSON lines or one object."""
    try:
        document: Any = _parse(body)
    except ValueError:
        try:
            document = [_parse(line) for line in body.splitlines() if line.strip()]
        except ValueError:
            raise ValueError("the body is not JSON or JSON lines") from None
        if not document:
            raise ValueError("the body is empty") from None
    if spec.split is not None and isinstance(document, dict):
        found = _cached_compile(spec.split).search({"payload": document})
        items = found if isinstance(found, list) else [document]
    else:
        items = document if isinstance(document, list) else [document]
    if not items:
        raise ValueError("the delivery holds no events")
    if not all(isinstance(item, dict) for item in items):
        raise ValueError("every event must be a JSON object")
    return items


def _parse(text: bytes) -> Any:
    """Strict JSON within the pipeline's bounds: no NaN or Infinity, no number beyond a double,
    no nesting deeper than the pipeline takes (it would fail there, after the sender was told 200)."""
    from auditbridge.bounds import check_structure
    from auditbridge.errors import MalformedMessageError

    document = orjson.loads(text)  # refuses NaN and Infinity; JSONDecodeError is a ValueError
    brackets = text.count(b"{") + text.count(b"[")
    try:
        check_structure(document, len(text), brackets)
    except MalformedMessageError as exc:
        raise ValueError(exc.message) from None
    if b"e" in text.lower() and not _finite(document):
        raise ValueError("the body holds a number beyond the range of a double")
    return document


def _finite(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True
