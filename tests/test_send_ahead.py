"""Full requests go out while the rest of the batch is still being prepared (auditbridge.send_ahead)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence

import pytest
from auditbridge import pipeline as pipeline_module
from auditbridge.delivery import Delivery
from auditbridge.destinations import Routes
from auditbridge.endpoint import Fault
from auditbridge.errors import ConfigurationError
from auditbridge.messages import Disposition, InboundMessage
from auditbridge.preparation import Prepared, Rejected
from auditbridge.retry import Deadline, RetryPolicy
from auditbridge.send_ahead import SendAhead
from auditbridge.sinks import PUT_AUDIT_EVENTS_LIMITS, PutResult
from auditbridge.sinks.cloudwatch_logs import CloudWatchLogsSink
from events import eventbridge_event, okta_log_event, sqs_record


def messages(count: int, **changes: object) -> list[InboundMessage]:
    return [
        InboundMessage.from_lambda_record(sqs_record(eventbridge_event(okta_log_event(**changes))))
        for _ in range(count)
    ]


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def test_full_requests_go_out_while_the_batch_is_still_being_prepared(make_pipeline, auditbridge_cloudtrail_data):
    pipeline = make_pipeline()
    batch = messages(250)
    seen_while_preparing: list[int] = []

    def prepared() -> Iterator[Prepared | Rejected]:
        for index, message in enumerate(batch):
            if index == 220:  # two full requests are prepared; the third is not
                wait_for(lambda: auditbridge_cloudtrail_data.service.requests >= 2)
                seen_while_preparing.append(auditbridge_cloudtrail_data.service.requests)
            yield pipeline.prepare(message)

    report = pipeline.deliver(prepared(), Deadline.none())
    assert seen_while_preparing == [2]
    assert report.count(Disposition.SENT) == 250
    # The same requests as packing the whole batch at the end: nothing is sent twice or split.
    assert report.requests == auditbridge_cloudtrail_data.service.requests == 3
    stored = sorted(event.entry_id for event in auditbridge_cloudtrail_data.stored.events)
    assert stored == sorted(json.loads(m.body)["detail"]["uuid"] for m in batch)


def test_a_request_sent_ahead_that_fails_is_retried_with_the_rest(
    make_pipeline, auditbridge_cloudtrail_data, fast_retry
):
    auditbridge_cloudtrail_data.service.faults.add(Fault("error", status=503, code="ServiceUnavailableException"))
    batch = messages(300)
    report = make_pipeline().run(batch)
    assert report.count(Disposition.SENT) == 300
    assert report.retried_entries == 100
    assert len(fast_retry.slept) == 1
    assert auditbridge_cloudtrail_data.service.requests == 4
    assert len(auditbridge_cloudtrail_data.stored.events) == 300  # each once


def test_entries_rejected_in_a_request_sent_ahead_are_parked_the_rest_sent(make_pipeline, auditbridge_cloudtrail_data):
    batch = messages(150)
    bad = [json.loads(m.body)["detail"]["uuid"] for m in batch[:2]]
    auditbridge_cloudtrail_data.service.faults.add(
        Fault("entry_failure", code="InvalidEventDataIntegrity", ids=frozenset(bad))
    )
    report = make_pipeline().run(batch)
    assert report.count(Disposition.SENT) == 148
    assert [o.error.code for o in report.outcomes[:2] if o.error] == ["InvalidEventDataIntegrity"] * 2
    assert auditbridge_cloudtrail_data.service.requests == 2


class AnswersWith:
    """A destination answering every request the same way, recording what it was sent."""

    name = "answers"
    limits = PUT_AUDIT_EVENTS_LIMITS

    def __init__(self, answer: Exception | None) -> None:
        self.answer = answer
        self.requests: list[list[str]] = []

    def put_audit_events(self, entries: Sequence) -> PutResult:
        self.requests.append([entry.id for entry in entries])
        if self.answer is not None:
            raise self.answer
        return PutResult(successful={entry.id: entry.id for entry in entries})


def entries(count: int, pipeline) -> list:
    return [pipeline.prepare(message).entry for message in messages(count)]


@pytest.fixture
def preparer(make_pipeline):
    return make_pipeline()


def test_nothing_more_goes_ahead_after_a_configuration_error(preparer):
    sink = AnswersWith(ConfigurationError("no such channel", code="ChannelNotFound"))
    delivery = Delivery(sink, RetryPolicy(), 0.0, max_in_flight=2)
    ahead = SendAhead({"answers": delivery}, Routes.everything_to(["answers"]))
    batch = entries(600, preparer)
    for entry in batch[:101]:
        ahead.offer(entry, "aws.partner/okta.com/x")
    [(_first, answer)] = ahead.started("answers")
    assert isinstance(answer.result(timeout=10), ConfigurationError)
    for entry in batch[101:]:
        ahead.offer(entry, "aws.partner/okta.com/x")
    assert len(ahead.started("answers")) == 1
    assert len(sink.requests) == 1
    # What was not sent ahead takes the ordinary path, which stops at the error too.
    report = delivery.deliver(batch[100:], Deadline.none(), ahead.started("answers"))
    assert report.configuration_error is not None
    assert len(report.failed) == 600
    assert len(sink.requests) == 1


def test_chronological_destinations_are_not_sent_ahead(preparer):
    sink = CloudWatchLogsSink("/audit")
    ahead = SendAhead({"logs": Delivery(sink, RetryPolicy())}, Routes.everything_to(["logs"]))
    for entry in entries(300, preparer):
        ahead.offer(entry, "aws.partner/okta.com/x")
    assert ahead.started("logs") == []


def test_unrouted_sources_are_not_sent_ahead(preparer):
    sink = AnswersWith(None)
    ahead = SendAhead({"answers": Delivery(sink, RetryPolicy())}, Routes({"aws.partner/okta.com/*": ("answers",)}))
    for entry in entries(250, preparer):
        ahead.offer(entry, "some.other.source")
    assert ahead.started("answers") == []
    assert sink.requests == []


def test_with_a_delivered_set_nothing_is_sent_ahead(make_pipeline, auditbridge_cloudtrail_data, monkeypatch):
    class Holds:
        def already(self, address, ids):
            return set()

        def record(self, address, ids):
            pass

    built: list[object] = []
    monkeypatch.setattr(pipeline_module, "SendAhead", lambda *args: built.append(args))
    report = make_pipeline(delivered=Holds()).run(messages(250))
    assert report.count(Disposition.SENT) == 250
    assert built == []
