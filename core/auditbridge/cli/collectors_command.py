"""``auditbridge collectors``: the installed pull sources."""

from __future__ import annotations

import argparse
from typing import Any

from auditbridge.cli.common import print_table
from auditbridge.plugins import get_plugin_manager


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("collectors", help="list installed pull sources (collectors)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    collectors = get_plugin_manager().collectors()
    if not collectors:
        print("no collectors installed (hook register_collectors)")
        return 0
    rows = [
        [name, f"{dist.name} {dist.version}", collector.source, collector.description]
        for name, (collector, dist) in sorted(collectors.items())
    ]
    print_table(["NAME", "DISTRIBUTION", "SOURCE", "DESCRIPTION"], rows)
    return 0
