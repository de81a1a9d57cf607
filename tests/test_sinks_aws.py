"""CloudWatch Logs and Firehose sinks over real HTTP: boto3 against a moto server on loopback."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from auditbridge.errors import ConfigurationError
from auditbridge.messages import Disposition, InboundMessage
from auditbridge.pipeline import Pipeline
from auditbridge.sinks.cloudwatch_logs import CloudWatchLogsSink
from auditbridge.sinks.firehose import FirehoseSink
from events import ACCOUNT, eventbridge_event, okta_log_event, sqs_record


def messages(count: int, **changes: object) -> list[InboundMessage]:
    return [
        InboundMessage.from_lambda_record(sqs_record(eventbridge_event(okta_log_event(**changes))))
        for _ in range(count)
    ]


def pipeline(registry, sink, fast_retry) -> Pipeline:
    return Pipeline(registry, sink, recipient_account_id=ACCOUNT, retry=fast_retry, reserve_seconds=0)


def log_events(group: str) -> list[dict]:
    logs = boto3.client("logs")
    found = []
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        found += logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True, limit=10_000
        )["events"]
    return found


def test_cloudwatch_logs_gets_one_record_per_event_shaped_like_a_cloudtrail_lake_row(
    auditbridge_aws, registry, fast_retry
):
    sink = CloudWatchLogsSink("/audit/okta", {"create": "true"})
    batch = messages(30)
    report = pipeline(registry, sink, fast_retry).run(batch)
    assert report.count(Disposition.SENT) == 30
    assert report.requests == 1
    records = [json.loads(event["message"]) for event in log_events("/audit/okta")]
    assert len(records) == 30
    first = records[0]
    assert first["eventCategory"] == "ActivityAuditLog" and first["eventType"] == "ActivityLog"
    assert first["eventTime"] == "2025-06-01 08:00:00"
    assert first["eventData"]["eventSource"] == "okta.system-log-events"
    assert first["metadata"]["channelARN"] == "cloudwatch-logs:/audit/okta"
    assert {r["eventData"]["UID"] for r in records} == {json.loads(m.body)["detail"]["uuid"] for m in batch}
    streams = boto3.client("logs").describe_log_streams(logGroupName="/audit/okta")["logStreams"]
    assert [s["logStreamName"].split("/")[0] for s in streams] == ["okta.system-log-events"]


def test_an_eighty_day_old_backfill_arrives(auditbridge_aws, registry, fast_retry):
    old = (datetime.now(UTC) - timedelta(days=80)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    sink = CloudWatchLogsSink("/audit/backfill", {"create": "true", "timestamp": "event"})
    report = pipeline(registry, sink, fast_retry).run(messages(5, published=old))
    assert report.count(Disposition.SENT) == 5
    events = log_events("/audit/backfill")
    assert len(events) == 5
    assert json.loads(events[0]["message"])["eventTime"] == old[:19].replace("T", " ")


def test_event_time_mode_orders_each_call_and_keeps_it_within_a_day(auditbridge_aws, registry, fast_retry):
    now = datetime.now(UTC)
    # Out of order and spread over twelve days, all inside the service's 14-day window.
    hours = [5, 200, 30, 1, 150, 280, 2, 75, 76, 77]
    times = [(now - timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in hours]
    batch = [
        InboundMessage.from_lambda_record(sqs_record(eventbridge_event(okta_log_event(published=t)))) for t in times
    ]
    sink = CloudWatchLogsSink("/audit/ordered", {"create": "true", "timestamp": "event", "stream": "all"})
    sent: list[list[int]] = []
    real = sink.client.put_log_events

    def recording(**kwargs):
        sent.append([event["timestamp"] for event in kwargs["logEvents"]])
        return real(**kwargs)

    sink.client.put_log_events = recording
    report = pipeline(registry, sink, fast_retry).run(batch)
    assert report.count(Disposition.SENT) == 10
    for call in sent:
        assert call == sorted(call)
        assert call[-1] - call[0] <= 24 * 3600 * 1000
    # Distinct days: 1-5 h, 30 h, 75-77 h, 150 h, 200 h, 280 h: six calls at least.
    assert len(sent) >= 6
    assert len(log_events("/audit/ordered")) == 10


def test_a_missing_log_group_is_a_configuration_error(auditbridge_aws, registry, fast_retry):
    report = pipeline(registry, CloudWatchLogsSink("/audit/missing"), fast_retry).run(messages(2))
    assert report.count(Disposition.FAILED) == 2
    assert isinstance(report.configuration_error, ConfigurationError)
    assert report.configuration_error.code == "ResourceNotFoundException"


@pytest.fixture
def delivery_stream(auditbridge_aws) -> str:
    s3, iam, firehose = boto3.client("s3"), boto3.client("iam"), boto3.client("firehose")
    s3.create_bucket(Bucket="audit-records")
    role = iam.create_role(RoleName="firehose", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    firehose.create_delivery_stream(
        DeliveryStreamName="audit",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": role,
            "BucketARN": "arn:aws:s3:::audit-records",
            "Prefix": "okta/",
            "CompressionFormat": "GZIP",
        },
    )
    return "audit"


def s3_lines(bucket: str) -> list[dict]:
    s3 = boto3.client("s3")
    lines = []
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        lines += [json.loads(line) for line in body.splitlines() if line.strip()]
    return lines


def test_firehose_delivers_one_json_line_per_event_to_s3(delivery_stream, registry, fast_retry):
    sink = FirehoseSink(delivery_stream)
    batch = messages(620)
    report = pipeline(registry, sink, fast_retry).run(batch)
    assert report.count(Disposition.SENT) == 620
    assert report.requests == 2  # 500 records per call at most
    lines = s3_lines("audit-records")
    assert len(lines) == 620
    assert lines[0]["eventData"]["eventName"] == "user.session.start"
    assert lines[0]["metadata"]["channelARN"] == "firehose:audit"


def test_firehose_resends_only_the_records_that_failed(delivery_stream, registry, fast_retry):
    sink = FirehoseSink(delivery_stream)
    real = sink.client.put_record_batch
    calls: list[int] = []

    def partly_failing(**kwargs):
        records = kwargs["Records"]
        calls.append(len(records))
        response = real(**kwargs)
        if len(calls) == 1:  # the service refused every third record of the first call
            for index, answer in enumerate(response["RequestResponses"]):
                if index % 3 == 0:
                    answer.pop("RecordId", None)
                    answer.update(ErrorCode="ServiceUnavailableException", ErrorMessage="slow down")
            response["FailedPutCount"] = sum(1 for a in response["RequestResponses"] if "ErrorCode" in a)
        return response

    sink.client.put_record_batch = partly_failing
    report = pipeline(registry, sink, fast_retry).run(messages(30))
    assert report.count(Disposition.SENT) == 30
    assert calls == [30, 10]


def test_records_read_back_from_s3_answer_the_blogs_queries_in_the_local_lake(
    delivery_stream, registry, fast_retry, tmp_path, capsys
):
    from auditbridge.cli.main import main

    people = [
        {"id": f"00u{name}", "type": "User", "alternateId": f"{name}@example.com", "displayName": name}
        for name in ("ana", "ben")
    ]
    batch = messages(3, actor=people[0]) + messages(2, actor=people[1], eventType="user.session.end")
    assert pipeline(registry, FirehoseSink(delivery_stream), fast_retry).run(batch).count(Disposition.SENT) == 5
    boto3.client("s3").put_object(Bucket="audit-records", Key="okta/check", Body=b'{"auditbridgeCheck":true}\n')
    lake = str(tmp_path / "lake.duckdb")
    for _ in range(2):  # the same objects twice: nothing is stored twice
        assert main(["lake", "import-records", "s3://audit-records/okta/", "--lake", lake]) == 0
    out = capsys.readouterr().out
    assert "read 5 records" in out and "1 lines were not records" in out
    store = out.split(" into ")[1].split()[0]

    def query(sql: str) -> list[dict]:
        assert main(["query", sql, "--lake", lake, "--format", "json"]) == 0
        return json.loads(capsys.readouterr().out)

    per_user = query(
        "SELECT element_at(eventData.userIdentity.details, 'alternateId') AS user, COUNT(*) AS events "
        f"FROM {store} WHERE eventData.eventSource = 'okta.system-log-events' GROUP BY 1 ORDER BY 2 DESC"
    )
    assert per_user == [{"user": "ana@example.com", "events": 3}, {"user": "ben@example.com", "events": 2}]
    by_name = query(
        f"SELECT eventData.eventName AS eventName, COUNT(*) AS events FROM {store} GROUP BY 1 ORDER BY 2 DESC"
    )
    assert by_name == [{"eventName": "user.session.start", "events": 3}, {"eventName": "user.session.end", "events": 2}]
