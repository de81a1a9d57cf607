"""`dlq inspect|redrive` and the command line's errors: exact limits, bounded scans, no tracebacks."""

from __future__ import annotations

import logging

import boto3
import pytest
from auditbridge import dlq_tools
from auditbridge.cli.main import main


@pytest.fixture
def queues(auditbridge_aws) -> tuple[str, str]:
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="parked")["QueueUrl"]
    target = sqs.create_queue(QueueName="ingest")["QueueUrl"]
    for start in range(0, 25, 10):
        sqs.send_message_batch(
            QueueUrl=dlq,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": f"body {i}",
                    "MessageAttributes": {
                        "auditbridge.errorCode": {
                            "DataType": "String",
                            "StringValue": "UnknownSource" if i % 2 else "X",
                        }
                    },
                }
                for i in range(start, min(start + 10, 25))
            ],
        )
    return dlq, target


def count(url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.mark.parametrize("limit", [1, 7, 10, 11])
def test_redrive_max_moves_exactly_that_many(queues, limit, capsys):
    dlq, target = queues
    assert main(["dlq", "redrive", "--dlq-url", dlq, "--to", target, "--max", str(limit)]) == 0
    assert count(target) == limit
    assert count(dlq) == 25 - limit
    assert f"moved {limit:,} messages" in capsys.readouterr().out


def test_redrive_max_counts_matching_messages_only(queues):
    dlq, target = queues
    assert main(["dlq", "redrive", "--dlq-url", dlq, "--to", target, "--reason", "UnknownSource", "--max", "3"]) == 0
    bodies = [
        m["Body"] for m in boto3.client("sqs").receive_message(QueueUrl=target, MaxNumberOfMessages=10)["Messages"]
    ]
    assert len(bodies) == 3
    assert all(int(body.split()[1]) % 2 for body in bodies)


def test_a_scan_ends_when_messages_come_round_again(queues):
    """Were the scan to outlast the visibility timeout, messages would reappear and it would never end."""
    dlq, _ = queues
    client = boto3.client("sqs")
    held = dlq_tools._scan(client, dlq, None, visibility=0)  # every message is visible again at once
    assert 1 <= len(held) <= 25


def test_a_missing_queue_is_one_clear_line(auditbridge_aws, capsys):
    url = auditbridge_aws.url + "/123456789012/no-such-queue"
    assert main(["dlq", "inspect", "--dlq-url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("auditbridge: ")
    assert "does not exist" in err
    assert "Traceback" not in err


def test_missing_credentials_are_one_clear_line(monkeypatch, capsys):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert main(["dlq", "inspect", "--dlq-url", "https://sqs.us-east-1.amazonaws.com/123456789012/q"]) == 2
    err = capsys.readouterr().err
    assert "no AWS credentials" in err
    assert "Traceback" not in err


def test_botocore_info_lines_stay_out_of_cli_output(queues, capsys, caplog):
    dlq, _ = queues
    caplog.set_level(logging.INFO)
    assert main(["dlq", "inspect", "--dlq-url", dlq]) == 0
    assert not [r for r in caplog.records if r.name.startswith("botocore") and r.levelno < logging.WARNING]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["lake", "serve", "--help"], ["(default: 4599)", "(default: 127.0.0.1)"]),
        (["ingest", "--help"], ["(default: local)"]),
        (["worker", "--help"], ["(default: cloudtrail-lake)"]),
        (["webhook", "serve", "--help"], ["(default: 8080)"]),
    ],
)
def test_help_shows_defaults(argv, expected, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    out = " ".join(capsys.readouterr().out.split())
    for text in expected:
        assert text in out


def test_the_worker_lets_sender_threads_take_the_gil_within_a_millisecond(queues, capsys):
    import sys

    from auditbridge.delivery import SENDER_SWITCH_INTERVAL

    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # CPython's default, whatever an earlier test set
    try:
        _, empty_queue = queues
        argv = ["worker", "--queue-url", empty_queue, "--until-empty", "--wait-seconds", "0"]
        status = main([*argv, "--destination", "cloudwatch-logs:/audit"])
        assert status == 0
        assert sys.getswitchinterval() == pytest.approx(SENDER_SWITCH_INTERVAL)
    finally:
        sys.setswitchinterval(before)
