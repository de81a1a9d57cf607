"""Benchmark of an Okta backfill: 100,000 events from the fake System Log API into the local lake.

The fake API runs in its own process (as Okta would be elsewhere). Printed: events per second for
the whole backfill, and the share of wall time spent waiting on the API (requests and reading
pages) against the time in auditbridge's own code (mapping, validation, the lake's writes).

Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path


def serve(count: int) -> None:
    from auditbridge_okta.fake_api import FakeOktaServer, FakeSystemLog, log_events

    api = FakeSystemLog()
    api.add(log_events(count, start=datetime.now(UTC) - timedelta(days=2), step_seconds=1))
    server = FakeOktaServer(api)
    print(server.url, flush=True)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    fake = subprocess.Popen([sys.executable, __file__, "--serve", str(args.events)], stdout=subprocess.PIPE, text=True)
    try:
        url = (fake.stdout.readline() if fake.stdout else "").strip()
        run(url, args.events)
    finally:
        fake.terminate()
        fake.wait(timeout=10)


def run(url: str, count: int) -> None:
    import os

    from auditbridge.assembly import build_pipeline, local_lakes_held
    from auditbridge.checkpoints import FileCheckpoints
    from auditbridge.collect import CollectRun
    from auditbridge.collectors import Collector, FetchRequest, Page
    from auditbridge.config import Destinations
    from auditbridge.dead_letters import JsonLinesDeadLetters
    from auditbridge_okta.collector import OKTA_COLLECTOR

    os.environ["OKTA_API_TOKEN"] = "fake-token"
    waiting = 0.0

    def timed_fetch(request: FetchRequest) -> Iterator[Page]:
        nonlocal waiting
        pages = OKTA_COLLECTOR.fetch(request)
        while True:
            started = time.perf_counter()
            try:
                page = next(pages)
            except StopIteration:
                waiting += time.perf_counter() - started
                return
            waiting += time.perf_counter() - started
            yield page

    collector = Collector(
        OKTA_COLLECTOR.name,
        OKTA_COLLECTOR.source,
        timed_fetch,
        OKTA_COLLECTOR.detail_type,
        OKTA_COLLECTOR.time_member,
        OKTA_COLLECTOR.id_member,
    )
    with tempfile.TemporaryDirectory() as folder:
        lake = Path(folder) / "lake.duckdb"
        pipeline = build_pipeline(
            Destinations.resolve([f"local:{lake}"]),
            dead_letters=JsonLinesDeadLetters(Path(folder) / "rejected.jsonl"),
            max_in_flight=1,
        )
        now = datetime.now(UTC)
        started = time.perf_counter()
        backfill = CollectRun(
            collector,
            pipeline,
            FileCheckpoints(Path(folder) / "checkpoints.json"),
            "bench",
            now - timedelta(days=3),
            now,
            settings={"org": url},
            account="000000000000",
        )
        with local_lakes_held(pipeline):
            progress = backfill.run()
        elapsed = time.perf_counter() - started
    print(
        f"backfill  {progress.events:,} events in {progress.pages:,} pages of 1,000: "
        f"{progress.events / elapsed:,.0f} events/s"
    )
    print(
        f"wall time {elapsed:.1f} s: {waiting / elapsed:.0%} waiting on the API (requests, reading pages), "
        f"{1 - waiting / elapsed:.0%} in auditbridge (mapping, validation, the lake's writes)"
    )
    assert progress.events == count, progress.describe()


if __name__ == "__main__":
    main()
