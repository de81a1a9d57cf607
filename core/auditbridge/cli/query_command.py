"""``auditbridge query``: CloudTrail Lake SQL against the local lake."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import date, datetime
from typing import Any

import orjson

from auditbridge.cli.common import add_lake_option, open_lake, print_table


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "query",
        help="run CloudTrail Lake SQL on the local lake",
        description="Run a CloudTrail Lake query (Trino SQL; event data stores named by id or ARN after "
        "FROM/JOIN) on the local lake. SELECT only.",
    )
    parser.add_argument(
        "sql",
        nargs="+",
        help='the query, e.g. "SELECT eventData.eventName, count(*) FROM <id> GROUP BY 1"; several run one after '
        "another on one connection (the lake is opened once), each printed in turn",
    )
    add_lake_option(parser)
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="stop a query that runs longer")
    parser.add_argument(
        "--memory-limit", default="2GB", metavar="SIZE", help="the most memory a query may use, e.g. 512MB"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    lake = open_lake(args)
    from auditbridge.lake.query import run_query

    with lake.reading():  # opening the file costs more than most queries: once for them all
        for index, sql in enumerate(args.sql):
            result = run_query(sql, lake, timeout=args.timeout, memory_limit=args.memory_limit)
            if index and args.format != "json":
                print()
            _print(result, args.format)
    return 0


def _print(result: Any, output_format: str) -> None:
    if output_format == "json":
        records = [{k: _plain(v) for k, v in record.items()} for record in result.records()]
        sys.stdout.write(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif output_format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([_text(v) for v in row] for row in result.rows)
    else:
        print_table(result.columns, [[_text(v) for v in row] for row in result.rows])
        print(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    plain = _plain(value)
    return (
        plain
        if isinstance(plain, str)
        else orjson.dumps(plain).decode()
        if isinstance(plain, dict | list)
        else str(plain)
    )
