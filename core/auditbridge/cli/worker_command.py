"""``auditbridge worker``: the Lambda's batch processing as a long-running SQS consumer."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from auditbridge.cli.common import add_lake_option, open_lake, sqs_client
from auditbridge.config import (
    CHANNEL_ARN_ENV,
    DELIVERED_TABLE_ENV,
    DESTINATIONS_ENV,
    DLQ_URL_ENV,
    EXTERNAL_ID_ENV,
    ROUTES_ENV,
    ChannelArn,
    Destinations,
)
from auditbridge.dead_letters import SqsDeadLetterQueue
from auditbridge.destinations import split_addresses
from auditbridge.errors import ConfigurationError
from auditbridge.pipeline import Pipeline
from auditbridge.plugins import get_mapper_registry


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "worker",
        help="consume the ingest queue continuously (containers), exactly as the Lambda does",
        description="Long-poll SQS, run the pipeline on each batch, delete what was sent or parked and leave "
        "failures for redelivery. Several workers can share a queue. SIGTERM finishes the batch in hand.",
    )
    parser.add_argument("--queue-url", required=True, help="the ingest queue")
    parser.add_argument(
        "--dlq-url", default=os.environ.get(DLQ_URL_ENV), help=f"where to park (default ${DLQ_URL_ENV})"
    )
    parser.add_argument("--channel-arn", default=os.environ.get(CHANNEL_ARN_ENV), help=f"default ${CHANNEL_ARN_ENV}")
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--max-messages", type=int, metavar="N", help="stop after N messages")
    stop.add_argument("--until-empty", action="store_true", help="stop when the queue is empty")
    parser.add_argument("--batch-size", type=int, default=100, help="messages per pipeline batch (default 100)")
    parser.add_argument(
        "--wait-seconds", type=int, default=20, choices=range(21), metavar="0-20", help="long-poll wait (default 20)"
    )
    parser.add_argument(
        "--sink",
        choices=("cloudtrail-lake", "local"),
        default="cloudtrail-lake",
        help="where events go when no --destination is given",
    )
    parser.add_argument(
        "--destination",
        action="append",
        default=[],
        metavar="ADDRESS",
        help=f"a destination address, repeatable (default ${DESTINATIONS_ENV}); with --channel-arn, one more",
    )
    parser.add_argument("--routes", default=os.environ.get(ROUTES_ENV), help=f"a routing file (default ${ROUTES_ENV})")
    parser.add_argument(
        "--delivered-table",
        default=os.environ.get(DELIVERED_TABLE_ENV),
        help=f"the delivered-set DynamoDB table (default ${DELIVERED_TABLE_ENV})",
    )
    add_lake_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from auditbridge.delivery import favour_sender_threads
    from auditbridge.worker import Worker, run_worker

    if not args.queue_url.startswith(("https://", "http://")):
        raise ConfigurationError(
            f"--queue-url {args.queue_url!r} is not a queue URL",
            code="InvalidArgument",
            hint="use the URL `aws sqs get-queue-url` prints",
        )
    if args.batch_size < 1 or (args.max_messages is not None and args.max_messages < 1):
        raise ConfigurationError("--batch-size and --max-messages must be at least 1", code="InvalidArgument")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    client = sqs_client(args.queue_url)
    favour_sender_threads()

    def build() -> Worker:
        return Worker(
            _pipeline(args), args.queue_url, client, batch_size=args.batch_size, wait_seconds=args.wait_seconds
        )

    summary = run_worker(build, max_messages=args.max_messages, until_empty=args.until_empty)
    print(summary.describe())
    return 0


def _pipeline(args: argparse.Namespace) -> Pipeline:
    dead_letters = SqsDeadLetterQueue(args.dlq_url, sqs_client(args.dlq_url)) if args.dlq_url else None
    listed = args.destination or split_addresses(os.environ.get(DESTINATIONS_ENV, ""))
    if listed or args.routes:
        from auditbridge.assembly import build_pipeline

        destinations = Destinations.resolve(
            listed, channel_arn=args.channel_arn, routes=args.routes, delivered_table=args.delivered_table
        )
        return build_pipeline(destinations, dead_letters=dead_letters, channel_arn=args.channel_arn)
    if args.sink == "local":
        from auditbridge.sinks.local_lake import LocalLakeSink

        lake = open_lake(args)
        store = lake.default_store()
        channel = ChannelArn.parse(args.channel_arn or store.channel_arn)
        sink: Any = LocalLakeSink(lake, store, channel.arn)
    else:
        if not args.channel_arn:
            raise ConfigurationError(f"--channel-arn or {CHANNEL_ARN_ENV} is required", code="MissingConfiguration")
        from auditbridge.sinks.cloudtrail_lake import CloudTrailLakeSink

        channel = ChannelArn.parse(args.channel_arn)
        sink = CloudTrailLakeSink(channel, os.environ.get(EXTERNAL_ID_ENV) or None)
    return Pipeline(
        get_mapper_registry(),
        sink,
        recipient_account_id=channel.account_id,
        channel_arn=channel.arn,
        dead_letters=dead_letters,
    )
