"""Benchmark of the local lake (`make bench`), as ratios measured in one run.

* Ingest: 100,000 synthetic Okta events through ``auditbridge ingest`` into a fresh lake
  (the Lambda's pipeline, the service's per-entry checks, one transaction per write of up to
  1,000 entries): with the default ``--jobs`` (one preparation process per CPU), then with
  ``--jobs 1`` (everything in one process) into another fresh lake.
* Query: the blog's "events per user" through ``auditbridge query``'s path (translate with
  sqlglot, look up the stores, run) against DuckDB running the equivalent SQL directly on an
  open connection: once with the lake held open for all the rounds (``LocalLake.reading()``,
  as a program running several queries does), once opening it for every query (as an
  ``auditbridge query`` command with one query does), and through ``auditbridge query`` given all
  the rounds' queries at once (the lake opened once, the output printed).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import tempfile
import time
from pathlib import Path

import orjson


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import duckdb
    from auditbridge.cli.ingest_command import default_jobs
    from auditbridge.cli.main import main as cli
    from auditbridge.lake.query import run_query
    from auditbridge.lake.store import LocalLake
    from auditbridge_okta.samples import eventbridge_envelope, synthetic_log_events

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "events.jsonl"
        with source.open("wb") as out:
            for log_event in synthetic_log_events(args.events, seed=3):
                out.write(orjson.dumps(eventbridge_envelope(log_event, "aws.partner/okta.com/bench/stream")) + b"\n")
        lake_path = Path(folder) / "bench.duckdb"

        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            status = cli(["ingest", str(source), "--lake", str(lake_path)])
        ingest = time.perf_counter() - started
        assert status == 0
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            status = cli(["ingest", str(source), "--lake", str(Path(folder) / "alone.duckdb"), "--jobs", "1"])
        alone = time.perf_counter() - started
        assert status == 0

        lake = LocalLake(lake_path)
        store = lake.default_store()
        sql = (
            "SELECT element_at(eventData.userIdentity.details, 'alternateId') AS user, COUNT(*) AS events "
            f"FROM {store.id} WHERE eventData.eventSource = 'okta.system-log-events' GROUP BY 1 ORDER BY 2 DESC"
        )
        opening = []
        for _ in range(args.rounds):
            began = time.perf_counter()
            rows = run_query(sql, lake).rows
            opening.append(time.perf_counter() - began)
        ours = []
        with lake.reading():
            for _ in range(args.rounds):
                began = time.perf_counter()
                held_rows = run_query(sql, lake).rows
                ours.append(time.perf_counter() - began)
        assert held_rows == rows
        began = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # as `auditbridge query SQL SQL ...` runs them
            assert cli(["query", "--lake", str(lake_path), *[sql] * args.rounds]) == 0
        one_command = (time.perf_counter() - began) / args.rounds
        direct_sql = (
            "SELECT eventData.userIdentity.details['alternateId'] AS user, COUNT(*) AS events FROM partner_events "
            f"WHERE store_id = '{store.id}' AND eventData.eventSource = 'okta.system-log-events' "
            "GROUP BY 1 ORDER BY 2 DESC"
        )
        con = duckdb.connect(str(lake_path), read_only=True)
        direct = []
        for _ in range(args.rounds):
            began = time.perf_counter()
            direct_rows = con.execute(direct_sql).fetchall()
            direct.append(time.perf_counter() - began)
        con.close()
        assert sorted(rows) == sorted(direct_rows)

    ours_s, opening_s, direct_s = statistics.median(ours), statistics.median(opening), statistics.median(direct)
    print(
        f"lake ingest : {args.events:,} events in {ingest:.1f} s = {args.events / ingest:,.0f} events/s "
        f"with --jobs {default_jobs()} (the default here) (target: 20,000); "
        f"{args.events / alone:,.0f} events/s with --jobs 1, ratio {alone / ingest:.2f}x"
    )
    print(
        f"lake query  : events per user over {args.events:,} events: DuckDB directly {direct_s * 1000:.1f} ms; "
        f"run_query with the lake held open {ours_s * 1000:.1f} ms, ratio {ours_s / direct_s:.2f}x (target <= 1.5); "
        f"opening the lake for the query {opening_s * 1000:.1f} ms, ratio {opening_s / direct_s:.2f}x; "
        f"`auditbridge query` with {args.rounds} queries {one_command * 1000:.1f} ms a query, "
        f"ratio {one_command / direct_s:.2f}x"
    )


if __name__ == "__main__":
    main()
