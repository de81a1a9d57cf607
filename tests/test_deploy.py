"""The shared stack, the Lambda package, the worker and the DLQ tools, end to end against a moto server.

moto splits event bus names on '/', so the tests use custom buses ("okta-partner") where AWS would
have partner buses ("aws.partner/okta.com/..."): the events on them carry the real partner sources.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml
from events import OKTA_SOURCE, eventbridge_event, okta_log_event, sqs_record

ROOT = Path(__file__).parents[1]
TEMPLATE = ROOT / "deploy" / "template.yaml"
ACME_SOURCE = "aws.partner/acme.example/tenant-1"
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py")


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !GetAtt...) as plain values."""


_CfnLoader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: (
        loader.construct_scalar(node)
        if isinstance(node, yaml.ScalarNode)
        else loader.construct_sequence(node)
        if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node)
    ),
)


def template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)


@pytest.fixture(scope="session")
def lambda_zip(tmp_path_factory) -> Path:
    """The package built by deploy/package.py, for this machine's platform so it can run here."""
    arch = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "arm64"}[os.uname().machine]
    output = tmp_path_factory.mktemp("package") / "auditbridge-lambda.zip"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "deploy" / "package.py"),
            "--arch",
            arch,
            "--python-version",
            version,
            "--output",
            str(output),
        ],
        check=True,
        capture_output=True,
    )
    return output


def test_the_package_discovers_plugins_and_maps_from_the_zip_alone(lambda_zip, tmp_path):
    unpacked, runtime = tmp_path / "task", tmp_path / "runtime"
    with zipfile.ZipFile(lambda_zip) as archive:
        names = archive.namelist()
        archive.extractall(unpacked)
    assert not any(name.startswith(("boto3/", "botocore/")) for name in names)  # the runtime provides them
    assert "auditbridge_okta-0.1.0.dist-info/entry_points.txt" in names
    # The Lambda runtime's own boto3, and nothing else from this environment.
    site = Path(boto3.__file__).parents[1]
    runtime.mkdir()
    for name in RUNTIME_PACKAGES:
        for path in site.glob(name if name.endswith(".py") else f"{name}"):
            (shutil.copytree if path.is_dir() else shutil.copy)(path, runtime / path.name)
    event = {"source": OKTA_SOURCE, "detail-type": "SystemLog", "account": "123456789012", "detail": okta_log_event()}
    script = textwrap.dedent(f"""
        import json, sys
        sys.path[:0] = [{str(unpacked)!r}, {str(runtime)!r}]
        import auditbridge, auditbridge.lambda_handler
        assert auditbridge.__file__.startswith({str(unpacked)!r}), auditbridge.__file__
        from auditbridge.plugins import get_mapper_registry
        from auditbridge.preparation import EventPreparer, Prepared
        from auditbridge.messages import InboundMessage
        registry = get_mapper_registry()
        found = {{m.name: m.distribution.name for m in registry}}
        result = EventPreparer(registry, recipient_account_id="123456789012").prepare(
            InboundMessage("m", json.dumps({event!r})))
        assert isinstance(result, Prepared), result
        print(json.dumps({{"mappers": found, "id": result.entry.id}}))
    """)
    done = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "mappers": {"okta": "auditbridge-okta", "webhook": "auditbridge-generic-webhook"},
        "id": event["detail"]["uuid"],
    }


def test_the_template_is_plain_cloudformation_with_least_privilege():
    doc = template()
    assert "Transform" not in doc
    types = {r["Type"] for r in doc["Resources"].values()}
    assert not any(t.startswith("Custom::") or t == "AWS::CloudFormation::CustomResource" for t in types)
    function = doc["Resources"]["IngestFunction"]["Properties"]
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == "auditbridge.lambda_handler.handler"
    raw = doc["Resources"]["IngestFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    # A conditional statement reads as [condition, statement, NoValue].
    statements = [s if isinstance(s, dict) else s[1] for s in raw]
    actions = {s["Sid"]: (s["Action"], s["Resource"]) for s in statements}
    assert actions["PutAuditEventsOnTheChannelOnly"] == ("cloudtrail-data:PutAuditEvents", "ChannelArn")
    assert all(s["Resource"] != "*" and not str(s["Resource"]).endswith(":*:*") for s in statements)
    for logical_id, resource in doc["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skip["comment"]) > 20, f"{logical_id}: checkov skip {skip['id']} needs a reason"
    mapping = doc["Mappings"]["VisibilityTimeout"]
    assert all(int(v["Seconds"]) >= 6 * int(k) for k, v in mapping.items())
    assert set(mapping) == set(doc["Parameters"]["FunctionTimeout"]["AllowedValues"])


def deploy(stack: str, code_bucket: str, **parameters: str) -> dict[str, str]:
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName=stack,
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v} for k, v in {"CodeS3Bucket": code_bucket, **parameters}.items()
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


@pytest.fixture
def code_bucket(auditbridge_aws, lambda_zip) -> str:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="auditbridge-code")
    s3.upload_file(str(lambda_zip), "auditbridge-code", "auditbridge-lambda.zip")
    return "auditbridge-code"


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_the_stack_deploys_the_lambda_pipeline(code_bucket, auditbridge_cloudtrail_data):
    boto3.client("events").create_event_bus(Name="okta-partner")
    outputs = deploy(
        "auditbridge",
        code_bucket,
        PartnerEventBusName="okta-partner",
        ChannelArn=auditbridge_cloudtrail_data.channel_arn,
    )
    sqs = boto3.client("sqs")
    ingest = sqs.get_queue_attributes(QueueUrl=outputs["IngestQueueUrl"], AttributeNames=["All"])["Attributes"]
    assert ingest["VisibilityTimeout"] == "720"  # 6 x the 120 s function timeout
    assert json.loads(ingest["RedrivePolicy"])["maxReceiveCount"] == 5
    assert ingest["SqsManagedSseEnabled"] == "true"
    dead = sqs.get_queue_attributes(QueueUrl=outputs["DeadLetterQueueUrl"], AttributeNames=["All"])["Attributes"]
    assert dead["MessageRetentionPeriod"] == "1209600"

    function = boto3.client("lambda").get_function_configuration(FunctionName=outputs["IngestFunctionName"])
    assert function["Handler"] == "auditbridge.lambda_handler.handler" and function["Runtime"] == "python3.13"
    assert function["Environment"]["Variables"]["AUDITBRIDGE_CHANNEL_ARN"] == auditbridge_cloudtrail_data.channel_arn
    assert function["Environment"]["Variables"]["AUDITBRIDGE_DLQ_URL"] == outputs["DeadLetterQueueUrl"]
    mapping = boto3.client("lambda").list_event_source_mappings(FunctionName=outputs["IngestFunctionName"])
    esm = mapping["EventSourceMappings"][0]
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (esm["BatchSize"], esm["MaximumBatchingWindowInSeconds"], esm["ScalingConfig"]) == (
        1000,
        10,
        {"MaximumConcurrency": 2},
    )

    events = boto3.client("events")
    rules = events.list_rules(EventBusName="okta-partner")["Rules"]
    targets = events.list_targets_by_rule(Rule=rules[0]["Name"], EventBusName="okta-partner")["Targets"]
    assert targets[0]["Arn"] == outputs["IngestQueueArn"]
    assert targets[0]["RetryPolicy"]["MaximumRetryAttempts"] == 185
    assert targets[0]["DeadLetterConfig"]["Arn"].endswith("auditbridge-delivery-failures")


def worker_command(queue: str, dlq: str, channel: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "auditbridge.cli.main",
        "worker",
        "--queue-url",
        queue,
        "--dlq-url",
        dlq,
        "--channel-arn",
        channel,
        *extra,
    ]


def worker(queue: str, dlq: str, channel: str, *extra: str, pythonpath: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    return subprocess.run(
        worker_command(queue, dlq, channel, *extra), capture_output=True, text=True, env=env, check=False, timeout=120
    )


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "auditbridge.cli.main", *argv], capture_output=True, text=True, check=False, timeout=120
    )


def acme_plugin(folder: Path) -> str:
    """A second source's plugin, installed the way pip would: a package plus its dist-info."""
    package = folder / "acme_audit"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        textwrap.dedent("""
        from auditbridge import EventData, Mapper, UserIdentity, hookimpl
        from auditbridge.timestamps import to_event_time

        def map_acme(event, context):
            item = event.detail
            return EventData(version="1", userIdentity=UserIdentity(type="User", principalId=str(item["user"])),
                             eventSource="acme.audit", eventName=str(item["action"]),
                             eventTime=to_event_time(str(item["at"])), UID=str(item["id"]),
                             recipientAccountId=context.recipient_account_id)

        @hookimpl
        def register_mappers(register):
            register(Mapper(name="acme", sources=("aws.partner/acme.example/*",), map_event=map_acme))
    """)
    )
    info = folder / "acme_audit-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-audit\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[auditbridge]\nacme = acme_audit\n")
    return str(folder)


def put_events(bus: str, source: str, details: list[dict]) -> None:
    events = boto3.client("events")
    for start in range(0, len(details), 10):
        entries = [
            {"EventBusName": bus, "Source": source, "DetailType": "SystemLog", "Detail": json.dumps(d)}
            for d in details[start : start + 10]
        ]
        assert events.put_events(Entries=entries)["FailedEntryCount"] == 0


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_end_to_end_partner_bus_to_channel_with_parking_and_redrive(code_bucket, auditbridge_cloudtrail_data, tmp_path):
    events = boto3.client("events")
    events.create_event_bus(Name="okta-partner")
    events.create_event_bus(Name="acme-partner")
    outputs = deploy(
        "auditbridge",
        code_bucket,
        PartnerEventBusName="okta-partner",
        AdditionalEventBus1="acme-partner",
        ChannelArn=auditbridge_cloudtrail_data.channel_arn,
        ConsumerMode="worker",
    )
    assert "IngestFunctionName" not in outputs  # containers consume the queue in worker mode
    queue, dlq, channel = (
        outputs["IngestQueueUrl"],
        outputs["DeadLetterQueueUrl"],
        auditbridge_cloudtrail_data.channel_arn,
    )

    good = [okta_log_event() for _ in range(25)]
    impossible = [okta_log_event(published="2025-02-30T10:00:00Z") for _ in range(2)]
    put_events("okta-partner", OKTA_SOURCE, good + impossible)
    acme = [{"id": f"acme-{i}", "user": "u-1", "action": "repo.delete", "at": "2025-06-01T10:00:00Z"} for i in range(3)]
    put_events("acme-partner", ACME_SOURCE, acme)

    first = worker(queue, dlq, channel, "--until-empty", "--batch-size", "10")
    assert first.returncode == 0, first.stderr
    assert "30 messages" in first.stdout and "25 sent" in first.stdout and "5 parked" in first.stdout
    stored = {json.loads(e.event_data)["UID"] for e in auditbridge_cloudtrail_data.stored.events}
    assert stored == {e["uuid"] for e in good}

    inspected = cli("dlq", "inspect", "--dlq-url", dlq)
    assert inspected.returncode == 0, inspected.stderr
    assert "5 parked messages" in inspected.stdout
    assert any(line.split()[:3] == ["UnknownSource", ACME_SOURCE, "3"] for line in inspected.stdout.splitlines())
    assert any(line.split()[:3] == ["InvalidTimestamp", OKTA_SOURCE, "2"] for line in inspected.stdout.splitlines())
    assert "Personal" not in inspected.stdout and '"detail"' not in inspected.stdout  # no bodies unless asked

    # The fix: install the acme plugin, then move only its events back.
    moved = cli(
        "dlq",
        "redrive",
        "--dlq-url",
        dlq,
        "--to",
        queue,
        "--reason",
        "UnknownSource",
        "--source",
        "aws.partner/acme.example/*",
    )
    assert moved.returncode == 0 and "moved 3 messages" in moved.stdout and "2 did not match" in moved.stdout
    second = worker(queue, dlq, channel, "--until-empty", pythonpath=acme_plugin(tmp_path / "site"))
    assert second.returncode == 0, second.stderr
    assert "3 sent" in second.stdout
    stored = [json.loads(e.event_data) for e in auditbridge_cloudtrail_data.stored.events]
    assert sorted(e["UID"] for e in stored if e["eventSource"] == "acme.audit") == ["acme-0", "acme-1", "acme-2"]
    assert len(stored) == 28  # nothing twice
    left = cli("dlq", "inspect", "--dlq-url", dlq)
    assert "2 parked messages" in left.stdout and "InvalidTimestamp" in left.stdout


def test_workers_share_a_queue_and_sigterm_finishes_the_batch_in_hand(
    auditbridge_aws, auditbridge_cloudtrail_data, tmp_path
):
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="shared", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    dlq = sqs.create_queue(QueueName="shared-dlq")["QueueUrl"]
    from auditbridge_okta.samples import eventbridge_envelope, synthetic_log_events

    bodies = [json.dumps(eventbridge_envelope(e, OKTA_SOURCE)) for e in synthetic_log_events(200, seed=5)]
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        )
    command = worker_command(
        queue, dlq, auditbridge_cloudtrail_data.channel_arn, "--batch-size", "20", "--wait-seconds", "1"
    )
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log.open("w"), text=True) for log in logs]
    deadline = time.monotonic() + 60
    # Once it failed 1 run in 9: one worker took all 200 messages before the other had even
    # installed its SIGTERM handler, and the signal killed that one outright. Wait for both.
    while not all("worker ready" in log.read_text() for log in logs) and time.monotonic() < deadline:
        time.sleep(0.1)
    while len(auditbridge_cloudtrail_data.stored.events) < 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    for process in workers:
        process.send_signal(signal.SIGTERM)
    outputs = [
        (process.communicate(timeout=30)[0], log.read_text()) for process, log in zip(workers, logs, strict=True)
    ]
    assert [p.returncode for p in workers] == [0, 0], outputs
    assert all("stopped: signal" in out for out, _ in outputs)
    uids = [json.loads(e.event_data)["UID"] for e in auditbridge_cloudtrail_data.stored.events]
    assert len(set(uids)) == 200
    received = [int(out.split(" messages")[0].replace(",", "")) for out, _ in outputs]
    # SQS delivers at least once, and moto's ReceiveMessage has no lock: two workers polling at
    # the same moment can both receive one message (seen 1 run in 9). The workers' own part is
    # exact: one stored event per message received, nothing sent twice by a retry. Without a
    # delivered-set table, a message SQS delivers twice is stored twice (docs/operations.md).
    assert len(uids) == sum(received) >= 200
    left = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    assert left["Attributes"] == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_max_messages_stops_after_that_many(auditbridge_aws, auditbridge_cloudtrail_data):
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="bounded")["QueueUrl"]
    for _ in range(15):
        sqs.send_message(
            QueueUrl=queue,
            MessageBody=json.dumps({"source": OKTA_SOURCE, "detail-type": "SystemLog", "detail": okta_log_event()}),
        )
    done = cli(
        "worker",
        "--queue-url",
        queue,
        "--channel-arn",
        auditbridge_cloudtrail_data.channel_arn,
        "--max-messages",
        "10",
        "--wait-seconds",
        "1",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("10 messages") and "--max-messages 10" in done.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [
                "worker",
                "--queue-url",
                "not-a-url",
                "--channel-arn",
                "arn:aws:cloudtrail:us-east-1:123456789012:channel/x",
            ],
            "is not a queue URL",
        ),
        (
            [
                "worker",
                "--queue-url",
                "http://127.0.0.1:9/123456789012/q",
                "--channel-arn",
                "arn:aws:cloudtrail:us-east-1:123456789012:channel/x",
            ],
            "QueueUnavailable",
        ),
        (
            [
                "worker",
                "--queue-url",
                "https://sqs.us-east-1.amazonaws.com/1/q",
                "--until-empty",
                "--max-messages",
                "3",
            ],
            "not allowed with argument",
        ),
        (["dlq", "redrive", "--dlq-url", "dlq"], "the following arguments are required: --to"),
        (["dlq", "inspect", "--dlq-url", "ftp://x"], "is not a queue URL"),
    ],
)
def test_malformed_arguments_and_unreachable_endpoints_give_clear_errors(auditbridge_aws, argv, message):
    done = cli(*argv)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_the_stack_sends_to_cloudwatch_logs_with_a_delivered_table_and_no_channel(code_bucket, monkeypatch):
    from auditbridge import lambda_handler
    from lambda_support import LambdaContext

    boto3.client("events").create_event_bus(Name="okta-partner")
    outputs = deploy(
        "audit-logs",
        code_bucket,
        PartnerEventBusName="okta-partner",
        EventsLogGroupName="/auditbridge/events",
        EnableDeliveredTable="true",
    )
    variables = boto3.client("lambda").get_function_configuration(FunctionName=outputs["IngestFunctionName"])[
        "Environment"
    ]["Variables"]
    assert "AUDITBRIDGE_CHANNEL_ARN" not in variables
    assert variables["AUDITBRIDGE_DESTINATIONS"] == "cloudwatch-logs:/auditbridge/events,"
    assert variables["AUDITBRIDGE_DELIVERED_TABLE"] == outputs["DeliveredTableName"]
    # moto's CloudFormation does not apply TimeToLiveSpecification; the template states it.
    table = template()["Resources"]["DeliveredTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}

    # The function's own environment, run here against the same moto server.
    for name in ("AUDITBRIDGE_DESTINATIONS", "AUDITBRIDGE_DELIVERED_TABLE", "AUDITBRIDGE_DLQ_URL"):
        monkeypatch.setenv(name, variables[name])
    lambda_handler.runtime.cache_clear()
    records = [sqs_record(eventbridge_event(okta_log_event())) for _ in range(3)]
    try:
        for _ in range(2):  # SQS delivering the batch twice: the delivered set keeps one copy
            assert lambda_handler.handler({"Records": records}, LambdaContext()) == {"batchItemFailures": []}
    finally:
        lambda_handler.runtime.cache_clear()
    logs = boto3.client("logs")
    streams = logs.describe_log_streams(logGroupName="/auditbridge/events")["logStreams"]
    stored = [
        event
        for stream in streams
        for event in logs.get_log_events(logGroupName="/auditbridge/events", logStreamName=stream["logStreamName"])[
            "events"
        ]
    ]
    assert len(stored) == 3
    assert boto3.client("dynamodb").scan(TableName=outputs["DeliveredTableName"])["Count"] == 3


def test_the_template_grants_each_destination_exactly_what_it_needs():
    doc = template()
    raw = doc["Resources"]["IngestFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    conditional = {s[1]["Sid"]: (s[0], s[1]["Action"]) for s in raw if isinstance(s, list)}
    assert conditional["PutAuditEventsOnTheChannelOnly"] == ("HasChannel", "cloudtrail-data:PutAuditEvents")
    assert conditional["WriteEventsToTheEventsLogGroupOnly"] == (
        "HasEventsLogGroup",
        ["logs:CreateLogStream", "logs:PutLogEvents"],
    )
    assert conditional["PutRecordsOnTheStreamOnly"] == ("UseFirehose", "firehose:PutRecordBatch")
    assert conditional["ReadAndRecordDeliveries"] == (
        "UseDeliveredTable",
        ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"],
    )
    queries = [r for r in doc["Resources"].values() if r["Type"] == "AWS::Athena::NamedQuery"]
    assert any(
        "element_at(eventData.userIdentity.details, 'alternateId')" in q["Properties"]["QueryString"] for q in queries
    )


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_the_stack_adds_the_pull_function_with_its_checkpoint_table(code_bucket):
    boto3.client("events").create_event_bus(Name="okta-partner")
    settings = "org=https://acme.okta.com&token=ssm:/auditbridge/pull/okta-token"
    outputs = deploy(
        "audit-pull",
        code_bucket,
        PartnerEventBusName="okta-partner",
        EventsLogGroupName="/auditbridge/events",
        PullCollector="okta",
        PullSettings=settings,
    )
    function = boto3.client("lambda").get_function_configuration(FunctionName=outputs["PullFunctionName"])
    assert function["Handler"] == "auditbridge.collect_handler.handler"
    variables = function["Environment"]["Variables"]
    assert variables["AUDITBRIDGE_COLLECTOR"] == "okta"
    assert variables["AUDITBRIDGE_COLLECTOR_SETTINGS"] == settings
    assert variables["AUDITBRIDGE_CHECKPOINT_TABLE"] == outputs["CheckpointTableName"]
    assert variables["AUDITBRIDGE_DESTINATIONS"] == "cloudwatch-logs:/auditbridge/events,"
    concurrency = boto3.client("lambda").get_function_concurrency(FunctionName=outputs["PullFunctionName"])
    assert concurrency["ReservedConcurrentExecutions"] == 1
    doc = template()["Resources"]
    assert doc["PullSchedule"]["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    statements = doc["PullFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    plain = {s["Sid"]: s["Action"] for s in statements if isinstance(s, dict)}
    assert plain["ReadAndAdvanceTheCheckpoint"] == ["dynamodb:GetItem", "dynamodb:PutItem"]
