"""The HTTP face of :class:`~auditbridge.endpoint.service.CloudTrailDataService`.

Speaks the ``cloudtrail-data`` REST-JSON protocol well enough for boto3 and the AWS CLI:
``POST /PutAuditEvents?channelArn=...&externalId=...``; errors carry ``x-amzn-ErrorType``.
A small control API under ``/_auditbridge/`` injects faults and lists stored events for
tests running in another process.
"""

from __future__ import annotations

import socket
import uuid
from dataclasses import asdict
from urllib.parse import parse_qsl, urlsplit

import orjson

from auditbridge.endpoint.faults import Fault
from auditbridge.endpoint.service import CloudTrailDataService, MemoryStore, Response
from auditbridge.loopback import BackgroundServer, LoopbackServer, QuietHandler

CONTROL_PREFIX = "/_auditbridge/"


class _Handler(QuietHandler):
    server: _Server

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, response: Response) -> None:
        if response.drop_connection:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        if response.error_type:
            headers["x-amzn-ErrorType"] = response.error_type
        self.send_json(response.status, response.body, headers)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        body = self._body()
        service = self.server.service
        if url.path == "/PutAuditEvents":
            self._send(service.put_audit_events(dict(parse_qsl(url.query)), body))
        elif url.path == CONTROL_PREFIX + "faults":
            service.faults.add(Fault.from_dict(orjson.loads(body)))
            self._send(Response(200, b"{}"))
        else:
            self._send(Response(404, b'{"message":"unknown operation"}', error_type="UnknownOperationException"))

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        service = self.server.service
        if path == CONTROL_PREFIX + "events" and isinstance(service.store, MemoryStore):
            events = [asdict(event) for event in service.store.events]
            self._send(Response(200, orjson.dumps({"events": events, "requests": service.requests})))
        elif path == CONTROL_PREFIX + "health":
            self._send(Response(200, b'{"status":"ok"}'))
        else:
            self._send(Response(404, b'{"message":"not found"}'))

    def do_DELETE(self) -> None:
        path = urlsplit(self.path).path
        service = self.server.service
        if path == CONTROL_PREFIX + "faults":
            service.faults.clear()
        elif path == CONTROL_PREFIX + "events" and isinstance(service.store, MemoryStore):
            service.store.clear()
            service.requests = 0
        self._send(Response(200, b"{}"))


class _Server(LoopbackServer):
    def __init__(self, address: tuple[str, int], service: CloudTrailDataService) -> None:
        super().__init__(address, _Handler)
        self.service = service


class LocalEndpoint(BackgroundServer):
    """Runs the endpoint on loopback in a background thread (``start``) or in front (``serve_forever``).

    >>> with LocalEndpoint(CloudTrailDataService(auto_create_channels=True)) as endpoint:
    ...     endpoint.url  # doctest: +SKIP
    'http://127.0.0.1:54321'
    """

    def __init__(self, service: CloudTrailDataService, host: str = "127.0.0.1", port: int = 0) -> None:
        self.service = service
        super().__init__(_Server((host, port), service), "cloudtrail-data")
