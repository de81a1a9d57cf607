"""The intake as a Lambda behind a function URL: ``auditbridge_generic_webhook.lambda_handler.handler``.

Environment: ``AUDITBRIDGE_WEBHOOK_BUS`` (the stack's custom bus) and ``AUDITBRIDGE_WEBHOOK_CONFIG``
(a file in the package or ``ssm:/parameter/name``). Built once per execution environment.
"""

from __future__ import annotations

import base64
import functools
import os
from typing import Any

from auditbridge_generic_webhook.config import active_config
from auditbridge_generic_webhook.intake import EventBridgeForwarder, Intake

BUS_ENV = "AUDITBRIDGE_WEBHOOK_BUS"


@functools.cache
def intake() -> Intake:
    bus = os.environ.get(BUS_ENV, "").strip()
    if not bus:
        from auditbridge.errors import ConfigurationError

        raise ConfigurationError(f"{BUS_ENV} is not set", code="MissingConfiguration")
    return Intake(active_config(), EventBridgeForwarder(bus))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    http = (event.get("requestContext") or {}).get("http") or {}
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8")
    except (ValueError, TypeError, AttributeError):
        return _answer(400, b"{}", {})
    response = intake().handle(
        str(http.get("method", "POST")), str(event.get("rawPath", "/")), event.get("headers") or {}, raw
    )
    return _answer(response.status, response.json(), response.headers)


def _answer(status: int, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json", **headers}, "body": body.decode()}
