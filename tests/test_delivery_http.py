"""Sending over real HTTP: boto3's cloudtrail-data client against the loopback endpoint."""

from __future__ import annotations

import json

import pytest
from auditbridge.endpoint import Channel, Fault
from auditbridge.messages import Disposition, InboundMessage
from auditbridge.retry import Deadline
from events import eventbridge_event, okta_log_event, sqs_record


def messages(count: int, **changes: object) -> list[InboundMessage]:
    return [
        InboundMessage.from_lambda_record(sqs_record(eventbridge_event(okta_log_event(**changes))))
        for _ in range(count)
    ]


def stored_ids(endpoint) -> list[str]:
    return [event.entry_id for event in endpoint.stored.events]


def test_a_batch_is_sent_in_the_fewest_requests(make_pipeline, auditbridge_cloudtrail_data):
    batch = messages(250)
    report = make_pipeline().run(batch)
    assert report.count(Disposition.SENT) == 250
    assert report.requests == 3
    assert auditbridge_cloudtrail_data.service.requests == 3
    assert sorted(stored_ids(auditbridge_cloudtrail_data)) == sorted(
        json.loads(m.body)["detail"]["uuid"] for m in batch
    )


def test_requests_stay_under_one_megabyte(make_pipeline, auditbridge_cloudtrail_data):
    # ~20 kB of additionalEventData each: 100 would be 2 MB, so the size limit decides.
    padding = {"debugData": {f"k{i}": "v" * 1000 for i in range(20)}}
    report = make_pipeline().run(messages(120, debugContext=padding))
    assert report.count(Disposition.SENT) == 120
    assert report.requests >= 3
    assert all(not failure for failure in report.failed_message_ids)


def test_the_same_event_twice_is_sent_once_and_both_messages_acknowledged(make_pipeline, auditbridge_cloudtrail_data):
    event = eventbridge_event(okta_log_event())
    first = InboundMessage.from_lambda_record(sqs_record(event, "m-1"))
    again = InboundMessage.from_lambda_record(sqs_record(event, "m-2"))
    report = make_pipeline().run([first, again])
    assert [o.disposition for o in report.outcomes] == [Disposition.SENT, Disposition.DUPLICATE]
    assert stored_ids(auditbridge_cloudtrail_data) == [event["detail"]["uuid"]]
    assert report.failed_message_ids == []


def test_same_id_with_different_content_goes_in_a_later_request(make_pipeline, auditbridge_cloudtrail_data):
    detail = okta_log_event()
    changed = {**detail, "displayMessage": "changed"}
    batch = [
        InboundMessage.from_lambda_record(sqs_record(eventbridge_event(detail))),
        InboundMessage.from_lambda_record(sqs_record(eventbridge_event(changed))),
    ]
    report = make_pipeline().run(batch)
    assert [o.disposition for o in report.outcomes] == [Disposition.SENT, Disposition.SENT]
    assert report.requests == 2  # never DuplicatedAuditEventId


@pytest.mark.parametrize(
    "fault",
    [
        Fault("error", status=429, code="ThrottlingException"),
        Fault("error", status=500, code="InternalFailure"),
        Fault("error", status=503, code="ServiceUnavailableException"),
        Fault("drop_connection"),
    ],
    ids=["throttled", "http-500", "http-503", "connection-dropped"],
)
def test_transient_request_failures_are_retried(make_pipeline, auditbridge_cloudtrail_data, fast_retry, fault):
    auditbridge_cloudtrail_data.service.faults.add(fault)
    report = make_pipeline().run(messages(5))
    assert report.count(Disposition.SENT) == 5
    assert len(stored_ids(auditbridge_cloudtrail_data)) == 5
    assert report.retried_entries == 5
    assert len(fast_retry.slept) == 1


def test_only_failed_entries_are_resent_never_the_successful_ones(make_pipeline, auditbridge_cloudtrail_data):
    batch = messages(10)
    ids = [json.loads(m.body)["detail"]["uuid"] for m in batch]
    auditbridge_cloudtrail_data.service.faults.add(Fault("entry_failure", code="Throttling", ids=frozenset(ids[:3])))
    report = make_pipeline().run(batch)
    assert report.count(Disposition.SENT) == 10
    assert sorted(stored_ids(auditbridge_cloudtrail_data)) == sorted(ids)  # each exactly once
    assert [o.retries for o in report.outcomes] == [1, 1, 1] + [0] * 7
    assert auditbridge_cloudtrail_data.service.requests == 2


def test_backoff_grows_and_gives_up_as_batch_item_failures(make_pipeline, auditbridge_cloudtrail_data, fast_retry):
    auditbridge_cloudtrail_data.service.faults.add(Fault("error", times=10, status=429, code="ThrottlingException"))
    batch = messages(3)
    report = make_pipeline().run(batch)
    assert report.failed_message_ids == [m.message_id for m in batch]
    assert all(o.error is not None and o.error.code == "ThrottlingException" for o in report.outcomes)
    assert len(fast_retry.slept) == fast_retry.max_attempts - 1
    # equal jitter: each wait lies in [step/2, step] and the steps double
    for number, pause in enumerate(fast_retry.slept, start=1):
        step = min(fast_retry.max_delay, fast_retry.base_delay * 2 ** (number - 1))
        assert step / 2 <= pause <= step
    assert stored_ids(auditbridge_cloudtrail_data) == []


def test_no_retry_starts_after_the_deadline(make_pipeline, auditbridge_cloudtrail_data, fast_retry):
    auditbridge_cloudtrail_data.service.faults.add(Fault("error", times=5, status=500, code="InternalFailure"))
    report = make_pipeline().run(messages(2), Deadline.after(0.01))
    assert len(report.failed_message_ids) == 2
    assert fast_retry.slept == []


def test_a_failure_after_storing_resends_the_same_ids_and_bytes(make_pipeline, auditbridge_cloudtrail_data):
    # The service kept the events but answered 500: a retry stores them again (the service has
    # no de-duplication), but with the same ids and bytes, so readers can de-duplicate on UID.
    auditbridge_cloudtrail_data.service.faults.add(Fault("store_then_fail", status=500, code="InternalFailure"))
    report = make_pipeline().run(messages(2))
    assert report.count(Disposition.SENT) == 2
    stored = auditbridge_cloudtrail_data.stored.events
    assert len(stored) == 4
    by_id: dict[str, set[str]] = {}
    for event in stored:
        by_id.setdefault(event.entry_id, set()).add(event.event_data)
    assert all(len(versions) == 1 for versions in by_id.values())


@pytest.mark.parametrize("code", ["InvalidData", "FieldTooLong", "InvalidChecksum", "InvalidRecipient"])
def test_per_entry_rejections_are_never_retried(make_pipeline, auditbridge_cloudtrail_data, code):
    batch = messages(3)
    bad = json.loads(batch[1].body)["detail"]["uuid"]
    auditbridge_cloudtrail_data.service.faults.add(Fault("entry_failure", code=code, ids=frozenset({bad})))
    report = make_pipeline().run(batch)
    assert [o.disposition for o in report.outcomes] == [Disposition.SENT, Disposition.FAILED, Disposition.SENT]
    error = report.outcomes[1].error
    assert error is not None
    assert error.code == code
    assert error.event_id == bad
    assert error.stage == "send"
    assert auditbridge_cloudtrail_data.service.requests == 1


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (404, "ChannelNotFound"),
        (400, "InvalidChannelARN"),
        (403, "ChannelInsufficientPermission"),
        (400, "ChannelUnsupportedSchema"),
        (400, "UnsupportedOperationException"),
        (403, "AccessDeniedException"),
    ],
)
def test_configuration_errors_fail_every_record_without_retry(
    make_pipeline, auditbridge_cloudtrail_data, fast_retry, status, code, caplog
):
    auditbridge_cloudtrail_data.service.faults.add(Fault("error", status=status, code=code))
    batch = messages(4)
    report = make_pipeline().run(batch)
    assert report.failed_message_ids == [m.message_id for m in batch]
    assert report.configuration_error is not None
    assert report.configuration_error.code == code
    assert fast_retry.slept == []
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "CONFIGURATION ERROR" in errors[0].getMessage()


def test_account_not_subscribed_on_an_entry_stops_the_batch(make_pipeline, auditbridge_cloudtrail_data):
    auditbridge_cloudtrail_data.service.faults.add(Fault("entry_failure", code="AccountNotSubscribed", count=1))
    report = make_pipeline(max_in_flight=4).run(messages(450))
    assert report.configuration_error is not None
    assert report.configuration_error.code == "AccountNotSubscribed"
    # Requests sent before the answer came back (ahead of it, or in its wave) were stored: those
    # entries are acknowledged and never re-sent. Nothing is sent after it: at most the four in
    # flight went out, never the fifth.
    requests = auditbridge_cloudtrail_data.service.requests
    assert 1 <= requests <= 4
    assert report.count(Disposition.SENT) == 99 + 100 * (requests - 1)
    assert len(report.failed_message_ids) == 450 - report.count(Disposition.SENT)
    assert len(auditbridge_cloudtrail_data.stored.events) == report.count(Disposition.SENT)


def test_requests_go_out_concurrently_up_to_the_limit(make_pipeline, auditbridge_cloudtrail_data):
    import threading

    seen: set[int] = set()
    original = auditbridge_cloudtrail_data.service.put_audit_events

    def record_thread(query, body):
        seen.add(threading.get_ident())
        return original(query, body)

    auditbridge_cloudtrail_data.service.faults.add(Fault("delay", times=8, seconds=0.05))
    auditbridge_cloudtrail_data.service.put_audit_events = record_thread
    report = make_pipeline(max_in_flight=4).run(messages(800))
    assert report.count(Disposition.SENT) == 800
    assert report.requests == 8
    assert len(seen) > 1  # the server saw more than one connection at a time


def test_the_real_service_rules_catch_what_the_models_let_through(make_pipeline, auditbridge_cloudtrail_data):
    # A channel owned by another account: every entry names the wrong recipient.
    other = "arn:aws:cloudtrail:us-east-1:111122223333:channel/other-channel"
    auditbridge_cloudtrail_data.service.add_channel(Channel(other))
    from auditbridge.config import ChannelArn
    from auditbridge.sinks.cloudtrail_lake import CloudTrailLakeSink

    report = make_pipeline(sink=CloudTrailLakeSink(ChannelArn.parse(other))).run(messages(2))
    assert [o.error.code for o in report.outcomes if o.error] == ["InvalidRecipient", "InvalidRecipient"]


def test_external_id_is_sent_when_configured(make_pipeline, auditbridge_cloudtrail_data):
    guarded = "arn:aws:cloudtrail:us-east-1:123456789012:channel/guarded"
    auditbridge_cloudtrail_data.service.add_channel(Channel(guarded, external_id="s3cr3t-external"))
    from auditbridge.config import ChannelArn
    from auditbridge.sinks.cloudtrail_lake import CloudTrailLakeSink

    channel = ChannelArn.parse(guarded)
    ok = make_pipeline(sink=CloudTrailLakeSink(channel, "s3cr3t-external")).run(messages(1))
    refused = make_pipeline(sink=CloudTrailLakeSink(channel, "wrong-external")).run(messages(1))
    assert ok.count(Disposition.SENT) == 1
    assert refused.configuration_error is not None
    assert refused.configuration_error.code == "ChannelInsufficientPermission"


def test_an_unreachable_endpoint_is_a_retriable_network_error(registry, fast_retry, monkeypatch):
    import socket

    from auditbridge.config import ChannelArn
    from auditbridge.pipeline import Pipeline
    from auditbridge.sinks.cloudtrail_lake import CloudTrailLakeSink

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL_DATA", f"http://127.0.0.1:{port}")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    channel = ChannelArn.parse("arn:aws:cloudtrail:us-east-1:123456789012:channel/abc")
    pipeline = Pipeline(
        registry, CloudTrailLakeSink(channel), recipient_account_id="123456789012", retry=fast_retry, reserve_seconds=0
    )
    report = pipeline.run(messages(2))
    assert len(report.failed_message_ids) == 2
    assert {o.error.code for o in report.outcomes if o.error} == {"NetworkError"}
    assert len(fast_retry.slept) == fast_retry.max_attempts - 1


def test_an_unexpected_sink_failure_fails_only_its_own_requests(registry, fast_retry):
    from auditbridge.models import MAX_ENTRIES_PER_REQUEST, MAX_REQUEST_BYTES
    from auditbridge.pipeline import Pipeline
    from auditbridge.sinks import PutResult

    class FlakySink:
        """Accepts the first request, then breaks like a buggy sink would."""

        name = "flaky"
        max_entries_per_request = MAX_ENTRIES_PER_REQUEST
        max_request_bytes = MAX_REQUEST_BYTES

        def __init__(self):
            self.calls = 0

        def put_audit_events(self, entries):
            self.calls += 1
            if self.calls == 1:
                return PutResult(successful={e.id: f"ev-{e.id}" for e in entries})
            raise KeyError("bug")

    pipeline = Pipeline(
        registry, FlakySink(), recipient_account_id="123456789012", retry=fast_retry, reserve_seconds=0, max_in_flight=1
    )
    report = pipeline.run(messages(150))
    assert report.count(Disposition.SENT) == 100
    assert len(report.failed_message_ids) == 50
    assert {o.error.code for o in report.outcomes if o.error} == {"SinkFailed"}


def test_a_plugin_configuration_error_holds_back_only_its_source(make_pipeline, auditbridge_cloudtrail_data, caplog):
    from auditbridge import ConfigurationError, Mapper

    def broken(event, context):
        raise ConfigurationError("cannot read the acme settings", code="MissingSecret", hint="set ACME_TOKEN")

    from auditbridge.plugins import MapperRegistry, get_mapper_registry

    registry = MapperRegistry()  # not the process-wide one: other tests share it
    registry.register(get_mapper_registry().get("okta").mapper)
    registry.register(Mapper(name="acme", sources=("acme.app",), map_event=broken))
    pipeline = make_pipeline()
    pipeline.preparer.registry = registry
    batch = [
        *messages(2),
        InboundMessage("acme-1", json.dumps(eventbridge_event({}, source="acme.app"))),
        InboundMessage("acme-2", json.dumps(eventbridge_event({}, source="acme.app"))),
    ]
    report = pipeline.run(batch)
    assert [o.disposition for o in report.outcomes] == [Disposition.SENT] * 2 + [Disposition.FAILED] * 2, [
        o.error.describe() for o in report.outcomes if o.error
    ]
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "2 messages left on the queue: MissingSecret" in errors[0]


def test_a_connection_the_server_closed_while_idle_is_replaced_not_failed():
    """Keep-alive connections die while idle (a frozen Lambda, the service's idle timeout)."""
    import http.server
    import threading

    from auditbridge.sinks.cloudtrail_data_http import Connections

    closed = threading.Event()

    class ClosesAfterAnswering(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive advertised, then broken

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        def shutdown_request(self, request):
            super().shutdown_request(request)
            closed.set()  # the socket is closed now, not merely answered

    server = Server(("127.0.0.1", 0), ClosesAfterAnswering)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connections = Connections(f"http://127.0.0.1:{server.server_address[1]}/PutAuditEvents?x=1", 4)
        assert connections.post(b"{}", {"Content-Type": "application/json"})[0] == 200
        assert closed.wait(10)
        assert connections.post(b"{}", {"Content-Type": "application/json"})[0] == 200
    finally:
        server.shutdown()
        server.server_close()


def test_no_credentials_anywhere_is_a_configuration_error(
    make_pipeline, auditbridge_cloudtrail_data, monkeypatch, tmp_path
):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    report = make_pipeline().run(messages(3))
    assert report.configuration_error is not None
    assert report.configuration_error.code == "NoCredentials"
    assert len(report.failed_message_ids) == 3
    assert auditbridge_cloudtrail_data.service.requests == 0


def test_behind_a_proxy_requests_go_through_it(make_pipeline, auditbridge_cloudtrail_data, monkeypatch):
    """With HTTP(S)_PROXY set, requests take botocore's session through the proxy, not a direct socket."""
    import http.client
    import http.server
    import threading
    from urllib.parse import urlsplit

    forwarded: list[str] = []

    class ForwardingProxy(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            target = urlsplit(self.path)  # a proxy is sent the absolute URL
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in {"proxy-connection", "connection"}}
            upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
            upstream.request("POST", f"{target.path}?{target.query}", body, headers)
            answer = upstream.getresponse()
            content = answer.read()
            forwarded.append(f"{target.hostname}:{target.port}")
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in {"content-length", "connection", "transfer-encoding"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
            upstream.close()

        def log_message(self, *args):
            pass

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ForwardingProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.server_address[1]}")
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, "")
        report = make_pipeline().run(messages(150))
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert [o.disposition for o in report.outcomes] == [Disposition.SENT] * 150
    endpoint = urlsplit(auditbridge_cloudtrail_data.url)
    assert forwarded == [f"{endpoint.hostname}:{endpoint.port}"] * 2  # two requests, both through the proxy
    assert len(stored_ids(auditbridge_cloudtrail_data)) == 150
