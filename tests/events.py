"""Builders for the test suite's own synthetic events (the shared corpus is not copied here)."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

OKTA_SOURCE = "aws.partner/okta.com/example-corp/auditbridge-stream"
ACCOUNT = "123456789012"
CHANNEL_ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:channel/0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
_counter = itertools.count(1)

_LOG_EVENT: dict[str, Any] = {
    "actor": {
        "id": "00u1testUSER0001",
        "type": "User",
        "alternateId": "dana.kim@example.com",
        "displayName": "Dana Kim",
        "detailEntry": None,
    },
    "client": {
        "userAgent": {"rawUserAgent": "Mozilla/5.0 (Macintosh) Firefox/128.0", "os": "Mac OS X", "browser": "FIREFOX"},
        "zone": "null",
        "device": "Computer",
        "id": None,
        "ipAddress": "192.0.2.10",
        "geographicalContext": {"city": "Oslo", "country": "Norway"},
    },
    "displayMessage": "User login to Okta",
    "eventType": "user.session.start",
    "outcome": {"result": "SUCCESS", "reason": None},
    "published": "2025-06-01T08:00:00.123Z",
    "severity": "INFO",
    "debugContext": {"debugData": {"requestId": "req-1"}},
    "legacyEventType": "core.user_auth.login_success",
    "transaction": {"type": "WEB", "id": "tx-1", "detail": {}},
    "uuid": "00000000-0000-4000-8000-000000000001",
    "version": "0",
    "request": {"ipChain": []},
    "target": None,
}


def okta_log_event(**changes: Any) -> dict[str, Any]:
    """A LogEvent; a fresh uuid unless given; ``name=...`` (Ellipsis) removes a member."""
    event = copy.deepcopy(_LOG_EVENT)
    event["uuid"] = f"00000000-0000-4000-8000-{next(_counter):012d}"
    for key, value in changes.items():
        if value is ...:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def eventbridge_event(detail: Any, source: str = OKTA_SOURCE, **changes: Any) -> dict[str, Any]:
    event = {
        "version": "0",
        "id": f"eb-{next(_counter)}",
        "detail-type": "SystemLog",
        "source": source,
        "account": "999999999999",
        "time": "2025-06-01T08:00:01Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
    event.update(changes)
    return event


def sqs_record(body: str | dict[str, Any], message_id: str | None = None) -> dict[str, Any]:
    """A record of a Lambda SQS event."""
    text = body if isinstance(body, str) else json.dumps(body)
    return {
        "messageId": message_id or f"msg-{next(_counter)}",
        "receiptHandle": "handle",
        "body": text,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:auditbridge-ingest",
        "awsRegion": "us-east-1",
    }


def okta_record(message_id: str | None = None, **changes: Any) -> dict[str, Any]:
    return sqs_record(eventbridge_event(okta_log_event(**changes)), message_id)
