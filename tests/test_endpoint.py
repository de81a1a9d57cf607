"""The loopback endpoint answers boto3 the way the CloudTrail Data service does."""

from __future__ import annotations

import base64
import hashlib
import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from events import ACCOUNT


def event_data(**changes: object) -> str:
    data: dict[str, object] = {
        "version": "0",
        "userIdentity": {"type": "User", "principalId": "p"},
        "eventSource": "app",
        "eventName": "did",
        "eventTime": "2025-01-01T00:00:00Z",
        "UID": "u",
        "recipientAccountId": ACCOUNT,
    }
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not None})


def checksum(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@pytest.fixture
def client(auditbridge_cloudtrail_data):
    return boto3.client("cloudtrail-data", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))


def put(client, channel, *entries):
    return client.put_audit_events(channelArn=channel, auditEvents=list(entries))


def test_accepts_and_reports_event_ids(client, auditbridge_cloudtrail_data):
    data = event_data()
    response = put(
        client,
        auditbridge_cloudtrail_data.channel_arn,
        {"id": "a", "eventData": data, "eventDataChecksum": checksum(data)},
    )
    assert response["failed"] == []
    assert response["successful"][0]["id"] == "a"
    stored = auditbridge_cloudtrail_data.stored.events
    assert stored[0].event_id == response["successful"][0]["eventID"]
    assert stored[0].event_data == data


def test_accepts_the_channel_id_suffix(client, auditbridge_cloudtrail_data):
    channel_id = auditbridge_cloudtrail_data.channel_arn.rsplit("/", 1)[1]
    assert put(client, channel_id, {"id": "a", "eventData": event_data()})["successful"]


@pytest.mark.parametrize(
    ("entry", "code"),
    [
        ({"eventData": "not json"}, "InvalidData"),
        ({"eventData": event_data(UID=None)}, "FieldNotFound"),
        ({"eventData": event_data(eventName="x" * 1025)}, "FieldTooLong"),
        ({"eventData": event_data(additionalEventData={"k": "x" * 28_001})}, "FieldTooLong"),
        ({"eventData": event_data(eventTime="yesterday")}, "InvalidData"),
        ({"eventData": event_data(sourceIPAddress="null")}, "InvalidData"),
        ({"eventData": event_data(recipientAccountId="000000000000")}, "InvalidRecipient"),
        ({"eventData": event_data(), "eventDataChecksum": "AAAA"}, "InvalidChecksum"),
    ],
)
def test_per_entry_failures(client, auditbridge_cloudtrail_data, entry, code):
    response = put(
        client, auditbridge_cloudtrail_data.channel_arn, {"id": "bad", **entry}, {"id": "ok", "eventData": event_data()}
    )
    assert [f["errorCode"] for f in response["failed"]] == [code]
    assert [s["id"] for s in response["successful"]] == ["ok"]


@pytest.mark.parametrize(
    ("entries", "code"),
    [
        ([{"id": "same", "eventData": event_data()}] * 2, "DuplicatedAuditEventId"),
        ([{"id": f"e{i}", "eventData": event_data()} for i in range(101)], "ValidationException"),
        ([{"id": "x" * 129, "eventData": event_data()}], "ValidationException"),
        ([{"id": "has space", "eventData": event_data()}], "ValidationException"),
    ],
    ids=["duplicate-ids", "101-entries", "long-id", "id-with-space"],
)
def test_whole_request_errors_botocore_does_not_catch(client, auditbridge_cloudtrail_data, entries, code):
    with pytest.raises(ClientError) as info:
        put(client, auditbridge_cloudtrail_data.channel_arn, *entries)
    assert info.value.response["Error"]["Code"] == code


def test_over_one_megabyte_is_refused(client, auditbridge_cloudtrail_data):
    big = event_data(additionalEventData={"k": "x" * 27_000})
    with pytest.raises(ClientError, match="ValidationException"):
        put(client, auditbridge_cloudtrail_data.channel_arn, *({"id": f"e{i}", "eventData": big} for i in range(40)))


@pytest.mark.parametrize(
    ("channel", "code"),
    [
        ("arn:aws:cloudtrail:us-east-1:123456789012:channel/unknown", "ChannelNotFound"),
        ("arn:aws:s3:::not-a-channel", "InvalidChannelARN"),
    ],
)
def test_channel_errors(client, channel, code):
    with pytest.raises(ClientError) as info:
        put(client, channel, {"id": "a", "eventData": event_data()})
    assert info.value.response["Error"]["Code"] == code


def test_fault_injection_over_http_control_api(client, auditbridge_cloudtrail_data):
    import urllib.request

    request = urllib.request.Request(
        auditbridge_cloudtrail_data.url + "/_auditbridge/faults",
        data=json.dumps({"kind": "error", "status": 429, "code": "ThrottlingException"}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5).close()
    with pytest.raises(ClientError) as info:
        put(client, auditbridge_cloudtrail_data.channel_arn, {"id": "a", "eventData": event_data()})
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    assert put(client, auditbridge_cloudtrail_data.channel_arn, {"id": "a", "eventData": event_data()})["successful"]
    listing = json.loads(
        urllib.request.urlopen(auditbridge_cloudtrail_data.url + "/_auditbridge/events", timeout=5).read()
    )
    assert [e["entry_id"] for e in listing["events"]] == ["a"]


def test_event_ids_are_random_version_4_uuids():
    from uuid import RFC_4122, UUID

    from auditbridge.endpoint.service import random_event_id

    ids = [random_event_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, RFC_4122, text)
    # Every hex digit outside the fixed bits turns up in every position: the bytes are random.
    for position in range(36):
        seen = {text[position] for text in ids}
        if position in (8, 13, 18, 23):
            assert seen == {"-"}
        elif position == 14:
            assert seen == {"4"}
        elif position == 19:
            assert seen == set("89ab")
        else:
            assert seen == set("0123456789abcdef"), position
