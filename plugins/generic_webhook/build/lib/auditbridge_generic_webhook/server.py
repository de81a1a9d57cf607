"""``auditbridge webhook serve``: the intake over HTTP on this machine, same code as the Lambda."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from auditbridge_generic_webhook.intake import Intake, Response


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """The intake logs what matters, without payloads."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        limit = self.server.read_limit
        if length > limit:
            self._send(Response(413))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        self._send(self.server.intake.handle(self.command, self.path.split("?")[0], dict(self.headers), body))

    do_POST = do_GET = do_PUT = do_DELETE = _handle

    def _send(self, response: Response) -> None:
        data = response.json()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], intake: Intake) -> None:
        super().__init__(address, _Handler)
        self.intake = intake
        # Never read more than the largest source allows (plus slack), whatever Content-Length says.
        self.read_limit = max((s.max_body_bytes for s in intake.config.sources.values()), default=1_048_576) + 1


class WebhookServer:
    def __init__(self, intake: Intake, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), intake)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> WebhookServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="webhook-intake"
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
