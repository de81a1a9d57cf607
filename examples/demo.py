"""`make demo`: the main job on a laptop, no AWS account, no network.

1. Maps the bundled synthetic Okta events with `auditbridge map` (exactly what the Lambda
   does before sending) and prints them.
2. Runs the whole pipeline -- dispatch, map, validate, pack, PutAuditEvents -- against the
   CloudTrail-Data-compatible endpoint that auditbridge serves on loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
SAMPLES = HERE / "okta-sample-events.jsonl"
CHANNEL_ARN = "arn:aws:cloudtrail:us-east-1:123456789012:channel/auditbridge-demo"


def map_samples() -> list[dict[str, object]]:
    command = [str(Path(sys.executable).with_name("auditbridge")), "map", str(SAMPLES), "--channel-arn", CHANNEL_ARN]
    print("$ auditbridge map examples/okta-sample-events.jsonl --channel-arn", CHANNEL_ARN)
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our own CLI
    sys.stderr.write(result.stderr)
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    print(f"{len(entries)} PutAuditEvents entries; the first one, eventData decoded:\n")
    first = dict(entries[0])
    first["eventData"] = json.loads(str(first["eventData"]))
    print(json.dumps(first, indent=2)[:2500], "\n")
    print(f"{'eventTime':<22}{'user':<30}{'eventName':<36}{'errorCode'}")
    for entry in entries[:25]:
        data = json.loads(str(entry["eventData"]))
        user = data["userIdentity"].get("details", {}).get("alternateId", data["userIdentity"]["principalId"])
        print(f"{data['eventTime']:<22}{user:<30}{data['eventName']:<36}{data.get('errorCode', '')}")
    print(f"... and {len(entries) - 25} more\n")
    return entries


def send_samples() -> None:
    from auditbridge.config import ChannelArn
    from auditbridge.endpoint import Channel, CloudTrailDataService, LocalEndpoint
    from auditbridge.inputs import read_messages
    from auditbridge.pipeline import Pipeline
    from auditbridge.plugins import get_mapper_registry
    from auditbridge.sinks.cloudtrail_lake import CloudTrailLakeSink

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
    service = CloudTrailDataService([Channel(CHANNEL_ARN)])
    with LocalEndpoint(service) as endpoint:
        os.environ["AWS_ENDPOINT_URL_CLOUDTRAIL_DATA"] = endpoint.url
        channel = ChannelArn.parse(CHANNEL_ARN)
        pipeline = Pipeline(
            get_mapper_registry(),
            CloudTrailLakeSink(channel),
            recipient_account_id=channel.account_id,
            channel_arn=channel.arn,
        )
        report = pipeline.run(list(read_messages([str(SAMPLES)])))
    counts = Counter(outcome.disposition.value for outcome in report.outcomes)
    print(f"Sent through boto3 to the local PutAuditEvents endpoint at {endpoint.url}:")
    print(
        f"  {dict(counts)} in {report.requests} PutAuditEvents call(s); the service stored {len(service.store.events)}"
    )
    by_name = Counter(json.loads(event.event_data)["eventName"] for event in service.store.events)  # type: ignore[attr-defined]
    print("  events by eventName:")
    for name, count in by_name.most_common():
        print(f"    {count:>4}  {name}")


if __name__ == "__main__":
    map_samples()
    send_samples()
