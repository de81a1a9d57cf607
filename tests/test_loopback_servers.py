"""The servers we run (the local endpoint as `lake serve` runs it, and the shared base) against hostile clients."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request

import boto3
import pytest
from auditbridge.endpoint import CloudTrailDataService, LocalEndpoint
from auditbridge.loopback import BackgroundServer, LoopbackServer, Reply, Request, json_reply
from botocore.config import Config
from botocore.exceptions import ClientError

CHANNEL = "arn:aws:cloudtrail:us-east-1:123456789012:channel/0f1e2d3c-aaaa-bbbb-cccc-123456789abc"


@pytest.fixture
def served():
    """The endpoint as `lake serve` starts it: no control API."""
    with LocalEndpoint(CloudTrailDataService(auto_create_channels=True)) as endpoint:
        yield endpoint


def raw(url: str, data: bytes, *, read: bool = True, timeout: float = 5) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        conn.sendall(data)
        if not read:
            return b""
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_a_chunked_body_is_refused_and_never_read_as_a_second_request():
    calls: list[Request] = []

    def app(request: Request) -> Reply:
        calls.append(request)
        return json_reply(200, {})

    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    body = hex(len(smuggled))[2:].encode() + b"\r\n" + smuggled + b"\r\n0\r\n\r\n"
    request = b"POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body + smuggled
    with BackgroundServer(LoopbackServer(("127.0.0.1", 0), app, name="t")) as server:
        answer = raw(server.url, request)
    assert status_of(answer) == 411
    assert answer.count(b"HTTP/1.1") == 1
    assert calls == []


@pytest.mark.parametrize("length", [b"-1", b"abc", b"1e3", b"+5", b"99999999999999999999", b"5, 6"])
def test_malformed_content_lengths_are_400(served, length):
    answer = raw(served.url, b"POST /PutAuditEvents HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\n")
    assert status_of(answer) == 400
    assert b"Connection: close" in answer


def test_a_huge_declared_length_is_refused_before_reading(served):
    answer = raw(served.url, b"POST /PutAuditEvents HTTP/1.1\r\nHost: x\r\nContent-Length: 900000000\r\n\r\nabc")
    assert status_of(answer) == 413
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["message"]


def test_urllib_writing_a_whole_oversized_body_still_reads_413():
    with BackgroundServer(LoopbackServer(("127.0.0.1", 0), lambda r: json_reply(200, {}), name="t")) as server:
        for _ in range(5):  # it once failed about half the time: the server closed with the body unread
            request = urllib.request.Request(server.url + "/x", data=b"x" * 3_000_000, method="POST")
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(request, timeout=10)
            assert info.value.code == 413


def test_boto3_sending_an_oversized_request_reads_the_service_error(served):
    client = boto3.client(
        "cloudtrail-data",
        endpoint_url=served.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )
    entry = {"id": "a", "eventData": "x" * 1_000_000}
    with pytest.raises(ClientError) as info:
        client.put_audit_events(channelArn=CHANNEL, auditEvents=[entry] * 17)  # 17 MB: over what the server reads
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "TRACE", "PUT", "PATCH", "BREW"])
def test_other_methods_get_405_with_allow(served, method):
    answer = raw(served.url, f"{method} /PutAuditEvents HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
    assert status_of(answer) == 405
    assert b"Allow: GET, POST" in answer
    assert b"<html" not in answer.lower()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "SerializationException"),
        (b"[]", "ValidationException"),
        (b'{"auditEvents": 5}', "ValidationException"),
        (b"[" * 300 + b"]" * 300, "ValidationException"),
        (b"[" * 2000 + b"]" * 2000, "SerializationException"),
    ],
)
def test_malformed_requests_get_the_service_error_shape(served, body, code):
    request = urllib.request.Request(f"{served.url}/PutAuditEvents?channelArn={CHANNEL}", data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 400
    assert info.value.headers["x-amzn-ErrorType"] == code


def test_an_entry_nested_300_deep_is_answered_per_entry(served):
    deep = '{"a":' * 300 + "1" + "}" * 300
    valid = entry("deep", "123456789012")
    valid["eventData"] = valid["eventData"][:-1] + ',"additionalEventData":' + deep + "}"
    body = json.dumps({"auditEvents": [valid]}).encode()
    request = urllib.request.Request(f"{served.url}/PutAuditEvents?channelArn={CHANNEL}", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["failed"][0]["id"] == "deep"
    assert answer["failed"][0]["errorCode"] == "InvalidData"


def test_lake_serve_has_no_fault_injection(served):
    request = urllib.request.Request(served.url + "/_auditbridge/faults", data=b'{"kind":"error"}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 404
    assert served.service.faults.pending() == 0


def test_idle_connections_neither_starve_others_nor_live_forever():
    server = LoopbackServer(
        ("127.0.0.1", 0), lambda r: json_reply(200, {}), name="t", max_connections=8, read_timeout=1
    )
    with BackgroundServer(server) as background:
        host, port = background.url.removeprefix("http://").split(":")
        idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(50)]
        try:
            # Over the bound: answered at once, never queued behind the idle ones.
            answer = raw(background.url, b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status_of(answer) in (200, 503)
            # The idle ones are closed by the server after the read timeout.
            for conn in idle[:8]:
                conn.settimeout(5)
                assert conn.recv(1) == b""
            answer = raw(background.url, b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert status_of(answer) == 200
        finally:
            for conn in idle:
                conn.close()


def test_an_application_bug_is_a_500_answer_not_a_dropped_connection():
    def app(request: Request) -> Reply:
        raise RuntimeError("bug")

    with BackgroundServer(LoopbackServer(("127.0.0.1", 0), app, name="t")) as server:
        answer = raw(server.url, b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(answer) == 500


def test_a_slow_client_is_cut_off():
    server = LoopbackServer(("127.0.0.1", 0), lambda r: json_reply(200, {}), name="t", read_timeout=0.5)
    done = threading.Event()
    with BackgroundServer(server) as background:
        host, port = background.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            assert conn.recv(100) == b""  # closed without an answer once the body stalls
            done.set()
    assert done.is_set()


def test_channel_ids_are_normalised_once(tmp_path):
    from auditbridge.lake.store import LakeEventStore, LocalLake

    lake = LocalLake(tmp_path / "lake.duckdb")
    service = CloudTrailDataService(store=LakeEventStore(lake), auto_create_channels=True)
    upper = CHANNEL.rsplit("/", 1)[0] + "/0F1E2D3C-AAAA-BBBB-CCCC-123456789ABC"
    undashed = CHANNEL.rsplit("/", 1)[0] + "/0f1e2d3caaaabbbbcccc123456789abc"
    other_account = CHANNEL.replace("123456789012", "210987654321")
    for arn, account in ((CHANNEL, "123456789012"), (upper, "123456789012"), (undashed, "123456789012")):
        _, failed = service.put_entries(arn, None, [entry(f"e-{len(arn)}-{arn[-3:]}", account)])
        assert failed == []
    _, failed = service.put_entries(other_account, None, [entry("other", "210987654321")])
    assert failed == []
    stores = {summary.store.name: summary.events for summary in lake.summaries()}
    assert stores == {
        "channel 0f1e2d3c-aaaa-bbbb-cccc-123456789abc": 3,
        "channel 210987654321/0f1e2d3c-aaaa-bbbb-cccc-123456789abc": 1,
    }


def entry(entry_id: str, account: str) -> dict:
    data = {
        "version": "1",
        "userIdentity": {"type": "User", "principalId": "p"},
        "eventSource": "s",
        "eventName": "n",
        "eventTime": "2025-01-01T00:00:00Z",
        "UID": entry_id,
        "recipientAccountId": account,
    }
    return {"id": entry_id, "eventData": json.dumps(data)}
