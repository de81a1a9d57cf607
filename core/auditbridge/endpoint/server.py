"""The HTTP face of :class:`~auditbridge.endpoint.service.CloudTrailDataService`.

Speaks the ``cloudtrail-data`` REST-JSON protocol well enough for boto3 and the AWS CLI:
``POST /PutAuditEvents?channelArn=...&externalId=...``; errors carry ``x-amzn-ErrorType``.
With ``control=True`` (test fixtures only, never ``lake serve``) a small API under
``/_auditbridge/`` injects faults and lists stored events for tests in another process.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from urllib.parse import parse_qsl

import orjson

from auditbridge.endpoint.faults import Fault
from auditbridge.endpoint.service import MAX_BODY_BYTES, CloudTrailDataService, MemoryStore, Response
from auditbridge.loopback import BackgroundServer, LoopbackServer, Reply, Request, json_reply

CONTROL_PREFIX = "/_auditbridge/"


class EndpointApplication:
    """Routes requests to the service; the control API only when asked for."""

    def __init__(self, service: CloudTrailDataService, *, control: bool) -> None:
        self.service = service
        self.control = control

    def __call__(self, request: Request) -> Reply:
        if request.method == "POST" and request.path == "/PutAuditEvents":
            return _reply(self.service.put_audit_events(dict(parse_qsl(request.query)), request.body))
        if request.path == CONTROL_PREFIX + "health":
            return json_reply(200, {"status": "ok"})
        if self.control and request.path.startswith(CONTROL_PREFIX):
            return self._control(request)
        return _reply(Response(404, b'{"message":"unknown operation"}', error_type="UnknownOperationException"))

    def _control(self, request: Request) -> Reply:
        service, name = self.service, request.path.removeprefix(CONTROL_PREFIX)
        store = service.store
        if name == "faults" and request.method == "POST":
            try:
                service.faults.add(Fault.from_dict(orjson.loads(request.body)))
            except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
                return json_reply(400, {"message": f"not a fault: {type(exc).__name__}"})
        elif name == "faults" and request.method == "DELETE":
            service.faults.clear()
        elif name == "events" and isinstance(store, MemoryStore):
            if request.method == "DELETE":
                store.clear()
                service.requests = 0
            else:
                events = [asdict(event) for event in store.events]
                return json_reply(200, {"events": events, "requests": service.requests})
        else:
            return json_reply(404, {"message": "not found"})
        return json_reply(200, {})


def _reply(response: Response) -> Reply:
    if response.drop_connection:
        return Reply(0, drop_connection=True)
    headers = {"x-amzn-RequestId": str(uuid.uuid4())}
    if response.error_type:
        headers["x-amzn-ErrorType"] = response.error_type
    return Reply(response.status, response.body, headers)


def _error_type(status: int) -> dict[str, str]:
    code = {400: "SerializationException", 405: "UnknownOperationException"}.get(status, "ValidationException")
    return {"x-amzn-ErrorType": code, "x-amzn-RequestId": str(uuid.uuid4())}


class LocalEndpoint(BackgroundServer):
    """Runs the endpoint on loopback in a background thread (``start``) or in front (``serve_forever``).

    >>> with LocalEndpoint(CloudTrailDataService(auto_create_channels=True)) as endpoint:
    ...     endpoint.url  # doctest: +SKIP
    'http://127.0.0.1:54321'
    """

    def __init__(
        self, service: CloudTrailDataService, host: str = "127.0.0.1", port: int = 0, *, control: bool = False
    ) -> None:
        self.service = service
        application = EndpointApplication(service, control=control)
        methods: tuple[str, ...] = ("GET", "POST", "DELETE") if control else ("GET", "POST")
        # Up to 16 times the service's limit is read, so the service answers in its own words;
        # beyond, the server refuses before reading, in the service's error shape too.
        server = LoopbackServer(
            (host, port),
            application,
            name="cloudtrail-data",
            methods=methods,
            max_body_bytes=16 * MAX_BODY_BYTES,
            error_headers=_error_type,
        )
        super().__init__(server)
