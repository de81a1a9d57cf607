"""Secrets by reference: ``env:NAME``, ``ssm:/parameter/name`` or ``secretsmanager:name``.

Values are cached for five minutes (rotations are picked up) and never logged or echoed. Plugins
read their secrets here (the webhook intake, the Okta collector).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from auditbridge import aws_clients
from auditbridge.errors import ConfigurationError

CACHE_SECONDS = 300.0
_cache: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()
_clients: dict[str, Any] = {}


def resolve_secret(reference: str) -> str:
    now = time.monotonic()
    with _lock:
        cached = _cache.get(reference)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
    value = _fetch(reference)
    if not value:
        raise ConfigurationError(f"the secret {reference} is empty", code="MissingSecret")
    with _lock:
        _cache[reference] = (now, value)
    return value


def clear_cache() -> None:
    with _lock:
        _cache.clear()
        _clients.clear()


def _fetch(reference: str) -> str:
    kind, _, name = reference.partition(":")
    if kind == "env":
        value = os.environ.get(name)
        if value is None:
            raise ConfigurationError(f"the environment variable {name} is not set", code="MissingSecret")
        return value
    if kind == "ssm":
        return read_ssm_parameter(name)
    if kind == "secretsmanager":
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = _client("secretsmanager").get_secret_value(SecretId=name)
        except (BotoCoreError, ClientError) as exc:
            raise ConfigurationError(f"cannot read secret {name}: {_code(exc)}", code="MissingSecret") from None
        return str(response.get("SecretString", ""))
    raise ConfigurationError(f"unknown secret reference kind {kind!r}", code="MissingSecret")


def read_ssm_parameter(name: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = _client("ssm").get_parameter(Name=name, WithDecryption=True)
    except (BotoCoreError, ClientError) as exc:
        raise ConfigurationError(f"cannot read SSM parameter {name}: {_code(exc)}", code="MissingSecret") from None
    return str(response["Parameter"]["Value"])


def _client(service: str) -> Any:
    with _lock:
        if service not in _clients:
            _clients[service] = aws_clients.client(service)
        return _clients[service]


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", type(exc).__name__))
    return type(exc).__name__
