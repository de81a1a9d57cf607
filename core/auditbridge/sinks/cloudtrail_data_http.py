"""``PutAuditEvents`` sent below botocore's client: signed with SigV4, sent over a reused session.

botocore's client serialises, validates and parses every request through its service model,
which costs more than the request itself at this volume; our models have already checked every
limit. Here the body is built with orjson from the entries, signed with ``botocore.auth.SigV4Auth``
and the session's (refreshable) credentials, sent with ``botocore.httpsession.URLLib3Session``
(pooled, thread-safe), and the answer parsed with orjson. Errors are classified exactly as the
client's would be: the same codes, from the ``x-amzn-ErrorType`` header or the body's ``__type``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import orjson

from auditbridge.config import ChannelArn
from auditbridge.errors import ConfigurationError, RetriableError
from auditbridge.models import AuditEvent

SERVICE = "cloudtrail-data"
#: Seconds to connect and to wait for an answer; the pipeline retries, botocore does not.
TIMEOUTS = (5, 30)


class AnswerError(Exception):
    """An error answer, shaped like botocore's ``ClientError`` so the one classification applies."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}


def endpoint_for(channel: ChannelArn) -> str:
    """``AWS_ENDPOINT_URL_CLOUDTRAIL_DATA`` or ``AWS_ENDPOINT_URL`` when set, else the Region's."""
    configured = os.environ.get("AWS_ENDPOINT_URL_CLOUDTRAIL_DATA") or os.environ.get("AWS_ENDPOINT_URL")
    if configured:
        return configured.rstrip("/")
    suffix = "amazonaws.com.cn" if channel.partition == "aws-cn" else "amazonaws.com"
    return f"https://{SERVICE}.{channel.region}.{suffix}"


class DirectPutAuditEvents:
    """One channel's PutAuditEvents over a pooled HTTP session."""

    def __init__(self, channel: ChannelArn, external_id: str | None, max_connections: int = 32) -> None:
        from botocore.httpsession import URLLib3Session

        self.channel = channel
        query = f"channelArn={quote(channel.arn, safe='')}"
        if external_id:
            query += f"&externalId={quote(external_id, safe='')}"
        self.url = f"{endpoint_for(channel)}/PutAuditEvents?{query}"
        # botocore passes (connect, read) the same way; its stubs say int only.
        self._session = URLLib3Session(timeout=TIMEOUTS, max_pool_connections=max_connections)  # type: ignore[arg-type]
        self._credentials: Any = None

    def _frozen_credentials(self) -> Any:
        if self._credentials is None:
            import boto3

            self._credentials = boto3.session.Session().get_credentials()
            if self._credentials is None:
                raise ConfigurationError(
                    "no AWS credentials were found",
                    code="NoCredentials",
                    hint="configure the function role or AWS_* credentials",
                )
        return self._credentials.get_frozen_credentials()  # refreshed when they near expiry

    def send(self, entries: Sequence[AuditEvent]) -> dict[str, Any]:
        """The service's answer (``successful``, ``failed``); raises what botocore's client would."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        body = orjson.dumps({"auditEvents": [entry.to_request_entry() for entry in entries]})
        request = AWSRequest(
            method="POST",
            url=self.url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "auditbridge"},
        )
        SigV4Auth(self._frozen_credentials(), SERVICE, self.channel.region).add_auth(request)
        response = self._session.send(request.prepare())
        content = response.content
        if response.status_code == 200:
            try:
                answer = orjson.loads(content)
            except orjson.JSONDecodeError:
                raise RetriableError("PutAuditEvents answered 200 with a body that is not JSON") from None
            return answer if isinstance(answer, dict) else {}
        raise _error(response.status_code, response.headers, content)


def _error(status: int, headers: Any, content: bytes) -> AnswerError:
    try:
        body = orjson.loads(content) if content else {}
    except orjson.JSONDecodeError:
        body = {}
    body = body if isinstance(body, dict) else {}
    code = str(headers.get("x-amzn-ErrorType") or body.get("__type") or body.get("code") or f"HTTP{status}")
    # "ValidationException:http://internal.amazon.com/..." and "aws.protocol#Code" forms name the same code.
    code = code.split(":", 1)[0].rsplit("#", 1)[-1]
    message = str(body.get("message") or body.get("Message") or "")
    return AnswerError(status, code, message)
