"""Several destinations: routing, fan-out, and a redelivery that never re-sends what a destination has."""

from __future__ import annotations

import json

import boto3
import pytest
from auditbridge import lambda_handler
from auditbridge.config import Destinations
from auditbridge.delivered import DynamoDBDeliveredSet
from auditbridge.destinations import parse_routes
from auditbridge.errors import ConfigurationError
from auditbridge.messages import Disposition, InboundMessage
from auditbridge.pipeline import Pipeline
from auditbridge.plugins import get_sink_registry
from auditbridge.sinks.cloudwatch_logs import CloudWatchLogsSink
from auditbridge.sinks.firehose import FirehoseSink
from botocore.exceptions import ClientError
from events import ACCOUNT, eventbridge_event, okta_log_event, sqs_record
from lambda_support import LambdaContext, attributes, parked


def messages(count: int, source: str | None = None, **changes: object) -> list[InboundMessage]:
    extra = {"source": source} if source else {}
    return [
        InboundMessage.from_lambda_record(sqs_record(eventbridge_event(okta_log_event(**changes), **extra)))
        for _ in range(count)
    ]


@pytest.fixture
def aws(auditbridge_aws):
    """A log group, a delivery stream to S3 and the delivered-set table, in the moto server."""
    boto3.client("logs").create_log_group(logGroupName="/audit")
    boto3.client("s3").create_bucket(Bucket="records")
    role = boto3.client("iam").create_role(RoleName="fh", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("firehose").create_delivery_stream(
        DeliveryStreamName="audit",
        ExtendedS3DestinationConfiguration={"RoleARN": role, "BucketARN": "arn:aws:s3:::records"},
    )
    boto3.client("dynamodb").create_table(
        TableName="delivered",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return auditbridge_aws


def cloudwatch_uids() -> list[str]:
    logs = boto3.client("logs")
    uids = []
    for stream in logs.describe_log_streams(logGroupName="/audit")["logStreams"]:
        events = logs.get_log_events(logGroupName="/audit", logStreamName=stream["logStreamName"], startFromHead=True)
        uids += [json.loads(e["message"])["eventData"]["UID"] for e in events["events"]]
    return uids


def s3_uids() -> list[str]:
    s3 = boto3.client("s3")
    uids = []
    for item in s3.list_objects_v2(Bucket="records").get("Contents", []):
        body = s3.get_object(Bucket="records", Key=item["Key"])["Body"].read()
        uids += [json.loads(line)["eventData"]["UID"] for line in body.splitlines() if line.strip()]
    return uids


class ThrottledOnce:
    """CloudWatch Logs answering ThrottlingException to every call of the first batch (moto cannot)."""

    def __init__(self, sink: CloudWatchLogsSink) -> None:
        self.real = sink.client.put_log_events
        self.throttling = True
        sink.client.put_log_events = self

    def __call__(self, **kwargs):
        if self.throttling:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutLogEvents")
        return self.real(**kwargs)


@pytest.mark.parametrize("with_table", [True, False], ids=["delivered-set", "at-least-once"])
def test_one_destination_throttles_and_the_redelivery_completes_it(aws, registry, fast_retry, with_table):
    logs, firehose = CloudWatchLogsSink("/audit"), FirehoseSink("audit")
    throttle = ThrottledOnce(logs)
    pipeline = Pipeline(
        registry,
        [logs, firehose],
        recipient_account_id=ACCOUNT,
        retry=fast_retry,
        reserve_seconds=0,
        delivered=DynamoDBDeliveredSet("delivered") if with_table else None,
    )
    batch = messages(12)
    first = pipeline.run(batch)
    assert first.count(Disposition.FAILED) == 12  # every message comes back: CloudWatch Logs lacks it
    assert first.by_destination["firehose:audit"]["sent"] == 12
    assert {o.error.destination for o in first.outcomes} == {"cloudwatch-logs:/audit"}

    throttle.throttling = False
    second = pipeline.run(batch)  # SQS hands the same messages back
    assert second.count(Disposition.SENT) == 12
    expected = sorted(json.loads(m.body)["detail"]["uuid"] for m in batch)
    assert sorted(cloudwatch_uids()) == expected
    if with_table:
        assert second.by_destination["firehose:audit"]["already"] == 12
        assert sorted(s3_uids()) == expected  # each destination has every event exactly once
    else:
        assert sorted(s3_uids()) == sorted(expected * 2)  # at least once: documented


def test_routes_send_each_source_to_its_destinations(aws, registry, fast_retry):
    routes = parse_routes(
        "# okta to both, the rest to Firehose only\n"
        "aws.partner/okta.com/* = cloudwatch-logs:/audit, firehose:audit\n"
        "* = firehose:audit\n"
    )
    pipeline = Pipeline(
        registry,
        [CloudWatchLogsSink("/audit"), FirehoseSink("audit")],
        recipient_account_id=ACCOUNT,
        retry=fast_retry,
        routes=routes,
    )
    from auditbridge import EventData, Mapper, UserIdentity

    def other(event, context):
        return EventData(
            version="1",
            userIdentity=UserIdentity(type="App", principalId="a"),
            eventSource="other.app",
            eventName="did",
            eventTime="2025-01-01T00:00:00Z",
            UID=event.detail["uuid"],
            recipientAccountId=context.recipient_account_id,
        )

    pipeline.preparer.registry = type(registry)()
    pipeline.preparer.registry.register(registry.get("okta").mapper)
    pipeline.preparer.registry.register(Mapper(name="other", sources=("other.app",), map_event=other))
    okta, rest = messages(3), messages(2, source="other.app")
    report = pipeline.run([*okta, *rest])
    assert report.count(Disposition.SENT) == 5
    assert len(cloudwatch_uids()) == 3
    assert len(s3_uids()) == 5


def test_a_source_without_a_route_stays_on_the_queue(aws, registry, fast_retry):
    routes = parse_routes("aws.partner/okta.com/* = firehose:audit\n")
    pipeline = Pipeline(registry, [FirehoseSink("audit")], recipient_account_id=ACCOUNT, routes=routes)
    report = pipeline.run(messages(1, source="aws.partner/okta.com/x/y") + messages(1, source="aws.partner/other/z"))
    assert [o.disposition for o in report.outcomes] == [Disposition.SENT, Disposition.FAILED]


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("a = firehose:x\n\nnonsense\n", 3, "expected '<source pattern> = <destination>"),
        ("a* = firehose:x\na* = firehose:y\n", 2, "routed already on line 1"),
        ("a = not-an-address\n", 1, "not a destination address"),
        ("a*b = firehose:x\n", 1, "ends in a single '*'"),
    ],
)
def test_routing_file_errors_name_the_line(text, line, problem):
    with pytest.raises(ConfigurationError) as caught:
        parse_routes(text, "routes.txt")
    assert f"routes.txt, line {line}:" in caught.value.message
    assert problem in caught.value.message


def test_an_event_too_large_for_one_destination_is_parked_naming_it(aws, registry, fast_retry):
    from auditbridge import EventData, Mapper, UserIdentity
    from auditbridge.dead_letters import SqsDeadLetterQueue

    def roomy(event, context):  # userIdentity.details has no limit of its own: 300 kB fits CloudTrail Lake
        details = {"note": "n" * event.detail["size"]}
        return EventData(
            version="1",
            userIdentity=UserIdentity(type="App", principalId="a", details=details),
            eventSource="roomy.app",
            eventName="did",
            eventTime="2025-01-01T00:00:00Z",
            UID=event.detail["uuid"],
            recipientAccountId=context.recipient_account_id,
        )

    mappers = type(registry)()
    mappers.register(Mapper(name="roomy", sources=("roomy.app",), map_event=roomy))
    dlq = boto3.client("sqs").create_queue(QueueName="dlq")["QueueUrl"]
    pipeline = Pipeline(
        mappers,
        [CloudWatchLogsSink("/audit"), FirehoseSink("audit")],
        recipient_account_id=ACCOUNT,
        retry=fast_retry,
        dead_letters=SqsDeadLetterQueue(dlq),
    )
    batch = [
        InboundMessage(name, json.dumps(eventbridge_event({"uuid": name, "size": size}, source="roomy.app")))
        for name, size in (("big", 300_000), ("small", 10))
    ]
    report = pipeline.run(batch)
    assert [o.disposition for o in report.outcomes] == [Disposition.PARKED, Disposition.SENT]
    found = {attributes(m)["auditbridge.originalMessageId"]: attributes(m) for m in parked(dlq)}
    assert set(found) == {"big"}
    assert found["big"]["auditbridge.errorCode"] == "EventTooLarge"
    assert found["big"]["auditbridge.destination"] == "cloudwatch-logs:/audit"
    assert sorted(s3_uids()) == ["big", "small"]  # Firehose took both; CloudWatch Logs only the small one
    assert cloudwatch_uids() == ["small"]


def test_the_handler_sends_to_the_destinations_and_reports_each(aws, monkeypatch, capsys):
    monkeypatch.setenv("AUDITBRIDGE_DESTINATIONS", "cloudwatch-logs:/audit, firehose:audit")
    monkeypatch.setenv("AUDITBRIDGE_DELIVERED_TABLE", "delivered")
    lambda_handler.runtime.cache_clear()
    try:
        response = lambda_handler.handler(
            {"Records": [sqs_record(eventbridge_event(okta_log_event()))]}, LambdaContext()
        )
    finally:
        lambda_handler.runtime.cache_clear()
    assert response == {"batchItemFailures": []}
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    delivered = {b["Destination"]: b["Delivered"][0] for b in blobs if "Delivered" in b}
    assert delivered == {"cloudwatch-logs:/audit": 1.0, "firehose:audit": 1.0}
    # recipientAccountId comes from the event's own account when no CloudTrail Lake channel is set
    record = json.loads(boto3.client("logs").filter_log_events(logGroupName="/audit")["events"][0]["message"])
    assert record["eventData"]["recipientAccountId"] == "999999999999"


def test_settings_add_the_channel_to_the_destinations_and_refuse_two_accounts():
    arn = "arn:aws:cloudtrail:us-east-1:123456789012:channel/abc"
    both = Destinations.resolve(["firehose:audit"], channel_arn=arn)
    assert both.addresses == ("firehose:audit", f"cloudtrail-lake:{arn}")
    assert both.recipient_account_id() == "123456789012"
    other = arn.replace("123456789012", "210987654321")
    with pytest.raises(ConfigurationError, match="several accounts"):
        Destinations.resolve([f"cloudtrail-lake:{other}"], channel_arn=arn).recipient_account_id()
    assert get_sink_registry().build("firehose:audit").address == "firehose:audit"


def test_destinations_lists_the_kinds_and_checks_one(aws, capsys):
    from auditbridge.cli.main import main

    assert main(["destinations"]) == 0
    listing = capsys.readouterr().out
    for kind in ("cloudtrail-lake", "cloudwatch-logs", "firehose", "local"):
        assert kind in listing
    assert "10,000 records and 1,048,576 bytes per request" in listing

    assert main(["destinations", "check", "cloudwatch-logs:/audit", "--dry-run"]) == 0
    assert "exists; nothing sent" in capsys.readouterr().out
    assert not boto3.client("logs").describe_log_streams(logGroupName="/audit")["logStreams"]
    assert main(["destinations", "check", "cloudwatch-logs:/audit"]) == 0
    streams = boto3.client("logs").describe_log_streams(logGroupName="/audit")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["auditbridge-destination-check"]
    assert main(["destinations", "check", "firehose:audit", "--dry-run"]) == 0
    assert "nothing sent" in capsys.readouterr().out

    assert main(["destinations", "check", "cloudwatch-logs:/missing", "--dry-run"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["destinations", "check", "kafka:topic"]) == 2
    assert "UnknownDestinationKind" in capsys.readouterr().err


def test_routes_come_from_ssm_too(aws, monkeypatch):
    from auditbridge.config import Settings

    boto3.client("ssm").put_parameter(
        Name="/auditbridge/routes", Type="String", Value="aws.partner/okta.com/* = cloudwatch-logs:/audit\n"
    )
    monkeypatch.setenv("AUDITBRIDGE_ROUTES", "ssm:/auditbridge/routes")
    monkeypatch.setenv("AUDITBRIDGE_DESTINATIONS", "firehose:audit")
    settings = Settings.from_env()
    routes = settings.destinations.routes
    assert routes.destinations_for("aws.partner/okta.com/a/b") == ("cloudwatch-logs:/audit",)
    assert routes.destinations_for("other") == ("firehose:audit",)  # the rest: AUDITBRIDGE_DESTINATIONS
    monkeypatch.setenv("AUDITBRIDGE_ROUTES", "ssm:/auditbridge/none")
    with pytest.raises(ConfigurationError, match="cannot read ssm:/auditbridge/none"):
        Settings.from_env()


def test_addresses_with_settings_route_to_their_sinks(aws, registry, monkeypatch):
    from auditbridge.assembly import build_pipeline

    destinations = Destinations.resolve(["cloudwatch-logs:/created?create=true", "firehose:audit"])
    pipeline = build_pipeline(destinations)
    assert [d.address for d in pipeline.destinations] == ["cloudwatch-logs:/created", "firehose:audit"]
    report = pipeline.run(messages(2))
    assert report.count(Disposition.SENT) == 2
    assert report.by_destination["cloudwatch-logs:/created"]["sent"] == 2


def test_the_local_destination_keeps_events_whatever_account_they_name(tmp_path, aws, registry, monkeypatch):
    """Beside a CloudTrail Lake channel (or with none), events name a real account, not the local store's."""
    from auditbridge.assembly import build_pipeline, local_lakes_held
    from auditbridge.lake.query import run_query
    from auditbridge.lake.store import LocalLake

    lake_path = tmp_path / "lake.duckdb"
    pipeline = build_pipeline(Destinations.resolve([f"local:{lake_path}", "cloudwatch-logs:/audit?create=true"]))
    with local_lakes_held(pipeline):
        report = pipeline.run(messages(3))  # no channel: each event names its EventBridge account
    assert report.count(Disposition.SENT) == 3, [o.error.describe() for o in report.outcomes if o.error]
    lake = LocalLake(lake_path)
    sql = f"SELECT eventData.recipientAccountId AS account, count(*) AS n FROM {lake.default_store().id} GROUP BY 1"
    assert run_query(sql, lake).records() == [{"account": "999999999999", "n": 3}]


def test_ingest_s_local_sink_keeps_cloudtrail_s_recipient_rule(tmp_path):
    from auditbridge.lake.store import LocalLake
    from auditbridge.models import AuditEvent, EventData, UserIdentity
    from auditbridge.sinks.local_lake import LocalLakeSink

    lake = LocalLake(tmp_path / "lake.duckdb")
    sink = LocalLakeSink(lake, lake.default_store())  # as `ingest` builds it: the channel's account counts
    data = EventData.build(
        version="1",
        userIdentity=UserIdentity.build(type="User", principalId="p"),
        eventSource="s",
        eventName="n",
        eventTime="2025-06-01T08:00:00Z",
        UID="u1",
        recipientAccountId=ACCOUNT,
    )
    result = sink.put_audit_events([AuditEvent.from_event_data("e1", data)])
    assert [(f.id, f.errorCode) for f in result.failed] == [("e1", "InvalidRecipient")] and not result.successful
