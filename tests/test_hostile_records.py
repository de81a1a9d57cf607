"""One bad record never costs the others: each hostile shape seen in the field, through the real handler."""

from __future__ import annotations

import json

import pytest
from auditbridge import lambda_handler
from auditbridge.errors import InternalError
from events import eventbridge_event, okta_log_event, okta_record, sqs_record
from lambda_support import LambdaContext, attributes, parked


def run(records: list) -> dict:
    return lambda_handler.handler({"Records": records}, LambdaContext())


def reasons(dlq_url: str) -> dict[str, dict[str, str]]:
    return {attributes(m)["auditbridge.originalMessageId"]: attributes(m) for m in parked(dlq_url)}


def deep(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels):
        value = {"n": value}
    return value


def test_deep_nesting_anywhere_parks_that_record_only(lambda_env, dlq_url):
    good = okta_record("good")
    nested = okta_record("nested", debugContext={"debugData": deep(250)})
    assert run([good, nested]) == {"batchItemFailures": []}
    found = reasons(dlq_url)
    assert set(found) == {"nested"}
    assert found["nested"]["auditbridge.errorCode"] == "TooDeep"
    assert found["nested"]["auditbridge.field"].startswith("detail.debugContext.debugData.n.n")
    assert len(lambda_env.stored.events) == 1


@pytest.mark.parametrize(
    "record",
    [
        "not a record",
        None,
        {"body": "{}"},  # no messageId
        {"messageId": "body-not-text", "body": {"a": 1}},
    ],
    ids=["string", "null", "no-message-id", "body-not-text"],
)
def test_records_the_service_would_never_send_are_parked_not_raised(lambda_env, dlq_url, record):
    # Once, such a record raised `zip() argument 2 is shorter than argument 1` out of the handler.
    good = okta_record("good")
    assert run([good, record]) == {"batchItemFailures": []}
    found = reasons(dlq_url)
    assert len(found) == 1
    assert next(iter(found.values()))["auditbridge.errorCode"] == "MalformedMessage"
    assert len(lambda_env.stored.events) == 1


def test_a_huge_target_name_is_trimmed_not_hung(lambda_env):
    # The Okta mapper's `target.0.displayName` keys once sent fit_object into an endless loop.
    target = [{"id": "00u2", "type": "User", "displayName": "d" * 150_000}]
    assert run([okta_record("t", target=target)]) == {"batchItemFailures": []}
    data = json.loads(lambda_env.stored.events[0].event_data)
    assert data["requestParameters"]["auditbridgeTrimmed"] == "target.0.displayName"
    assert data["requestParameters"]["target.0.id"] == "00u2"


def test_twenty_thousand_debug_keys_are_trimmed_keeping_the_message_and_severity(lambda_env):
    debug = {"debugData": {f"k{i:05d}": "v" for i in range(20_000)}}
    assert run([okta_record("many", debugContext=debug)]) == {"batchItemFailures": []}
    data = json.loads(lambda_env.stored.events[0].event_data)
    extra = data["additionalEventData"]
    assert extra["displayMessage"] == "User login to Okta"
    assert extra["severity"] == "INFO"
    assert extra["auditbridgeTrimmed"].startswith("debugContext.debugData.k")


def test_whitespace_padded_and_far_off_timestamps_are_classified(lambda_env, dlq_url):
    records = [
        okta_record("spaces", published=" " * 40_000 + "2025-06-01T08:00:00Z"),
        okta_record("year-one", published="0001-01-01T00:00:00+01:00"),
        okta_record("padded", published="  2025-06-01T08:00:00.123456Z  "),
    ]
    assert run(records) == {"batchItemFailures": []}
    found = reasons(dlq_url)
    assert {key: value["auditbridge.errorCode"] for key, value in found.items()} == {
        "spaces": "InvalidTimestamp",
        "year-one": "InvalidTimestamp",
    }
    assert len(lambda_env.stored.events) == 1


def test_a_long_outcome_reason_is_clipped_not_parked(lambda_env):
    record = okta_record("reason", outcome={"result": "FAILURE", "reason": "r" * 150_000})
    assert run([record]) == {"batchItemFailures": []}
    data = json.loads(lambda_env.stored.events[0].event_data)
    assert data["responseElements"]["reason"].endswith("…[truncated]")
    assert len(data["errorMessage"]) == 256


def test_an_unexpected_exception_parks_its_record_as_internal_error(lambda_env, dlq_url, monkeypatch):
    """A bug (simulated: the one stub here) costs only the record that met it."""
    from auditbridge import preparation

    real = preparation.to_entry

    def buggy(event_data, *, source):
        if event_data.UID.endswith("bug"):
            raise KeyError("a bug")
        return real(event_data, source=source)

    monkeypatch.setattr(preparation, "to_entry", buggy)
    bad = sqs_record(eventbridge_event(okta_log_event(uuid="00000000-0000-4000-8000-000000000bug")), "bug")
    assert run([okta_record("ok"), bad]) == {"batchItemFailures": []}
    found = reasons(dlq_url)
    assert found["bug"]["auditbridge.errorCode"] == InternalError.default_code
    assert "KeyError" in found["bug"]["auditbridge.errorMessage"]
    assert "a bug" not in found["bug"]["auditbridge.errorMessage"]
    assert len(lambda_env.stored.events) == 1


def test_error_texts_name_the_field_not_the_value(lambda_env, dlq_url, capsys):
    from auditbridge.cli.main import main

    record = okta_record("pii", published="alice@example.com 2025-06-01")
    assert run([record]) == {"batchItemFailures": []}
    assert main(["dlq", "inspect", "--dlq-url", dlq_url]) == 0
    out = capsys.readouterr().out
    assert "InvalidTimestamp" in out
    assert "alice@example.com" not in out
