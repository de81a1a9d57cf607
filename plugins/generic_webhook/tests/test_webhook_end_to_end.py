"""A signed POST through the stack: intake -> webhook bus -> rule -> ingest queue -> worker -> PutAuditEvents.

moto runs the stack's AWS side over HTTP; the intake runs as `auditbridge webhook serve` does (moto
cannot run Lambda functions, so the function URL is not exercised here; the same Intake is).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).parents[3]
SECRET = "e2e-github-secret"


def deploy(channel_arn: str) -> dict[str, str]:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="code")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:  # moto stores the code but never runs it
        bundle.writestr("README.txt", "placeholder")
    s3.put_object(Bucket="code", Key="auditbridge-lambda.zip", Body=archive.getvalue())
    boto3.client("events").create_event_bus(Name="okta-partner")
    cloudformation = boto3.client("cloudformation")
    parameters = {
        "PartnerEventBusName": "okta-partner",
        "ChannelArn": channel_arn,
        "CodeS3Bucket": "code",
        "ConsumerMode": "worker",
        "EnableWebhookIntake": "true",
    }
    cloudformation.create_stack(
        StackName="ab",
        TemplateBody=(ROOT / "deploy" / "template.yaml").read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName="ab")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_signed_github_webhook_reaches_the_channel(auditbridge_aws, auditbridge_cloudtrail_data, tmp_path):
    outputs = deploy(auditbridge_cloudtrail_data.channel_arn)
    intake_function = boto3.client("lambda").get_function_configuration(
        FunctionName=outputs["WebhookIntakeFunctionName"]
    )
    assert intake_function["Handler"] == "auditbridge_generic_webhook.lambda_handler.handler"
    assert intake_function["Environment"]["Variables"]["AUDITBRIDGE_WEBHOOK_BUS"] == outputs["WebhookBusName"]

    config = tmp_path / "sources.yaml"
    config.write_text(
        "sources:\n  github:\n    preset: github\n    verification: {scheme: github, secret: 'env:E2E_GITHUB_SECRET'}\n"
    )
    env = {**os.environ, "E2E_GITHUB_SECRET": SECRET}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "auditbridge.cli.main",
            "webhook",
            "serve",
            "--port",
            "0",
            "--config",
            str(config),
            "--bus",
            outputs["WebhookBusName"],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[3].rstrip(";")
        body = json.dumps(
            {
                "action": "deleted",
                "repository": {"full_name": "acme/payments"},
                "sender": {"login": "octo", "id": 7, "type": "User"},
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "repository",
            "X-GitHub-Delivery": "0b7c9d2e-e2e0-11ef-9f00-0242ac120002",
            "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
        }
        with urllib.request.urlopen(
            urllib.request.Request(url + "/github", body, headers, method="POST"), timeout=10
        ) as r:
            assert json.loads(r.read()) == {"accepted": 1}
        forged = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64, "X-GitHub-Delivery": "other"}
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url + "/github", body, forged, method="POST"), timeout=10)
        assert refused.value.code == 401
    finally:
        server.terminate()
        server.wait(timeout=10)

    worker = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditbridge.cli.main",
            "worker",
            "--queue-url",
            outputs["IngestQueueUrl"],
            "--dlq-url",
            outputs["DeadLetterQueueUrl"],
            "--channel-arn",
            auditbridge_cloudtrail_data.channel_arn,
            "--until-empty",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert worker.returncode == 0, worker.stderr
    assert worker.stdout.startswith("1 messages") and "1 sent" in worker.stdout
    [stored] = auditbridge_cloudtrail_data.stored.events
    data = json.loads(stored.event_data)
    assert stored.entry_id == "0b7c9d2e-e2e0-11ef-9f00-0242ac120002"
    assert (data["eventSource"], data["eventName"], data["userIdentity"]["principalId"]) == (
        "github.com",
        "repository.deleted",
        "octo",
    )
    assert data["requestParameters"]["repository"] == "acme/payments"
    assert time.time() - time.mktime(time.strptime(data["eventTime"], "%Y-%m-%dT%H:%M:%SZ")) < 86400 + 60
