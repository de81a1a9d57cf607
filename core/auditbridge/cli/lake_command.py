"""``auditbridge lake``: create and list event data stores, import CloudTrail logs, serve PutAuditEvents."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from auditbridge.cli.common import add_lake_option, open_lake, print_table
from auditbridge.errors import ConfigurationError


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("lake", help="manage the local lake's event data stores")
    sub = parser.add_subparsers(dest="lake_command", metavar="SUBCOMMAND", required=True)

    create = sub.add_parser("create", help="create an event data store and print its id")
    add_lake_option(create)
    create.add_argument("--name", help="a name to find it by (unique)")
    create.add_argument(
        "--id", metavar="UUID", help="the store's id, e.g. your CloudTrail Lake store's, so queries run unchanged"
    )
    create.add_argument(
        "--kind",
        choices=("partner", "cloudtrail"),
        default="partner",
        help="partner: integration events (PutAuditEvents); cloudtrail: AWS CloudTrail log files",
    )
    create.set_defaults(run=run_create)

    listing = sub.add_parser("list", help="list event data stores with event counts and time ranges")
    add_lake_option(listing)
    listing.set_defaults(run=run_list)

    importer = sub.add_parser("import-cloudtrail", help="load AWS CloudTrail log files (.json, .json.gz)")
    importer.add_argument("files", nargs="+", metavar="FILE", help="log files or folders of them")
    importer.add_argument("--event-data-store", required=True, metavar="ID", help="a store of kind cloudtrail")
    add_lake_option(importer)
    importer.set_defaults(run=run_import)

    records = sub.add_parser(
        "import-records",
        help="load records a destination stored (Firehose's S3 objects, JSON lines, .gz) into a store",
    )
    records.add_argument("sources", nargs="+", metavar="SOURCE", help="files, folders or s3://bucket/prefix")
    records.add_argument(
        "--event-data-store",
        metavar="ID",
        help="a partner store: id, ARN or name; a new UUID creates it (default: 'default')",
    )
    add_lake_option(records)
    records.set_defaults(run=run_import_records)

    serve = sub.add_parser("serve", help="serve a CloudTrail-Data-compatible PutAuditEvents endpoint on loopback")
    add_lake_option(serve)
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument("--port", type=int, default=4599, help="the port to listen on")
    serve.set_defaults(run=run_serve)


def run_create(args: argparse.Namespace) -> int:
    store = open_lake(args).create_store(args.name, args.kind, store_id=args.id)
    print(store.id)
    return 0


def run_list(args: argparse.Namespace) -> int:
    lake = open_lake(args)
    if not lake.path.exists():
        raise ConfigurationError(
            f"no lake at {lake.path}", code="LakeNotFound", hint="ingest events first, or pass --lake PATH"
        )
    rows = [
        [s.store.id, s.store.name, s.store.kind, f"{s.events:,}", str(s.first or ""), str(s.last or "")]
        for s in lake.summaries()
    ]
    if not rows:
        print(f"no event data stores in {lake.path}")
        return 0
    print_table(["ID", "NAME", "KIND", "EVENTS", "FIRST EVENT", "LAST EVENT"], rows)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from auditbridge.lake.cloudtrail_import import iter_files, read_cloudtrail_file

    lake = open_lake(args)
    store = lake.get_store(args.event_data_store, create=False)
    total = 0
    for path in iter_files(args.files):
        total += lake.insert_cloudtrail_records(store, read_cloudtrail_file(path))
    print(f"imported {total:,} CloudTrail events into {store.id} ({store.name})")
    return 0


def run_import_records(args: argparse.Namespace) -> int:
    from auditbridge.lake.records_import import iter_sources, read_records

    lake = open_lake(args)
    store = lake.get_store(args.event_data_store, create=True) if args.event_data_store else lake.default_store()
    total = skipped = files = 0
    for file in iter_sources(args.sources):
        records, not_records = read_records(file)
        files += 1
        skipped += not_records
        if records:
            total += lake.insert_records(store, records)
    print(
        f"read {total:,} records from {files:,} files into {store.id} ({store.name}); events already there are "
        f"not stored twice" + (f"; {skipped:,} lines were not records and were skipped" if skipped else "")
    )
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from auditbridge.endpoint import CloudTrailDataService, LocalEndpoint
    from auditbridge.lake.store import LakeEventStore

    lake = open_lake(args)
    service = CloudTrailDataService(store=LakeEventStore(lake), auto_create_channels=True)
    endpoint = LocalEndpoint(service, args.host, args.port)
    print(f"PutAuditEvents on {endpoint.url}, writing into {lake.path}", flush=True)
    print(f"  export AWS_ENDPOINT_URL_CLOUDTRAIL_DATA={endpoint.url}", flush=True)
    print("  each channel ARN feeds its own event data store (created on first use); Ctrl-C stops", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        endpoint.serve_forever()
    sys.stderr.write("stopped\n")
    return 0
