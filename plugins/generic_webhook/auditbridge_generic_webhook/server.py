"""``auditbridge webhook serve``: the intake over HTTP on this machine, same code as the Lambda."""

from __future__ import annotations

from auditbridge.loopback import BackgroundServer, LoopbackServer, Reply, Request

from auditbridge_generic_webhook.intake import Intake


class WebhookServer(BackgroundServer):
    def __init__(self, intake: Intake, host: str = "127.0.0.1", port: int = 0) -> None:
        def application(request: Request) -> Reply:
            response = intake.handle(request.method, request.path, request.headers, request.body)
            return Reply(response.status, response.json(), response.headers)

        # Never read more than the largest source allows, whatever Content-Length says.
        limit = max((s.max_body_bytes for s in intake.config.sources.values()), default=1_048_576)
        server = LoopbackServer((host, port), application, name="webhook-intake", max_body_bytes=limit)
        super().__init__(server)
