"""``auditbridge map``: EventBridge or SQS events in, PutAuditEvents entries out, no sending."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import orjson

from auditbridge.config import CHANNEL_ARN_ENV, ChannelArn
from auditbridge.inputs import read_messages
from auditbridge.plugins import get_mapper_registry
from auditbridge.preparation import EventPreparer, Prepared


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "map",
        help="map events to PutAuditEvents entries (one JSON line each) without sending them",
        description="Read EventBridge events (a JSON object, a JSON array or JSON lines) or a Lambda SQS "
        "event ({'Records': [...]}) and write one PutAuditEvents entry per line to stdout. Each rejected "
        "event is one line on stderr; the exit status is 1 when any was rejected.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="input files; '-' or none reads stdin")
    parser.add_argument(
        "--channel-arn",
        default=os.environ.get(CHANNEL_ARN_ENV),
        help=f"the channel events are for; its account becomes recipientAccountId (default: ${CHANNEL_ARN_ENV},"
        " else each event's own account)",
    )
    parser.add_argument("--pretty", action="store_true", help="show eventData decoded and indented")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    channel = ChannelArn.parse(args.channel_arn) if args.channel_arn else None
    preparer = EventPreparer(
        get_mapper_registry(),
        recipient_account_id=channel.account_id if channel else None,
        channel_arn=channel.arn if channel else None,
    )
    rejected = 0
    out = sys.stdout.buffer
    for message in read_messages(args.files):
        result = preparer.prepare(message)
        if isinstance(result, Prepared):
            entry = result.entry
            if args.pretty:
                shown = {**entry.to_request_entry(), "eventData": orjson.loads(entry.eventData)}
                out.write(orjson.dumps(shown, option=orjson.OPT_INDENT_2) + b"\n")
            else:
                out.write(orjson.dumps(entry.to_request_entry()) + b"\n")
        else:
            rejected += 1
            error = result.error
            print(
                f"{message.position}: rejected: source={error.source or '-'}: {error.describe()}",
                file=sys.stderr,
            )
    out.flush()
    return 1 if rejected else 0
