"""Benchmark of each built-in AWS destination, as ratios measured in one run (`make bench`).

For CloudWatch Logs and Firehose (to S3): 20,000 synthetic Okta events in batches of 1,000
through the whole pipeline (parse, map, validate, pack, send) to a moto server on loopback.
Printed per destination: calls made against the least possible for the same batches (whichever
limit binds: records or bytes per call), and events per second against ``orjson.loads`` +
``orjson.dumps`` of the same bodies. moto stands in for the services, so the absolute rates say
little about AWS; the call counts are exact.

Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import orjson

SOURCE = "aws.partner/okta.com/example-corp/auditbridge-bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=1_000)
    args = parser.parse_args()

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    for service in ("CLOUDWATCH_LOGS", "FIREHOSE", "S3", "IAM"):
        os.environ[f"AWS_ENDPOINT_URL_{service}"] = url
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    try:
        run(args.events, args.batch_size)
    finally:
        server.stop()


def run(count: int, batch_size: int) -> None:
    import boto3
    from auditbridge.messages import Disposition, InboundMessage
    from auditbridge.pipeline import Pipeline
    from auditbridge.plugins import get_mapper_registry, get_sink_registry
    from auditbridge.preparation import Prepared
    from auditbridge.sinks import limits_of, record_size
    from auditbridge_okta.samples import eventbridge_envelope, synthetic_log_events

    boto3.client("logs").create_log_group(logGroupName="/bench")
    boto3.client("s3").create_bucket(Bucket="bench")
    role = boto3.client("iam").create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("firehose").create_delivery_stream(
        DeliveryStreamName="bench",
        ExtendedS3DestinationConfiguration={"RoleARN": role, "BucketARN": "arn:aws:s3:::bench"},
    )
    bodies = [orjson.dumps(eventbridge_envelope(e, SOURCE)).decode() for e in synthetic_log_events(count, seed=11)]
    batches = [bodies[i : i + batch_size] for i in range(0, len(bodies), batch_size)]

    started = time.perf_counter()
    for body in bodies:
        orjson.dumps(orjson.loads(body))
    baseline = time.perf_counter() - started

    print(f"events: {count:,} Okta events in {len(batches)} batches of {batch_size:,}")
    print(f"baseline  orjson loads+dumps : {count / baseline:>10,.0f} events/s")
    for address in ("cloudwatch-logs:/bench", "firehose:bench"):
        sink = get_sink_registry().build(address)
        pipeline = Pipeline(get_mapper_registry(), sink, recipient_account_id="123456789012")
        limits = limits_of(sink)
        calls = least = sent = 0
        started = time.perf_counter()
        for number, batch in enumerate(batches):
            messages = [InboundMessage(f"{number}-{i}", body) for i, body in enumerate(batch)]
            prepared = [pipeline.prepare(message) for message in messages]
            entries = [p.entry for p in prepared if isinstance(p, Prepared)]
            sizes = [record_size(sink, e) + limits.record_overhead for e in entries]
            least += max(
                math.ceil(len(entries) / limits.max_records),
                math.ceil((sum(sizes) + limits.request_overhead) / limits.max_request_bytes),
            )
            report = pipeline.deliver(prepared, deadline=_no_deadline())
            calls += report.requests
            sent += report.count(Disposition.SENT)
        elapsed = time.perf_counter() - started
        print(
            f"{address:<24} calls {calls:>5,} (least possible {least:,}); {sent:,} sent; "
            f"{count / elapsed:>8,.0f} events/s, ratio to baseline {baseline / elapsed:.3f}"
        )


def _no_deadline():  # type: ignore[no-untyped-def]
    from auditbridge.retry import Deadline

    return Deadline.none()


if __name__ == "__main__":
    main()
