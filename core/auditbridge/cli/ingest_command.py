"""``auditbridge ingest``: the Lambda's pipeline over files, into the local lake by default."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import chain, islice
from pathlib import Path
from typing import Any

from auditbridge.cli.common import add_lake_option, open_lake
from auditbridge.config import CHANNEL_ARN_ENV, ChannelArn
from auditbridge.dead_letters import JsonLinesDeadLetters
from auditbridge.errors import ConfigurationError
from auditbridge.inputs import read_messages
from auditbridge.messages import Disposition, InboundMessage
from auditbridge.pipeline import BatchReport, Pipeline
from auditbridge.plugins import get_mapper_registry
from auditbridge.retry import Deadline


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "ingest",
        help="run the ingest pipeline over files of EventBridge or SQS events",
        description="Dispatch, map, validate, pack, send and park, exactly as the Lambda does, over files of "
        "EventBridge events or SQS events; into the local lake unless --sink cloudtrail-lake. Rejected events "
        "go to a dead-letter JSON-lines file beside the lake; the exit status is 1 when any was rejected.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="input files; '-' or none reads stdin")
    add_lake_option(parser)
    parser.add_argument(
        "--event-data-store",
        metavar="ID",
        help="local store id, ARN or name; a new UUID creates that store (default: 'default')",
    )
    parser.add_argument("--sink", choices=("local", "cloudtrail-lake"), default="local", help="where events go")
    parser.add_argument(
        "--channel-arn", default=os.environ.get(CHANNEL_ARN_ENV), help=f"the channel (default: ${CHANNEL_ARN_ENV})"
    )
    parser.add_argument("--batch-size", type=int, default=1000, help="messages per pipeline batch (like SQS)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=default_jobs(),
        help=f"processes preparing events for the local lake, for inputs of {PARALLEL_FROM_BATCHES} batches or more "
        f"(files: of {PARALLEL_FROM_BATCHES} x --batch-size kB or more); 1 prepares them in this process "
        f"(default: one per CPU, at most {MAX_DEFAULT_JOBS})",
    )
    parser.set_defaults(run=run)


#: Below this many batches, starting processes (about half a second) costs more than it saves.
#: Files are judged by size, at about a kilobyte an event (Okta's are 1.5 to 3 kB).
PARALLEL_FROM_BATCHES = 4
TYPICAL_EVENT_BYTES = 1_000
#: The processes talk over a socket pair handed down as a file descriptor: POSIX only.
PROCESSES_SUPPORTED = os.name == "posix"
MAX_DEFAULT_JOBS = 8


def default_jobs() -> int:
    """One preparation process per CPU this process may run on (one on Windows: see ``ingest_processes``)."""
    if not PROCESSES_SUPPORTED:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_JOBS))


def run(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise ConfigurationError("--batch-size must be at least 1", code="InvalidArgument")
    if args.jobs < 1:
        raise ConfigurationError("--jobs must be at least 1", code="InvalidArgument")
    if args.jobs > 1 and not PROCESSES_SUPPORTED:
        raise ConfigurationError("--jobs above 1 needs Linux or macOS", code="InvalidArgument")
    lake = open_lake(args) if args.sink == "local" else None
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = lake.path if lake is not None else Path("auditbridge")
    dead_letters = JsonLinesDeadLetters(base.with_name(f"{base.stem}.rejected-{started}.jsonl"))
    if lake is not None:
        with lake.hold():
            store = (
                lake.get_store(args.event_data_store, create=True) if args.event_data_store else lake.default_store()
            )
            counts, requests = _ingest_locally(lake, store, args, dead_letters)
        destination = f"event data store {store.id} ({store.name}) in {lake.path}"
        calls = "write" if requests == 1 else "writes"
    else:
        if not args.channel_arn:
            raise ConfigurationError(
                "--sink cloudtrail-lake needs --channel-arn or AUDITBRIDGE_CHANNEL_ARN", code="MissingConfiguration"
            )
        from auditbridge.sinks.cloudtrail_lake import CloudTrailLakeSink

        channel = ChannelArn.parse(args.channel_arn)
        pipeline = Pipeline(
            get_mapper_registry(),
            CloudTrailLakeSink(channel, os.environ.get("AUDITBRIDGE_EXTERNAL_ID") or None),
            recipient_account_id=channel.account_id,
            channel_arn=channel.arn,
            dead_letters=dead_letters,
        )
        counts, requests = _ingest(pipeline, _batches(args), _progress(args))
        destination = f"channel {channel.arn}"
        calls = "PutAuditEvents request" if requests == 1 else "PutAuditEvents requests"
    return _summary(counts, requests, calls, destination, dead_letters)


def _ingest_locally(
    lake: Any, store: Any, args: argparse.Namespace, dead_letters: JsonLinesDeadLetters
) -> tuple[Counter[str], int]:
    channel = ChannelArn.parse(args.channel_arn or store.channel_arn)
    batches = _batches(args)
    size = _input_bytes(args.files)
    if size is not None:  # files: known before reading, so the processes start while they are read
        parallel = size >= PARALLEL_FROM_BATCHES * args.batch_size * TYPICAL_EVENT_BYTES
    else:  # standard input: count its first batches
        first = list(islice(batches, PARALLEL_FROM_BATCHES))
        batches = chain(first, batches)
        parallel = len(first) == PARALLEL_FROM_BATCHES
    if parallel and args.jobs > 1:
        from auditbridge.cli.ingest_processes import ingest_in_processes

        return ingest_in_processes(
            lake, store, channel.arn, channel.account_id, batches, args.jobs, dead_letters, _progress(args)
        )
    from auditbridge.sinks.local_lake import LocalLakeSink

    pipeline = Pipeline(
        get_mapper_registry(),
        LocalLakeSink(lake, store, channel.arn),
        recipient_account_id=channel.account_id,
        channel_arn=channel.arn,
        dead_letters=dead_letters,
        # Several requests in flight: those that arrive while one is being written are committed with it.
        max_in_flight=4,
    )
    return _ingest(pipeline, batches, _progress(args))


def _batches(args: argparse.Namespace) -> Iterator[list[InboundMessage]]:
    messages = read_messages(args.files)
    while batch := list(islice(messages, args.batch_size)):
        yield batch


def _progress(args: argparse.Namespace) -> Progress | None:
    return Progress(_input_bytes(args.files)) if sys.stderr.isatty() else None


def _ingest(
    pipeline: Pipeline, batches: Iterable[list[InboundMessage]], progress: Progress | None
) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    requests = 0
    for batch in batches:
        report = pipeline.run(batch, Deadline.none())
        requests += report.requests
        tally(report, counts)
        if report.configuration_error is not None:
            raise report.configuration_error
        if progress is not None:
            progress.update(counts["read"], sum(len(m.body) for m in batch))
    if progress is not None:
        progress.finish()
    return counts, requests


def tally(report: BatchReport, counts: Counter[str]) -> None:
    """Add a batch's outcomes to the summary's counts: read, each disposition, ``reason:<code>``."""
    for outcome in report.outcomes:
        counts["read"] += 1
        counts[outcome.disposition.value] += 1
        if outcome.error is not None:
            counts[f"reason:{outcome.error.code}"] += 1


def _input_bytes(files: list[str]) -> int | None:
    """Total size of the inputs, when they are files (not standard input)."""
    if not files or "-" in files:
        return None
    return sum(Path(name).stat().st_size for name in files)


class Progress:
    """A progress bar on stderr; by bytes of input when known, else a running count."""

    width = 30

    def __init__(self, total_bytes: int | None) -> None:
        self.total = total_bytes
        self.done = 0
        self.started = time.monotonic()

    def update(self, events: int, body_bytes: int) -> None:
        self.done += body_bytes
        rate = events / max(time.monotonic() - self.started, 1e-9)
        line = f"{events:,} events, {rate:,.0f}/s"
        if self.total:
            # Bodies are a little smaller than the files holding them, so the bar never overshoots.
            share = min(1.0, self.done / self.total)
            filled = int(share * self.width)
            line = f"[{'#' * filled}{'.' * (self.width - filled)}] {share:4.0%} " + line
        sys.stderr.write("\r" + line + " ")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.total:
            self.done = self.total
        sys.stderr.write("\n")


def _summary(
    counts: Counter[str], requests: int, calls: str, destination: str, dead_letters: JsonLinesDeadLetters
) -> int:
    rejected = counts[Disposition.PARKED.value] + counts[Disposition.FAILED.value]
    print(
        f"read {counts['read']:,} events: sent {counts['sent']:,} to {destination} in {requests:,} "
        f"{calls}, {counts['duplicate']:,} duplicates, {rejected:,} rejected"
    )
    reasons = sorted(
        ((k.split(":", 1)[1], v) for k, v in counts.items() if k.startswith("reason:")),
        key=lambda item: (-item[1], item[0]),
    )
    for code, count in reasons:
        print(f"  {count:>8,}  {code}")
    if dead_letters.count:
        print(f"rejected events and their reasons: {dead_letters.path}")
    if counts[Disposition.FAILED.value]:
        print(f"{counts['failed']:,} events failed for now (retriable); run the same input again", file=sys.stderr)
    return 1 if rejected else 0
