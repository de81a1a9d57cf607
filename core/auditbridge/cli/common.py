"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from auditbridge import aws_clients
from auditbridge.errors import ConfigurationError


def add_lake_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lake",
        type=Path,
        default=None,
        metavar="PATH",
        help="the local lake file (default: $AUDITBRIDGE_LAKE, else ./auditbridge.duckdb)",
    )


def open_lake(args: argparse.Namespace) -> Any:
    try:
        from auditbridge.lake.store import LocalLake
    except ImportError as exc:  # duckdb or sqlglot missing
        raise ConfigurationError(
            f"the local lake needs an optional extra ({exc.name} is not installed)",
            code="MissingExtra",
            hint="pip install 'auditbridge[lake]'",
        ) from None
    return LocalLake(args.lake)


def print_table(columns: list[str], rows: list[list[str]], out: Any = None) -> None:
    out = out or sys.stdout
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    for row in rows:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")


def sqs_client(queue_url: str) -> Any:
    """An SQS client for a queue URL given on the command line."""
    if not queue_url.startswith(("https://", "http://")):
        raise ConfigurationError(
            f"{queue_url!r} is not a queue URL",
            code="InvalidArgument",
            hint="use the URL `aws sqs get-queue-url` prints",
        )
    return aws_clients.sqs_client(queue_url, read_timeout=30)
