"""The eventData and entry models enforce every limit of the reference, next to its field."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from auditbridge.models import AuditEvent, EventData, UserIdentity
from pydantic import ValidationError


def event_data(**changes: object) -> EventData:
    values: dict[str, object] = {
        "version": "0",
        "userIdentity": UserIdentity(type="User", principalId="00u1"),
        "eventSource": "okta.system-log-events",
        "eventName": "user.session.start",
        "eventTime": "2025-06-01T08:00:00Z",
        "UID": "uid-1",
        "recipientAccountId": "123456789012",
    }
    values.update(changes)
    return EventData(**values)


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("version", 256),
        ("eventSource", 1024),
        ("eventName", 1024),
        ("UID", 1024),
        ("userAgent", 1024),
        ("errorCode", 256),
        ("errorMessage", 256),
    ],
)
def test_string_limits_are_enforced(field, limit):
    event_data(**{field: "x" * limit})
    with pytest.raises(ValidationError, match=f"at most {limit} characters") as info:
        event_data(**{field: "x" * (limit + 1)})
    assert info.value.errors()[0]["loc"] == (field,)


def test_user_identity_limits():
    UserIdentity(type="t" * 128, principalId="p" * 1024)
    with pytest.raises(ValidationError, match="at most 128"):
        UserIdentity(type="t" * 129, principalId="p")
    with pytest.raises(ValidationError, match="at most 1024"):
        UserIdentity(type="t", principalId="p" * 1025)


@pytest.mark.parametrize(
    ("field", "limit"), [("requestParameters", 100_000), ("responseElements", 100_000), ("additionalEventData", 28_000)]
)
def test_map_size_limits_name_the_size_and_the_limit(field, limit):
    filler = limit - len('{"k":""}')
    event_data(**{field: {"k": "x" * filler}})
    with pytest.raises(ValidationError, match=f"is {limit + 1:,} bytes as JSON; the limit is {limit:,} bytes"):
        event_data(**{field: {"k": "x" * (filler + 1)}})


@pytest.mark.parametrize("value", ["2025-06-01T08:00:00", "2025-06-01 08:00:00Z", "2025-06-01T08:00:00.123Z", ""])
def test_event_time_must_be_utc_to_the_second(value):
    with pytest.raises(ValidationError, match="yyyy-MM-ddTHH:mm:ssZ"):
        event_data(eventTime=value)


def test_event_time_must_exist():
    with pytest.raises(ValidationError, match="not a real date"):
        event_data(eventTime="2023-02-29T00:00:00Z")


@pytest.mark.parametrize("value", ["null", "None", "", "10.0.0.256", "example.com"])
def test_source_ip_must_be_an_address(value):
    with pytest.raises(ValidationError, match="valid IPv4 or IPv6"):
        event_data(sourceIPAddress=value)


@pytest.mark.parametrize("value", ["12345678901", "1234567890123", "abcdefghijkl"])
def test_recipient_account_is_twelve_digits(value):
    with pytest.raises(ValidationError, match="recipientAccountId"):
        event_data(recipientAccountId=value)


def test_wrong_types_are_not_coerced():
    with pytest.raises(ValidationError):
        event_data(version=0)
    with pytest.raises(ValidationError):
        event_data(requestParameters=["not", "an", "object"])


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError, match="Extra inputs"):
        event_data(awsRegion="us-east-1")


def test_models_are_frozen():
    data = event_data()
    with pytest.raises(ValidationError):
        data.eventName = "changed"  # type: ignore[misc]


def test_checksum_is_base64_sha256_of_the_exact_bytes_sent():
    entry = AuditEvent.from_event_data("uid-1", event_data(userAgent="Zoë/1.0"))
    expected = base64.b64encode(hashlib.sha256(entry.eventData.encode("utf-8")).digest()).decode()
    assert entry.eventDataChecksum == expected


def test_event_data_is_canonical_json_without_absent_fields():
    entry = AuditEvent.from_event_data("uid-1", event_data(additionalEventData={"b": "1", "a": "2"}))
    assert entry.eventData == json.dumps(
        json.loads(entry.eventData), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert "userAgent" not in entry.eventData


def test_the_same_input_gives_byte_identical_entries():
    first = AuditEvent.from_event_data("uid-1", event_data(additionalEventData={"z": 1, "a": {"y": 2, "b": 3}}))
    second = AuditEvent.from_event_data("uid-1", event_data(additionalEventData={"a": {"b": 3, "y": 2}, "z": 1}))
    assert first == second


@pytest.mark.parametrize("entry_id", ["", "has space", "x" * 129, "semi;colon"])
def test_entry_ids_follow_the_service_pattern(entry_id):
    with pytest.raises(ValidationError):
        AuditEvent(id=entry_id, eventData="{}")


def test_wire_size_bounds_what_botocore_sends():
    entry = AuditEvent.from_event_data("uid-1", event_data(userAgent='quote" back\\slash ü 山 😀'))
    body = json.dumps({"auditEvents": [entry.to_request_entry()]})  # botocore: ensure_ascii=True
    assert len(body.encode()) <= entry.wire_size + 32


def test_the_fast_serialisation_equals_pydantics_own():
    full = event_data(
        userIdentity=UserIdentity(type="User", principalId="p", details={"alternateId": "a@example.com"}),
        userAgent="ua",
        requestParameters={"k": "v"},
        responseElements={"r": "1"},
        errorCode="E",
        errorMessage="m",
        sourceIPAddress="192.0.2.1",
        additionalEventData={"nested": {"b": 1, "a": [1, 2]}},
    )
    for data in (full, event_data()):
        assert (
            data.to_json_bytes()
            == json.dumps(
                data.model_dump(exclude_none=True), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()
        )
