"""Benchmark of the Lambda handler's path, as ratios measured in one run (`make bench`).

* Events: synthetic Okta traffic of varied sizes; a share (``--large-share``, 2%) carries
  debug data large enough to be trimmed to fit additionalEventData's 28 kB.
* Handler: ``auditbridge.lambda_handler.handler`` over SQS batches of them: parse, dispatch,
  map, validate, pack, and PutAuditEvents to the loopback endpoint, which runs in its own
  process (as the real service would be elsewhere).
* Baseline: ``orjson.loads`` + ``orjson.dumps`` of the same message bodies; the ratio is printed
  warm, and with one cold start (a fresh interpreter's import and first invocation) added to the run.
* Stages: the handler's time per event split by stage (intake, map and validate, entry,
  deliver), each record taken through the first three in turn, then each batch delivered (its
  CPU time).
* PutAuditEvents calls made, against the least possible for the same batches.
* Cold start: a fresh interpreter importing the handler and running its first invocation,
  against one importing boto3 and creating two clients; and the import alone against a bare
  interpreter.

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


def make_batches(count: int, batch_size: int, large_share: float = 0.0) -> list[dict[str, Any]]:
    import random

    from auditbridge_okta.samples import eventbridge_envelope, synthetic_log_events

    rng = random.Random(13)
    records = []
    for index, log_event in enumerate(synthetic_log_events(count, seed=11)):
        if rng.random() < large_share:  # a verbose debugContext, over additionalEventData's 28 kB
            debug = log_event.setdefault("debugContext", {}).setdefault("debugData", {})
            debug.update({f"trace{n}": "x" * rng.randint(800, 1600) for n in range(30)})
        records.append(
            {
                "messageId": f"m-{index}",
                "receiptHandle": "r",
                "body": orjson.dumps(eventbridge_envelope(log_event, SOURCE)).decode(),
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
        )
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


def stage_cpu(batches: list[dict[str, Any]]) -> dict[str, float]:
    """The handler's time per event split by stage, each record taken through the stages in turn.

    Record by record, as the handler does (so each record's parsed objects are freed before the
    next, which keeps the allocator's memory warm), timed with ``perf_counter`` (read four times
    per record: well under 0.1 us per stage); then each batch delivered at once, its CPU time
    counted (sender threads included, the endpoint's answer time not).
    """
    from auditbridge.envelope import EventBridgeEvent
    from auditbridge.lambda_handler import runtime
    from auditbridge.messages import InboundMessage
    from auditbridge.preparation import Prepared, to_entry
    from auditbridge.retry import Deadline

    pipeline = runtime().pipeline
    preparer = pipeline.preparer
    clock = time.perf_counter
    intake = mapping = entries = delivering = 0.0
    for batch in batches:
        prepared = []
        for index, record in enumerate(batch["Records"]):
            started = clock()
            message = InboundMessage.from_lambda_record(record, index)
            event = EventBridgeEvent.from_json(message.body)
            parsed = clock()
            mapper = preparer.registry.resolve(event.source).mapper
            data = mapper.map_event(event, preparer._context_for(event))
            mapped = clock()
            entry = to_entry(data, source=event.source)
            done = clock()
            intake, mapping, entries = intake + parsed - started, mapping + mapped - parsed, entries + done - mapped
            prepared.append(Prepared(message, event.source, entry))
        started = time.process_time()  # CPU, sender threads included: not the endpoint's answer time
        pipeline.deliver(prepared, Deadline.none())
        delivering += time.process_time() - started
    count = sum(len(batch["Records"]) for batch in batches)
    return {
        name: seconds / count * 1e6
        for name, seconds in (
            ("intake", intake),
            ("map and validate", mapping),
            ("entry", entries),
            ("deliver", delivering),
        )
    }


def run_ms(code: str, runs: int = 7, env: dict[str, str] | None = None) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def cold_start_ms(module: str | None, runs: int = 7) -> float:
    return run_ms(f"import {module}" if module else "pass", runs)


FIRST_INVOCATION = """
import sys, orjson
from auditbridge import lambda_handler
event = orjson.loads(sys.argv[1] if len(sys.argv) > 1 else open(0).read())
class Context:
    def get_remaining_time_in_millis(self): return 60_000
    function_name = "auditbridge-bench"; memory_limit_in_mb = 1024; aws_request_id = "cold"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:auditbridge-bench"
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    assert lambda_handler.handler(event, Context())["batchItemFailures"] == []
"""
TWO_CLIENTS = "import boto3; boto3.client('sqs'); boto3.client('cloudtrail-data')"


def first_invocation_ms(batch: dict[str, Any], runs: int = 7) -> float:
    """A fresh interpreter: import the handler, build its runtime and handle one small batch."""
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "auditbridge-bench-cold-event.json")
    with open(path, "wb") as handle:
        handle.write(orjson.dumps(batch))
    code = FIRST_INVOCATION.replace("open(0).read()", f"open({path!r}).read()")
    try:
        return run_ms(code, runs, env=dict(os.environ))
    finally:
        os.unlink(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=1_000, help="SQS records per invocation")
    parser.add_argument("--rounds", type=int, default=3, help="best of N for each measurement")
    parser.add_argument("--large-share", type=float, default=0.02, help="share of events trimmed to fit")
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
        batches = make_batches(args.events, args.batch_size, args.large_share)
        events = sum(len(b["Records"]) for b in batches)
        body_bytes = sum(len(r["body"]) for b in batches for r in b["Records"])
        large = sum(1 for b in batches for r in b["Records"] if len(r["body"]) > 28_000)
        cold, clients = first_invocation_ms({"Records": batches[0]["Records"][:10]}), run_ms(TWO_CLIENTS)
        reset_endpoint(url)
        time_handler(batches[:1])  # warm: plugins, credentials, connection
        reset_endpoint(url)

        baseline = min(time_baseline(batches) for _ in range(args.rounds))
        handler_runs = []
        for _ in range(args.rounds):
            elapsed, failures, cpu = time_handler(batches)
            calls = reset_endpoint(url)
            handler_runs.append((elapsed, failures, calls, cpu))
        handler, failures, calls, cpu = min(handler_runs)
        stages = min((stage_cpu(batches) for _ in range(args.rounds)), key=lambda found: sum(found.values()))
        reset_endpoint(url)
        minimum = least_calls(batches)
    finally:
        endpoint.terminate()
        endpoint.wait(timeout=10)

    bare, lean = cold_start_ms(None), cold_start_ms("auditbridge.lambda_handler")
    print(
        f"events: {events:,} Okta events in {len(batches)} SQS batches of {args.batch_size:,} "
        f"({body_bytes / events:,.0f} bytes per body on average; {large:,} over 28 kB, trimmed)"
    )
    print(f"baseline  orjson loads+dumps : {events / baseline:>10,.0f} events/s")
    print(f"handler   full Lambda path   : {events / handler:>10,.0f} events/s  (batch item failures: {failures})")
    print(f"ratio     handler / baseline : {baseline / handler:>10.3f}  (target: >= 0.15, aim 0.33)")
    print(
        f"  with one cold start (import + first invocation) in these {events:,} events: "
        f"{baseline / (handler + cold / 1000):.3f}"
    )
    print(
        f"handler CPU in this process  : {cpu / events * 1e6:>10.1f} us/event "
        f"(wall {handler / events * 1e6:.1f} us/event; the rest is waiting for the endpoint)"
    )
    for name, micros in stages.items():
        print(f"  stage {name:<22} : {micros:>10.1f} us/event")
    print(f"  stages together              : {sum(stages.values()):>10.1f} us/event")
    print(f"PutAuditEvents calls         : {calls:>10,}  (least possible: {minimum:,})")
    print(
        f"cold start: import + first invocation {cold:.0f} ms, against import boto3 + two clients {clients:.0f} ms "
        f"(ratio {cold / clients:.2f}; target <= 1)"
    )
    print(f"cold start: import handler   : {lean - bare:>10.0f} ms over a bare interpreter ({bare:.0f} ms)")


if __name__ == "__main__":
    main()
