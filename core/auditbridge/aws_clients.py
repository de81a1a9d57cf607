"""boto3 clients made one way: lazily imported, explicit timeouts, bounded retries.

boto3 and botocore are imported here on first use, so importing a module that may need a
client costs nothing until it does.
"""

from __future__ import annotations

import re
from typing import Any

_SQS_URL_RE = re.compile(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com")
#: botocore's standard retry mode, 3 attempts: for calls that are not the pipeline's own retries.
STANDARD_RETRIES: dict[str, Any] = {"mode": "standard", "max_attempts": 3}


def client(
    service: str,
    *,
    region: str | None = None,
    connect_timeout: float = 5,
    read_timeout: float = 10,
    retries: dict[str, Any] | None = None,
    **config: Any,
) -> Any:
    """A client for ``service``; ``AWS_ENDPOINT_URL_<SERVICE>`` and the usual ``AWS_*`` apply."""
    import boto3
    from botocore.config import Config

    settings: dict[str, Any] = {"retries": retries or STANDARD_RETRIES, **config}
    options = Config(connect_timeout=connect_timeout, read_timeout=read_timeout, **settings)
    return boto3.session.Session().client(service, region_name=region, config=options)  # type: ignore[call-overload]


def region_of_queue_url(url: str) -> str | None:
    """The Region an AWS queue URL names; None for other endpoints (a local one uses the default)."""
    match = _SQS_URL_RE.match(url)
    return match.group(1) if match else None


def sqs_client(queue_url: str, *, read_timeout: float = 10) -> Any:
    return client("sqs", region=region_of_queue_url(queue_url), read_timeout=read_timeout)
