"""``auditbridge``: map, check and (later) ingest and query audit events from the command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from auditbridge import __version__, aws_clients
from auditbridge.cli import (
    collectors_command,
    destinations_command,
    dlq_command,
    ingest_command,
    lake_command,
    map_command,
    plugins_command,
    query_command,
    worker_command,
)
from auditbridge.errors import AuditBridgeError

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2


class _DefaultsFormatter(argparse.HelpFormatter):
    """Help that states each option's default, where it has one worth stating."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and "%(default)" not in text
            and "default" not in text
            and default not in (None, False, argparse.SUPPRESS)
        ):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """Every command and subcommand parser shows defaults (subparsers take the parent's class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="auditbridge",
        description="Bring SaaS audit logs (Okta, webhooks) into AWS CloudTrail Lake or a local lake.",
    )
    parser.add_argument("--version", action="version", version=f"auditbridge {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    map_command.add_parser(commands)
    ingest_command.add_parser(commands)
    query_command.add_parser(commands)
    lake_command.add_parser(commands)
    worker_command.add_parser(commands)
    dlq_command.add_parser(commands)
    destinations_command.add_parser(commands)
    collectors_command.add_parser(commands)
    plugins_command.add_parser(commands)
    _add_plugin_commands(commands)
    return parser


def _add_plugin_commands(commands: Any) -> None:
    from auditbridge.errors import PluginConflictError
    from auditbridge.plugins import get_plugin_manager

    taken = set(commands.choices)
    for command, distribution in get_plugin_manager().commands():
        if command.name in taken:
            raise PluginConflictError(f"{distribution} adds command {command.name!r}, which auditbridge already has")
        command.configure(commands.add_parser(command.name, help=command.help))


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
    except AuditBridgeError as exc:  # a broken or conflicting plugin
        print(f"auditbridge: {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    args = parser.parse_args(argv)
    # botocore says at INFO where it found each endpoint: noise on a terminal.
    for name in ("botocore", "boto3", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # `map` and `ingest` report each rejection themselves; without this, Python's last-resort
    # handler would print the pipeline's log line for it again. Commands that configure logging
    # (the worker, `webhook serve`) still get every line through the root logger.
    logging.getLogger("auditbridge").addHandler(logging.NullHandler())
    try:
        status: int = args.run(args)
    except AuditBridgeError as exc:
        # Stage and event context mean nothing for a command-line mistake; show them only when set.
        text = exc.describe() if (exc.source or exc.event_id) else f"{exc.code}: {exc.message}"
        if exc.hint and not (exc.source or exc.event_id):
            text += f"; {exc.hint}"
        print(f"auditbridge: {text}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `auditbridge map ... | head`
        return EXIT_OK
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"auditbridge: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        explained = aws_clients.explain(exc)
        if explained is None:
            raise
        print(f"auditbridge: {explained}", file=sys.stderr)
        return EXIT_USAGE
    return status


if __name__ == "__main__":
    sys.exit(main())
