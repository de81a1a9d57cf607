"""``auditbridge plugins``: list installed mappers; ``plugins check``: run the contract kit."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from auditbridge.plugins import get_mapper_registry


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("plugins", help="list installed mapper plugins, or check one against the contract")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=run_list)
    sub = parser.add_subparsers(dest="plugins_command", metavar="SUBCOMMAND")
    check = sub.add_parser(
        "check",
        help="run the mapper contract over a folder of fixture events",
        description="Every fixture must map to a schema-valid entry or a classified rejection, match its "
        "*.expected.json, map deterministically, and hostile variants must be rejected cleanly.",
    )
    check.add_argument("name", help="the mapper's name, as `auditbridge plugins` lists it")
    check.add_argument(
        "--events", required=True, metavar="DIR", help="folder of fixture events (*.json, nested folders too)"
    )
    check.add_argument(
        "--write-expected",
        action="store_true",
        help="write *.expected.json from the current output (never for a mapper bug), then check",
    )
    check.add_argument("--max-seconds", type=float, default=1.0, metavar="S", help="the most one event may take to map")
    check.add_argument(
        "--median-ms", type=float, default=50.0, metavar="MS", help="the most the median mapping may take"
    )
    check.set_defaults(run=run_check)


def run_list(args: argparse.Namespace) -> int:
    rows = [
        {
            "name": entry.name,
            "distribution": entry.distribution.name,
            "version": entry.distribution.version,
            "sources": list(entry.mapper.sources),
        }
        for entry in get_mapper_registry()
    ]
    if args.json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    if not rows:
        print("no mapper plugins installed (entry-point group 'auditbridge')")
        return 0
    table: list[tuple[str, str, str, str]] = [("NAME", "DISTRIBUTION", "VERSION", "SOURCES")]
    table += [(str(r["name"]), str(r["distribution"]), str(r["version"]), ", ".join(r["sources"])) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3])
    return 0


def run_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from auditbridge.testing.contract import Contract

    events = Path(args.events)
    if not events.is_dir():
        print(f"auditbridge: --events {events} is not a folder", file=sys.stderr)
        return 2
    contract = Contract.for_mapper(
        args.name, events, max_seconds=args.max_seconds, median_seconds=args.median_ms / 1000
    )
    refused = []
    if args.write_expected:
        written = contract.write_expected()
        for path in written.written:
            print(f"wrote {path}")
        for violation in written.refused:
            print(f"NOT WRITTEN {violation}")
        refused = written.refused
    print("fixtures:")
    for name, outcome in contract.outcomes():
        print(f"  {name}: {outcome}")
    report = contract.run()
    for violation in report.violations:
        print(f"FAIL {violation}")
    ok = report.ok and not refused
    verdict = "passes" if ok else f"fails with {len(report.violations) + len(refused)} violations"
    print(f"mapper {report.mapper!r} {verdict}: {report.checks_run} checks over {report.fixtures} fixtures")
    return 0 if ok else 1
