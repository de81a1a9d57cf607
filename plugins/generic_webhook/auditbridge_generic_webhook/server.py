"""``auditbridge webhook serve``: the intake over HTTP on this machine, same code as the Lambda."""

from __future__ import annotations

from auditbridge.loopback import BackgroundServer, LoopbackServer, QuietHandler

from auditbridge_generic_webhook.intake import Intake, Response


class _Handler(QuietHandler):
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > self.server.read_limit:
            self.close_connection = True  # the rest of the body is never read
            self._send(Response(413))
            return
        body = self.rfile.read(length) if length else b""
        self._send(self.server.intake.handle(self.command, self.path.split("?")[0], dict(self.headers), body))

    do_POST = do_GET = do_PUT = do_DELETE = _handle

    def _send(self, response: Response) -> None:
        self.send_json(response.status, response.json())


class _Server(LoopbackServer):
    def __init__(self, address: tuple[str, int], intake: Intake) -> None:
        super().__init__(address, _Handler)
        self.intake = intake
        # Never read more than the largest source allows (plus one byte), whatever Content-Length says.
        self.read_limit = max((s.max_body_bytes for s in intake.config.sources.values()), default=1_048_576) + 1


class WebhookServer(BackgroundServer):
    def __init__(self, intake: Intake, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(_Server((host, port), intake), "webhook-intake")
