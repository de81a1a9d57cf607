"""Intake of queue messages and packing of entries into requests."""

from __future__ import annotations

import json

import pytest
from auditbridge.envelope import EventBridgeEvent
from auditbridge.errors import MalformedMessageError
from auditbridge.messages import InboundMessage
from auditbridge.models import AuditEvent
from auditbridge.packing import REQUEST_OVERHEAD, pack
from auditbridge.preparation import EventPreparer, Prepared, Rejected
from events import eventbridge_event, okta_log_event


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ("", None, "not valid JSON"),
        ("{not json", None, "not valid JSON"),
        ('{"a": 1', None, "not valid JSON"),
        ("[1, 2]", None, "JSON list, not an EventBridge event"),
        ('"text"', None, "JSON str"),
        ('{"detail": {}}', "source", "no 'source'"),
        ('{"source": 12, "detail": {}}', "source", "no 'source'"),
        ('{"source": "a.b"}', "detail", "got null"),
        ('{"source": "a.b", "detail": "text"}', "detail", "got string"),
        ('{"source": "a.b", "detail": [1]}', "detail", "got array"),
        ('{"source": "a.b", "detail": {"x": NaN}}', None, "not valid JSON"),
    ],
)
def test_malformed_bodies_are_rejected_with_the_reason(body, field, text):
    with pytest.raises(MalformedMessageError, match=text) as info:
        EventBridgeEvent.from_json(body)
    assert info.value.field == field
    assert info.value.stage == "intake"


def test_a_deeply_nested_body_is_rejected_not_crashing():
    body = '{"source":"a.b","detail":' + '{"n":' * 5000 + "1" + "}" * 5001
    with pytest.raises(MalformedMessageError):
        EventBridgeEvent.from_json(body)


def test_preparation_names_source_and_event_for_every_rejection(registry):
    preparer = EventPreparer(registry, recipient_account_id="123456789012")
    event = eventbridge_event(okta_log_event(eventType=42))
    result = preparer.prepare(InboundMessage("m-1", json.dumps(event)))
    assert isinstance(result, Rejected)
    assert (result.error.code, result.error.field, result.error.source) == (
        "MissingField",
        "eventType",
        event["source"],
    )
    assert result.error.event_id == event["detail"]["uuid"]


def test_without_a_channel_the_events_own_account_is_the_recipient(registry):
    preparer = EventPreparer(registry, recipient_account_id=None)
    event = eventbridge_event(okta_log_event(), account="210987654321")
    result = preparer.prepare(InboundMessage("m", json.dumps(event)))
    assert isinstance(result, Prepared)
    assert json.loads(result.entry.eventData)["recipientAccountId"] == "210987654321"
    no_account = eventbridge_event(okta_log_event(), account=None)
    rejected = preparer.prepare(InboundMessage("m", json.dumps(no_account)))
    assert isinstance(rejected, Rejected)
    assert "channel ARN" in rejected.error.describe()


def test_a_mapper_that_crashes_is_contained_and_classified(registry):
    from auditbridge import Mapper
    from auditbridge.plugins import MapperRegistry

    def crash(event, context):
        return {}["missing"]

    crashing = MapperRegistry()
    crashing.register(Mapper(name="crash", sources=("crash.app",), map_event=crash))
    result = EventPreparer(crashing, recipient_account_id="123456789012").prepare(
        InboundMessage("m", json.dumps(eventbridge_event({}, source="crash.app")))
    )
    assert isinstance(result, Rejected)
    assert result.error.code == "MapperFailed"
    assert "KeyError" in result.error.message


def entry(entry_id: str, size: int) -> AuditEvent:
    return AuditEvent(id=entry_id, eventData="x" * size, eventDataChecksum="c")


def test_pack_respects_the_entry_count():
    requests = pack([entry(f"e{i}", 10) for i in range(250)], 100, 1_000_000)
    assert [len(r) for r in requests] == [100, 100, 50]


def test_pack_respects_the_byte_limit_and_keeps_order():
    entries = [entry(f"e{i}", 300_000) for i in range(7)]
    requests = pack(entries, 100, 1_000_000)
    assert [len(r) for r in requests] == [3, 3, 1]
    assert [e.id for r in requests for e in r] == [e.id for e in entries]
    assert all(sum(e.wire_size for e in r) + REQUEST_OVERHEAD <= 1_000_000 for r in requests)


def test_pack_of_nothing_is_no_request():
    assert pack([], 100, 1_000_000) == []
