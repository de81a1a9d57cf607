"""Benchmark of the Lambda handler's path, as ratios measured in one run (`make bench`).

* Handler: ``auditbridge.lambda_handler.handler`` over SQS batches of synthetic Okta events:
  parse, dispatch, map, validate, pack, and PutAuditEvents to the loopback endpoint, which
  runs in its own process (as the real service would be elsewhere).
* Baseline: ``orjson.loads`` + ``orjson.dumps`` of the same message bodies.
* PutAuditEvents calls made, against the least possible for the same batches.
* Cold start: importing the handler module in a fresh interpreter, against a bare interpreter.

Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import orjson

CHANNEL_ARN = "arn:aws:cloudtrail:us-east-1:123456789012:channel/auditbridge-bench"
SOURCE = "aws.partner/okta.com/example-corp/auditbridge-bench"


@dataclass
class LambdaContext:
    function_name: str = "auditbridge-bench"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:auditbridge-bench"
    aws_request_id: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def make_batches(count: int, batch_size: int) -> list[dict[str, Any]]:
    from auditbridge_okta.samples import eventbridge_envelope, synthetic_log_events

    records = [
        {
            "messageId": f"m-{index}",
            "receiptHandle": "r",
            "body": orjson.dumps(eventbridge_envelope(log_event, SOURCE)).decode(),
            "attributes": {},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
        }
        for index, log_event in enumerate(synthetic_log_events(count, seed=11))
    ]
    return [{"Records": records[i : i + batch_size]} for i in range(0, len(records), batch_size)]


def start_endpoint() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "auditbridge.endpoint", "--test-control", "--channel", CHANNEL_ARN],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    return process, url


def reset_endpoint(url: str) -> int:
    import urllib.request

    with urllib.request.urlopen(url + "/_auditbridge/events", timeout=30) as response:
        requests = int(orjson.loads(response.read())["requests"])
    urllib.request.urlopen(urllib.request.Request(url + "/_auditbridge/events", method="DELETE"), timeout=30).close()
    return requests


def time_baseline(batches: list[dict[str, Any]]) -> float:
    bodies = [record["body"] for batch in batches for record in batch["Records"]]
    started = time.perf_counter()
    for body in bodies:
        orjson.dumps(orjson.loads(body))
    return time.perf_counter() - started


def time_handler(batches: list[dict[str, Any]]) -> tuple[float, int, float]:
    """Wall time, batch item failures, and this process's CPU time (the endpoint's excluded)."""
    from auditbridge import lambda_handler

    context = LambdaContext()
    failures = 0
    sink = io.StringIO()
    started, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(sink):  # EMF metrics and logs go to stdout in Lambda too
        for batch in batches:
            failures += len(lambda_handler.handler(batch, context)["batchItemFailures"])
    return time.perf_counter() - started, failures, time.process_time() - cpu


def least_calls(batches: list[dict[str, Any]]) -> int:
    """Per batch: whichever limit binds, 100 entries or 1 MB of entries."""
    from auditbridge.lambda_handler import runtime

    total = 0
    preparer = runtime().pipeline.preparer
    from auditbridge.messages import InboundMessage
    from auditbridge.preparation import Prepared

    for batch in batches:
        entries = [preparer.prepare(InboundMessage.from_lambda_record(r)) for r in batch["Records"]]
        sizes = [p.entry.wire_size for p in entries if isinstance(p, Prepared)]
        total += max(math.ceil(len(sizes) / 100), math.ceil(sum(sizes) / 1_000_000))
    return total


def cold_start_ms(module: str | None, runs: int = 7) -> float:
    code = f"import {module}" if module else "pass"
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=1_000, help="SQS records per invocation")
    parser.add_argument("--rounds", type=int, default=3, help="best of N for each measurement")
    args = parser.parse_args()

    endpoint, url = start_endpoint()
    os.environ.update(
        AUDITBRIDGE_CHANNEL_ARN=CHANNEL_ARN,
        AWS_ENDPOINT_URL_CLOUDTRAIL_DATA=url,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_METRICS_NAMESPACE="AuditBridgeBench",
    )
    os.environ.pop("AUDITBRIDGE_DLQ_URL", None)
    try:
        batches = make_batches(args.events, args.batch_size)
        events = sum(len(b["Records"]) for b in batches)
        body_bytes = sum(len(r["body"]) for b in batches for r in b["Records"])
        time_handler(batches[:1])  # warm: plugins, boto3 client, connection
        reset_endpoint(url)

        baseline = min(time_baseline(batches) for _ in range(args.rounds))
        handler_runs = []
        for _ in range(args.rounds):
            elapsed, failures, cpu = time_handler(batches)
            calls = reset_endpoint(url)
            handler_runs.append((elapsed, failures, calls, cpu))
        handler, failures, calls, cpu = min(handler_runs)
        minimum = least_calls(batches)
    finally:
        endpoint.terminate()
        endpoint.wait(timeout=10)

    bare, lean = cold_start_ms(None), cold_start_ms("auditbridge.lambda_handler")
    print(
        f"events: {events:,} Okta events in {len(batches)} SQS batches of {args.batch_size:,} "
        f"({body_bytes / events:,.0f} bytes per body on average)"
    )
    print(f"baseline  orjson loads+dumps : {events / baseline:>10,.0f} events/s")
    print(f"handler   full Lambda path   : {events / handler:>10,.0f} events/s  (batch item failures: {failures})")
    print(f"ratio     handler / baseline : {baseline / handler:>10.3f}  (goal: >= 0.333)")
    print(
        f"handler CPU in this process  : {cpu / events * 1e6:>10.1f} us/event "
        f"(the rest of {handler / events * 1e6:.1f} us/event is waiting for the endpoint)"
    )
    print(f"PutAuditEvents calls         : {calls:>10,}  (least possible: {minimum:,})")
    print(f"cold start: import handler   : {lean - bare:>10.0f} ms over a bare interpreter ({bare:.0f} ms)")


if __name__ == "__main__":
    main()
