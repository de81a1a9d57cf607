"""The Lambda handler end to end: SQS records in, batchItemFailures out, parking in a moto DLQ."""

from __future__ import annotations

import json

import pytest
from auditbridge import lambda_handler
from events import CHANNEL_ARN, eventbridge_event, okta_record, sqs_record
from lambda_support import LambdaContext, attributes, parked


class _CurrentStdout:
    def write(self, text: str) -> int:
        import sys

        return sys.stdout.write(text)

    def flush(self) -> None:
        import sys

        sys.stdout.flush()


@pytest.fixture
def output(capsys):
    """Everything the function printed (structured logs and EMF metrics), as parsed JSON lines."""
    import logging

    # Powertools' handler keeps the stream it found at import time; point it at pytest's capture.
    handlers = [h for h in logging.getLogger("auditbridge").handlers if isinstance(h, logging.StreamHandler)]
    previous = [handler.stream for handler in handlers]
    for handler in handlers:
        # Whatever sys.stdout is when the record is written: capsys swaps it only when the test runs.
        handler.stream = _CurrentStdout()  # not setStream(): it flushes the old, possibly closed, stream

    def read() -> list[dict]:
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]

    yield read
    for handler, stream in zip(handlers, previous, strict=True):
        handler.stream = stream


def test_good_events_are_sent_and_nothing_is_reported_failed(lambda_env):
    records = [okta_record() for _ in range(25)]
    response = lambda_handler.handler({"Records": records}, LambdaContext())
    assert response == {"batchItemFailures": []}
    assert len(lambda_env.stored.events) == 25


def test_poison_events_are_parked_with_reasons_and_acknowledged(lambda_env, dlq_url):
    good = okta_record("good")
    malformed = sqs_record("{not json", "malformed")
    unknown = sqs_record(eventbridge_event({"id": 1}, source="aws.partner/unknown.example/x"), "unknown")
    bad_time = okta_record("bad-time", published="2025-02-30T00:00:00Z")
    response = lambda_handler.handler({"Records": [good, malformed, unknown, bad_time]}, LambdaContext())
    assert response == {"batchItemFailures": []}
    found = {m["Body"]: attributes(m) for m in parked(dlq_url)}
    assert set(found) == {malformed["body"], unknown["body"], bad_time["body"]}
    assert found[malformed["body"]]["auditbridge.errorCode"] == "MalformedMessage"
    assert found[malformed["body"]]["auditbridge.stage"] == "intake"
    assert found[unknown["body"]]["auditbridge.errorCode"] == "UnknownSource"
    assert found[unknown["body"]]["auditbridge.source"] == "aws.partner/unknown.example/x"
    reason = found[bad_time["body"]]
    assert reason["auditbridge.errorCode"] == "InvalidTimestamp"
    assert reason["auditbridge.field"] == "published"
    assert reason["auditbridge.originalMessageId"] == "bad-time"
    assert reason["auditbridge.eventId"] == json.loads(bad_time["body"])["detail"]["uuid"]
    assert len(lambda_env.stored.events) == 1


def test_without_a_dlq_poison_events_become_batch_item_failures(lambda_env, monkeypatch):
    monkeypatch.delenv("AUDITBRIDGE_DLQ_URL")
    lambda_handler.runtime.cache_clear()
    records = [okta_record("ok"), sqs_record("[]", "array-body")]
    response = lambda_handler.handler({"Records": records}, LambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "array-body"}]}


def test_when_parking_fails_the_message_stays_on_the_queue(lambda_env, monkeypatch, auditbridge_aws):
    monkeypatch.setenv("AUDITBRIDGE_DLQ_URL", auditbridge_aws.url + "/123456789012/no-such-queue")
    lambda_handler.runtime.cache_clear()
    response = lambda_handler.handler({"Records": [sqs_record("{", "poison")]}, LambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "poison"}]}


def test_throttled_entries_that_never_recover_are_batch_item_failures(lambda_env):
    from auditbridge.endpoint import Fault

    lambda_env.service.faults.add(Fault("error", times=100, status=429, code="ThrottlingException"))
    records = [okta_record(f"m{i}") for i in range(3)]
    # 1.5 s left in the invocation, 3 s reserved: no time for any retry
    response = lambda_handler.handler({"Records": records}, LambdaContext(remaining_ms=1500))
    assert response == {"batchItemFailures": [{"itemIdentifier": f"m{i}"} for i in range(3)]}
    assert lambda_env.service.requests == 1


def test_configuration_error_fails_everything_and_says_so_once(lambda_env, output):
    from auditbridge.endpoint import Fault

    lambda_env.service.faults.add(Fault("error", status=404, code="ChannelNotFound"))
    records = [okta_record(f"m{i}") for i in range(3)]
    response = lambda_handler.handler({"Records": records}, LambdaContext())
    assert len(response["batchItemFailures"]) == 3
    errors = [line for line in output() if line.get("level") == "ERROR"]
    assert len(errors) == 1
    assert "ChannelNotFound" in errors[0]["message"]


def test_metrics_are_published_per_source_and_error_code(lambda_env, output):
    records = [okta_record(), okta_record(), sqs_record(eventbridge_event({}, source="custom.app"))]
    lambda_handler.handler({"Records": records}, LambdaContext())
    blobs = [line for line in output() if "_aws" in line]
    metrics = {}
    for blob in blobs:
        names = [m["Name"] for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
        for name in names:
            metrics[(name, blob.get("Source"), blob.get("ErrorCode"))] = blob[name][0]
    okta = "aws.partner/okta.com/example-corp/auditbridge-stream"
    assert metrics[("Received", okta, None)] == 2.0
    assert metrics[("Sent", okta, None)] == 2.0
    assert metrics[("Parked", "custom.app", "UnknownSource")] == 1.0
    assert metrics[("PutAuditEventsCalls", None, None)] == 1.0


def test_payloads_stay_out_of_logs_unless_enabled(lambda_env, output, monkeypatch):
    secret = "Personal Name 7f3a"
    actor = {"id": "00u1", "type": "User", "alternateId": "p@example.com", "displayName": secret}
    record = okta_record("bad", actor=actor, published="not a time")
    lambda_handler.handler({"Records": [record]}, LambdaContext())
    quiet = output()
    warnings = [line for line in quiet if line.get("level") == "WARNING"]
    assert warnings
    assert warnings[0]["error_code"] == "InvalidTimestamp"
    assert warnings[0]["field"] == "published"
    assert secret not in json.dumps(quiet)

    monkeypatch.setenv("AUDITBRIDGE_LOG_PAYLOADS", "true")
    lambda_handler.runtime.cache_clear()
    lambda_handler.handler({"Records": [okta_record("bad2", actor=actor, published="not a time")]}, LambdaContext())
    assert secret in json.dumps(output())


def test_an_event_without_records_is_refused_clearly(lambda_env):
    with pytest.raises(ValueError, match="expects an SQS event"):
        lambda_handler.handler({"detail": {}}, LambdaContext())


def test_no_destination_at_all_is_a_configuration_error(lambda_env, monkeypatch):
    from auditbridge.errors import ConfigurationError

    monkeypatch.delenv("AUDITBRIDGE_CHANNEL_ARN")
    lambda_handler.runtime.cache_clear()
    with pytest.raises(ConfigurationError, match="no destination: set AUDITBRIDGE_DESTINATIONS"):
        lambda_handler.handler({"Records": [okta_record()]}, LambdaContext())


def test_recipient_account_comes_from_the_channel(lambda_env):
    lambda_handler.handler({"Records": [okta_record()]}, LambdaContext())
    data = json.loads(lambda_env.stored.events[0].event_data)
    assert data["recipientAccountId"] == CHANNEL_ARN.split(":")[4] == "123456789012"


def test_a_batch_leaves_no_cycles_for_the_collector(lambda_env):
    """Everything a batch allocates is freed by reference counting when it ends (issue #11)."""
    import gc

    records = [okta_record() for _ in range(250)]
    lambda_handler.handler({"Records": records[:10]}, LambdaContext())  # start-up: plugins, clients
    gc.collect()
    gc.disable()
    try:
        response = lambda_handler.handler({"Records": records[10:]}, LambdaContext())
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert response == {"batchItemFailures": []}
    assert unreachable == 0


@pytest.fixture
def default_switch_interval():
    import sys

    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # CPython's default, whatever an earlier test set
    yield
    sys.setswitchinterval(before)


def test_the_lambda_lets_sender_threads_take_the_gil_within_a_millisecond(lambda_env, default_switch_interval):
    import sys

    from auditbridge.delivery import SENDER_SWITCH_INTERVAL, favour_sender_threads

    lambda_handler.handler({"Records": [okta_record()]}, LambdaContext())
    assert sys.getswitchinterval() == pytest.approx(SENDER_SWITCH_INTERVAL) == pytest.approx(0.001)
    sys.setswitchinterval(0.0002)  # a process that chose a shorter interval keeps it
    favour_sender_threads()
    assert sys.getswitchinterval() == pytest.approx(0.0002)
