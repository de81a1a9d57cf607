"""``auditbridge destinations``: the installed destination kinds; ``destinations check ADDRESS``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from auditbridge.cli.common import print_table
from auditbridge.destinations import describe_kind
from auditbridge.errors import ConfigurationError
from auditbridge.plugins import get_sink_registry


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("destinations", help="list destination kinds, or check that one destination works")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=run_list)
    sub = parser.add_subparsers(dest="destinations_command", metavar="SUBCOMMAND")
    check = sub.add_parser(
        "check",
        help="check that a destination is reachable and writable",
        description="Builds the destination from its address, checks that it exists and answers, and (unless "
        "--dry-run) writes one check record: CloudWatch Logs into the stream auditbridge-destination-check, "
        'Firehose one {"auditbridgeCheck":true} line.',
    )
    check.add_argument("address", help="e.g. cloudwatch-logs:/audit/okta or firehose:audit-stream")
    check.add_argument("--dry-run", action="store_true", help="send nothing; only check that it exists")
    check.set_defaults(run=run_check)


def run_list(args: argparse.Namespace) -> int:
    rows = [describe_kind(entry) for entry in get_sink_registry()]
    if args.json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print_table(
        ["KIND", "DISTRIBUTION", "LIMITS"],
        [[row["kind"], f"{row['distribution']} {row['version']}", row["limits"]] for row in rows],
    )
    return 0


def run_check(args: argparse.Namespace) -> int:
    sink = get_sink_registry().build(args.address)
    check = getattr(sink, "check", None)
    if not callable(check):
        raise ConfigurationError(
            f"the {getattr(sink, 'name', 'destination')} kind has no check; send a test event instead",
            code="NoCheck",
        )
    print(f"{args.address}: {check(args.dry_run)}")
    return 0
