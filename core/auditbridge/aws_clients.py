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


#: Queue errors that mean the URL is wrong, not that the call may succeed later.
_MISSING_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})


def explain(exc: BaseException) -> str | None:
    """One line on what an AWS error means and what to do; None if ``exc`` is not botocore's."""
    if not type(exc).__module__.startswith("botocore"):
        return None
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return "no AWS credentials found; set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    if isinstance(exc, NoRegionError):
        return "no AWS Region configured; set AWS_REGION or pass a queue URL that names one"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')}; check the URL and the network"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        operation = getattr(exc, "operation_name", "the call")
        if code in _MISSING_QUEUE_CODES:
            return f"{operation}: the queue does not exist; check the queue URL (`aws sqs get-queue-url` prints it)"
        return f"{operation}: {code}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


class LazyClient:
    """A class attribute giving each instance its client, made on first use.

    The instance keeps it in ``_client`` (so a client passed in wins) and may name its
    Region in ``region``::

        class FirehoseSink:
            client = LazyClient("firehose", read_timeout=30)
    """

    def __init__(self, service: str, **options: Any) -> None:
        self.service = service
        self.options = options

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        if instance._client is None:
            instance._client = client(self.service, region=getattr(instance, "region", None), **self.options)
        return instance._client
