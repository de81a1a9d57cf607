"""A small HTTP server for this machine that expects hostile clients, in a thread or in front.

The local PutAuditEvents endpoint (``lake serve``, ``python -m auditbridge.endpoint``) and the
webhook intake's ``serve`` command both run on it. ``http.server`` alone trusts its clients;
this base adds what a server facing anyone needs, in one place:

* a read timeout on every connection (idle and slow clients are dropped) and a bound on
  concurrent connections (the rest are answered 503 at once, never queued forever);
* bodies only by a valid ``Content-Length`` within the server's limit: ``Transfer-Encoding``
  is refused with 411 (a chunked body is never read as a next request), a malformed length
  with 400, a body over the limit with 413 before reading it; after an error answer the
  connection closes once up to :data:`DRAIN_LIMIT` bytes of the unread body are discarded,
  so a client that writes its whole body first (urllib, botocore) still reads the answer;
* JSON for every answer, 405 with ``Allow`` for other methods (HEAD, OPTIONS, TRACE ...),
  and a 500 JSON answer, never a dropped connection, when the application raises.

The application is a callable ``(Request) -> Reply``; it never sees the socket.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import orjson

log = logging.getLogger(__name__)

#: Seconds a connection may sit idle or dribble a request before it is closed.
READ_TIMEOUT = 10.0
#: Connections served at once; more are answered 503 and closed.
MAX_CONNECTIONS = 128
#: Unread body bytes discarded after an error answer, so the client can read it; then close.
DRAIN_LIMIT = 64 * 1024 * 1024
DRAIN_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b"{}"
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Close the connection without answering (fault injection in tests).
    drop_connection: bool = False


def json_reply(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, orjson.dumps(body), headers or {})


Application = Callable[[Request], Reply]


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, no per-request log lines, one write per reply, hostile clients expected."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; without this, Nagle and delayed ACKs add 40 ms a call.
    disable_nagle_algorithm = True
    timeout = READ_TIMEOUT
    server: LoopbackServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.read_timeout)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: request lines would clutter output, and paths can carry names."""

    def _dispatch(self) -> None:
        server = self.server
        if self.command not in server.methods:
            # Closed after the answer: an unread body must never be read as the next request.
            allow = {"Allow": ", ".join(server.methods), **server.error_headers(405)}
            self._answer(json_reply(405, {"message": f"method {self.command} is not allowed"}, allow), close=True)
            self._drain(DRAIN_LIMIT)
            return
        body = self._read_body(server.max_body_bytes)
        if body is None:
            return
        path, _, query = self.path.partition("?")
        request = Request(self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, body)
        try:
            reply = server.application(request)
        except Exception:
            log.exception("%s: the application failed on %s %s", server.name, self.command, path[:100])
            reply = json_reply(500, {"message": "internal error"}, {"x-amzn-ErrorType": "InternalFailure"})
        self._answer(reply)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_TRACE = do_CONNECT = _dispatch

    def _read_body(self, limit: int) -> bytes | None:
        """The request body, or None after answering why it will not be read."""
        if self.headers.get("Transfer-Encoding") is not None:
            self._refuse(411, "send the body with a Content-Length; Transfer-Encoding is not accepted", 0)
            return None
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return b""
        text = lengths[0].strip()
        if len(set(lengths)) != 1 or not (text.isascii() and text.isdigit()) or len(text) > 15:
            self._refuse(400, "Content-Length is not a single non-negative whole number", 0)
            return None
        length = int(text)
        if length > limit:
            self._refuse(413, f"the body is over the {limit:,}-byte limit", length)
            return None
        try:
            body = self.rfile.read(length)
        except OSError:  # timed out or reset while sending the body
            self.close_connection = True
            return None
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _refuse(self, status: int, message: str, unread: int) -> None:
        self._answer(json_reply(status, {"message": message}, self.server.error_headers(status)), close=True)
        self._drain(unread if unread else DRAIN_LIMIT)

    def _drain(self, unread: int) -> None:
        """Discard what the client is still sending, within bounds, so it can read our answer."""
        with _suppress_socket_errors():
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(0.5)
            deadline = time.monotonic() + DRAIN_SECONDS
            left = min(unread, DRAIN_LIMIT)
            while left > 0 and time.monotonic() < deadline:
                chunk = self.connection.recv(min(65_536, left))
                if not chunk:
                    break
                left -= len(chunk)

    def _answer(self, reply: Reply, *, close: bool = False) -> None:
        if reply.drop_connection:
            self.close_connection = True
            with _suppress_socket_errors():
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)
        self.wfile.flush()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (bad request line, headers too large, ...) as JSON, then close."""
        headers: dict[str, str] = {}
        if code == 501:  # a method http.server has no handler for: not allowed here either
            code, message = 405, f"method {str(self.command)[:20]} is not allowed"
            headers["Allow"] = ", ".join(self.server.methods)
        headers.update(self.server.error_headers(code))
        with _suppress_socket_errors():
            self._answer(json_reply(code, {"message": message or explain or "bad request"}, headers), close=True)


class _suppress_socket_errors:
    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        return exc_type is not None and issubclass(exc_type, OSError)


class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP server with a bound on connections, serving one :data:`Application`."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        application: Application,
        *,
        name: str,
        methods: tuple[str, ...] = ("GET", "POST"),
        max_body_bytes: int = 1_048_576,
        max_connections: int = MAX_CONNECTIONS,
        error_headers: Callable[[int], dict[str, str]] = lambda status: {},
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        super().__init__(address, QuietHandler)
        self.application = application
        self.name = name
        self.methods = methods
        self.max_body_bytes = max_body_bytes
        #: Headers for the server's own refusals (411, 413, 400), in the application's error shape.
        self.error_headers = error_headers
        self.read_timeout = read_timeout
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            with _suppress_socket_errors():
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 35\r\nConnection: close\r\n\r\n{"message":"too many connections"}\n'
                )
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class BackgroundServer:
    """Owns a :class:`LoopbackServer`: ``start()`` in a thread, or ``serve_forever()`` in front."""

    def __init__(self, server: LoopbackServer) -> None:
        self._server = server
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self._server.name, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
