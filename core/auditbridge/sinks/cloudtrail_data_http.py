"""``PutAuditEvents`` sent below botocore's client: signed with SigV4, sent over a reused session.

botocore's client serialises, validates and parses every request through its service model,
which costs more than the request itself at this volume; our models have already checked every
limit. Here the body is joined from the entries' own encodings, signed with SigV4
(:mod:`auditbridge.sinks.sigv4`, checked against ``botocore.auth.SigV4Auth``; credentials from
the environment, else botocore's refreshable chain), sent over kept-alive
``http.client`` connections (a third of urllib3's cost per request, measured in ``bench/``), and
the answer parsed with orjson. With a proxy configured in the environment (``HTTPS_PROXY``),
requests go through ``botocore.httpsession.URLLib3Session``, which knows proxies. Errors are
classified exactly as the client's would be: the same codes, from the ``x-amzn-ErrorType``
header or the body's ``__type``; a network failure is a retriable ``NetworkError``.
"""

from __future__ import annotations

import http.client
import os
import select
import socket
import ssl
import threading
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from auditbridge.config import ChannelArn
from auditbridge.errors import ConfigurationError, RetriableError
from auditbridge.models import AuditEvent
from auditbridge.sinks.sigv4 import CredentialSource, Signer

SERVICE = "cloudtrail-data"
#: Seconds to connect and to wait for an answer; the pipeline retries, botocore does not.
TIMEOUTS = (5, 30)
#: PutAuditEvents answers with a few kB; more than this is not its answer.
MAX_ANSWER_BYTES = 8 * 1024 * 1024


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
    """One channel's PutAuditEvents over kept-alive connections; safe to call from several threads."""

    def __init__(self, channel: ChannelArn, external_id: str | None, max_connections: int = 32) -> None:
        self.channel = channel
        query = f"channelArn={quote(channel.arn, safe='')}"
        if external_id:
            query += f"&externalId={quote(external_id, safe='')}"
        self.url = f"{endpoint_for(channel)}/PutAuditEvents?{query}"
        self._connections: Connections | ProxiedConnections = (
            ProxiedConnections(self.url, max_connections)
            if _proxy_for(self.url)
            else Connections(self.url, max_connections)
        )
        self._signer = Signer(self.url, SERVICE, channel.region)
        self._credentials = CredentialSource()

    def send(self, entries: Sequence[AuditEvent]) -> dict[str, Any]:
        """The service's answer (``successful``, ``failed``); raises what botocore's client would."""
        credentials = self._credentials.current()
        if credentials is None:
            raise ConfigurationError(
                "no AWS credentials were found",
                code="NoCredentials",
                hint="configure the function role or AWS_* credentials",
            )
        # Each entry carries its own encoding, made once when it was built.
        body = b'{"auditEvents":[' + b",".join([entry.request_json for entry in entries]) + b"]}"
        headers = self._signer.headers(body, credentials)
        headers["User-Agent"] = "auditbridge"
        status, answer_headers, content = self._connections.post(body, headers)
        if status == 200:
            try:
                answer = orjson.loads(content)
            except orjson.JSONDecodeError:
                raise RetriableError("PutAuditEvents answered 200 with a body that is not JSON") from None
            return answer if isinstance(answer, dict) else {}
        raise _error(status, answer_headers, content)


class Connections:
    """Kept-alive ``http.client`` connections to one endpoint: one per sending thread at a time."""

    def __init__(self, url: str, max_idle: int) -> None:
        parts = urlsplit(url)
        self.target = f"{parts.path}?{parts.query}"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.max_idle = max_idle
        self._tls = _tls_context() if parts.scheme == "https" else None
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any, bytes]:
        connection = self._take()
        try:
            connection.request("POST", self.target, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read(MAX_ANSWER_BYTES + 1)
            if len(content) > MAX_ANSWER_BYTES:
                raise RetriableError(
                    f"PutAuditEvents answered with more than {MAX_ANSWER_BYTES:,} bytes", code="NetworkError"
                )
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            reason = "timed out" if isinstance(exc, socket.timeout) else f"{type(exc).__name__}: {exc}"
            raise RetriableError(
                f"network error talking to CloudTrail Data at {self.host}: {reason}", code="NetworkError"
            ) from None
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            self._give(connection)
        return response.status, response.headers, content

    def _take(self) -> http.client.HTTPConnection:
        while True:
            with self._lock:
                idle = self._idle.pop() if self._idle else None
            if idle is None:
                break
            if _still_open(idle):
                return idle
            idle.close()  # closed by the server while idle (or the function was frozen): a new one
        connect, read = TIMEOUTS
        connection: http.client.HTTPConnection
        if self._tls is not None:
            connection = http.client.HTTPSConnection(self.host, self.port, timeout=connect, context=self._tls)
        else:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=connect)
        try:
            connection.connect()
        except OSError as exc:
            connection.close()
            reason = "timed out" if isinstance(exc, socket.timeout) else f"{type(exc).__name__}: {exc}"
            raise RetriableError(
                f"network error talking to CloudTrail Data at {self.host}: cannot connect ({reason})",
                code="NetworkError",
            ) from None
        if connection.sock is not None:
            connection.sock.settimeout(read)
        return connection

    def _give(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append(connection)
                return
        connection.close()


class ProxiedConnections:
    """Through the proxy the environment names, with botocore's session (which knows proxies)."""

    def __init__(self, url: str, max_connections: int) -> None:
        from botocore.httpsession import URLLib3Session

        self.url = url
        scheme = urlsplit(url).scheme
        proxies = {scheme: _proxy_for(url) or ""}
        # botocore passes (connect, read) the same way; its stubs say int only.
        self._session = URLLib3Session(
            timeout=TIMEOUTS,  # type: ignore[arg-type]
            max_pool_connections=max_connections,
            proxies=proxies,
        )

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any, bytes]:
        from botocore.awsrequest import AWSRequest
        from botocore.exceptions import BotoCoreError

        request = AWSRequest(method="POST", url=self.url, data=body, headers=headers)
        try:
            response = self._session.send(request.prepare())
        except BotoCoreError as exc:
            raise RetriableError(f"network error talking to CloudTrail Data: {exc}", code="NetworkError") from None
        return response.status_code, response.headers, response.content


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection can carry a request: nothing to read on it, not even its end."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _proxy_for(url: str) -> str | None:
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


def _tls_context() -> ssl.SSLContext:
    """Certificates as botocore finds them: ``AWS_CA_BUNDLE``, else its bundled set."""
    from botocore.httpsession import get_cert_path

    bundle = os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True)
    return ssl.create_default_context(cafile=bundle if isinstance(bundle, str) else None)


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
