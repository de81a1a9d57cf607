"""``python -m auditbridge.endpoint --port N [--channel ARN ...]``: run the endpoint in the foreground."""

from __future__ import annotations

import argparse
import contextlib
import gc

from auditbridge.endpoint.server import LocalEndpoint
from auditbridge.endpoint.service import Channel, CloudTrailDataService


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m auditbridge.endpoint", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="the port to listen on (default: any free port)")
    parser.add_argument(
        "--test-control",
        action="store_true",
        help="serve /_auditbridge/ to inject faults and list stored events: for test harnesses only",
    )
    parser.add_argument("--channel", action="append", default=[], help="accept this channel ARN (repeatable)")
    args = parser.parse_args()
    service = CloudTrailDataService([Channel(arn) for arn in args.channel], auto_create_channels=not args.channel)
    endpoint = LocalEndpoint(service, args.host, args.port, control=args.test_control)
    print(endpoint.url, flush=True)
    gc.freeze()  # what start-up built lives as long as the process: the collector need not walk it
    with contextlib.suppress(KeyboardInterrupt):
        endpoint.serve_forever()


if __name__ == "__main__":
    main()
