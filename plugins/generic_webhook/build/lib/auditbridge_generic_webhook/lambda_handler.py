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
    http = event.get("requestContext", {}).get("http", {})
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    response = intake().handle(http.get("method", "POST"), event.get("rawPath", "/"), event.get("headers") or {}, raw)
    return {
        "statusCode": response.status,
        "headers": {"content-type": "application/json"},
        "body": response.json().decode(),
    }
