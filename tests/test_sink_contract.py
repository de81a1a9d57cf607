"""The sink contract kit passes the built-in sinks over real HTTP and catches broken ones."""

from __future__ import annotations

import json

import boto3
import pytest
from auditbridge.errors import RetriableError
from auditbridge.sinks import EntryFailure, PutResult, SinkLimits
from auditbridge.sinks.cloudwatch_logs import CloudWatchLogsSink
from auditbridge.sinks.firehose import FirehoseSink
from auditbridge.testing.sinks import SinkContract


def test_the_cloudwatch_logs_sink_keeps_the_contract(auditbridge_aws):
    boto3.client("logs").create_log_group(logGroupName="/contract")

    def held() -> list[str]:
        logs = boto3.client("logs")
        ids = []
        for stream in logs.describe_log_streams(logGroupName="/contract")["logStreams"]:
            token = None
            while True:
                page = logs.get_log_events(
                    logGroupName="/contract",
                    logStreamName=stream["logStreamName"],
                    startFromHead=True,
                    **({"nextToken": token} if token else {}),
                )
                ids += [json.loads(e["message"])["eventData"]["UID"] for e in page["events"]]
                if not page["events"] or page["nextForwardToken"] == token:
                    break
                token = page["nextForwardToken"]
        return ids

    report = SinkContract(CloudWatchLogsSink("/contract"), read_back=held, small=300).run()
    assert report.ok, report.problems
    assert report.stored == 302


def test_the_firehose_sink_keeps_the_contract(auditbridge_aws):
    boto3.client("s3").create_bucket(Bucket="contract")
    role = boto3.client("iam").create_role(RoleName="fh", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("firehose").create_delivery_stream(
        DeliveryStreamName="contract",
        ExtendedS3DestinationConfiguration={"RoleARN": role, "BucketARN": "arn:aws:s3:::contract"},
    )

    def held() -> list[str]:
        s3 = boto3.client("s3")
        ids = []
        for item in s3.list_objects_v2(Bucket="contract").get("Contents", []):
            body = s3.get_object(Bucket="contract", Key=item["Key"])["Body"].read()
            ids += [json.loads(line)["eventData"]["UID"] for line in body.splitlines() if line.strip()]
        return ids

    report = SinkContract(FirehoseSink("contract"), read_back=held).run()
    assert report.ok, report.problems
    assert report.requests >= 3  # 1,003 small and two near-limit records: by count and by size


class Broken:
    name = "broken"
    address = "broken:x"
    limits = SinkLimits(max_records=10, max_request_bytes=100_000, max_record_bytes=50_000)

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour

    def record_size(self, entry):
        return len(entry.eventData)

    def put_audit_events(self, entries):
        if self.behaviour == "raises":
            raise KeyError("bug")
        if self.behaviour == "unknown-id":
            return PutResult(successful={"not-sent": "x"})
        if self.behaviour == "both":
            return PutResult(successful={entries[0].id: "x"}, failed=[EntryFailure(entries[0].id, "X")])
        if self.behaviour == "no-code":
            return PutResult(failed=[EntryFailure(e.id, "") for e in entries])
        if self.behaviour == "classified":
            raise RetriableError("slow down", code="Throttling")
        return PutResult(successful={e.id: e.id for e in entries})


@pytest.mark.parametrize(
    ("behaviour", "problem"),
    [
        ("raises", "raised KeyError, not an AuditBridgeError"),
        ("unknown-id", "names entries that were not in the request"),
        ("both", "both stored and failed"),
        ("no-code", "failed without an errorCode"),
        ("classified", "nothing was stored"),
    ],
)
def test_broken_sinks_are_caught(behaviour, problem):
    report = SinkContract(Broken(behaviour)).run()
    assert not report.ok
    assert any(problem in p for p in report.problems), report.problems


def test_a_sink_claiming_it_stored_what_it_did_not_is_caught():
    report = SinkContract(Broken("fine"), read_back=lambda: []).run()
    assert any("reported stored are not there" in p for p in report.problems)


def test_impossible_limits_are_caught():
    sink = Broken("fine")
    sink.limits = SinkLimits(max_records=10, max_request_bytes=1_000, max_record_bytes=5_000)
    assert "one record at its limit does not fit in a request" in SinkContract(sink).run().problems
