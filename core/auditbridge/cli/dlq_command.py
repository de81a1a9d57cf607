"""``auditbridge dlq inspect|redrive``: read parked messages' reasons and move them back after a fix."""

from __future__ import annotations

import argparse
import json
from typing import Any

from auditbridge.cli.common import print_table, sqs_client


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("dlq", help="inspect or redrive the dead-letter queue")
    sub = parser.add_subparsers(dest="dlq_command", metavar="SUBCOMMAND", required=True)

    inspect = sub.add_parser("inspect", help="count parked messages by reason and source; deletes nothing")
    inspect.add_argument("--dlq-url", required=True)
    inspect.add_argument("--show", type=int, default=3, metavar="N", help="show N messages' reasons (default 3)")
    inspect.add_argument("--show-bodies", action="store_true", help="also print their bodies (personal data!)")
    inspect.set_defaults(run=run_inspect)

    redrive = sub.add_parser(
        "redrive",
        help="move parked messages back to a queue (send, then delete)",
        description="After fixing a mapper or the configuration, move parked messages back to the ingest queue. "
        "Each message is sent before it is deleted: a crash in between duplicates it, never loses it.",
    )
    redrive.add_argument("--dlq-url", required=True)
    redrive.add_argument("--to", required=True, metavar="URL", help="the queue to move them to (the ingest queue)")
    redrive.add_argument("--reason", metavar="CODE", help="only messages parked with this error code")
    redrive.add_argument("--source", metavar="PATTERN", help="only messages from sources matching this glob")
    redrive.add_argument("--max", type=int, metavar="N", help="move at most N messages")
    redrive.set_defaults(run=run_redrive)


def run_inspect(args: argparse.Namespace) -> int:
    from auditbridge.dlq_tools import inspect

    result = inspect(sqs_client(args.dlq_url), args.dlq_url, show=args.show)
    print(f"{result.total:,} parked messages in {args.dlq_url}")
    if result.total:
        rows = [[reason, source, f"{count:,}"] for (reason, source), count in result.by_reason_and_source.most_common()]
        print_table(["REASON", "SOURCE", "COUNT"], rows)
    for sample in result.samples:
        shown = {k: v for k, v in sample.attributes.items() if k != "parkedAt"}
        print(f"- {sample.message_id}: {json.dumps(shown, sort_keys=True)}")
        if args.show_bodies:
            print(f"  body: {sample.body}")
    return 0


def run_redrive(args: argparse.Namespace) -> int:
    from auditbridge.dlq_tools import redrive

    result = redrive(
        sqs_client(args.dlq_url), args.dlq_url, args.to, reason=args.reason, source_pattern=args.source, limit=args.max
    )
    print(
        f"moved {result.moved:,} messages to {args.to}; {result.kept:,} did not match and stay"
        + (f"; {result.failed:,} could not be sent and stay" if result.failed else "")
    )
    return 1 if result.failed else 0
