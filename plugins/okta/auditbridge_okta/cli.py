"""``auditbridge okta backfill`` and ``auditbridge okta poll``: the System Log API through the pipeline."""

from __future__ import annotations

import argparse
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditbridge.errors import ConfigurationError

from auditbridge_okta.collector import OKTA_COLLECTOR, check_window, org_url

LOCAL_ACCOUNT = "000000000000"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="okta_command", metavar="SUBCOMMAND", required=True)
    backfill = sub.add_parser(
        "backfill",
        help="fetch a window of the System Log (up to 90 days back) through the pipeline; rerun to resume",
    )
    backfill.add_argument("--since", required=True, help="ISO 8601, e.g. 2026-09-01T00:00:00Z")
    backfill.add_argument("--until", help="ISO 8601 (default: now)")
    backfill.set_defaults(run=run_backfill)
    poll = sub.add_parser("poll", help="follow the System Log from now on, until SIGINT or SIGTERM")
    poll.add_argument("--since", help="ISO 8601 where a first run starts (default: now)")
    poll.set_defaults(run=run_poll)
    for command in (backfill, poll):
        command.add_argument("--org", required=True, help="https://<your org>.okta.com")
        command.add_argument(
            "--token", default="env:OKTA_API_TOKEN", help="the API token: env:NAME, ssm:/name or secretsmanager:name"
        )
        command.add_argument(
            "--destination",
            action="append",
            default=[],
            metavar="ADDRESS",
            help="where events go, repeatable (default: the local lake)",
        )
        command.add_argument("--checkpoint", default="okta-checkpoints.json", help="the checkpoint file")
        command.add_argument("--lake", default=None, help="the local lake, when it is the destination")
        command.add_argument(
            "--account-id", help="recipientAccountId without a CloudTrail Lake destination (default: the caller's)"
        )
        command.add_argument(
            "--setting", action="append", default=[], metavar="KEY=VALUE", help="poll_seconds, limit, slowdown_below"
        )


def _time(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigurationError(
            f"{option} is not an ISO 8601 time such as 2026-09-01T00:00:00Z", code="InvalidArgument"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_backfill(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    since = _time(args.since, "--since")
    until = _time(args.until, "--until") if args.until else now
    check_window(since, until, now)
    # Without --until the window ends when it first ran: the checkpoint keeps that end, so the
    # same command run again resumes the same window.
    end = until.isoformat() if args.until else "first-run"
    return _run(args, since, until, key=f"okta|{org_url(args.org)}|{since.isoformat()}|{end}")


def run_poll(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    since = _time(args.since, "--since") if args.since else now
    check_window(since, None, now)
    return _run(args, since, None, key=f"okta|{org_url(args.org)}|poll")


def _run(args: argparse.Namespace, since: datetime, until: datetime | None, *, key: str) -> int:
    from auditbridge.assembly import build_pipeline, local_lakes_held
    from auditbridge.checkpoints import FileCheckpoints
    from auditbridge.collect import Clock, CollectRun
    from auditbridge.config import Destinations
    from auditbridge.dead_letters import JsonLinesDeadLetters
    from auditbridge.lake.store import default_lake_path

    settings = {"org": org_url(args.org), "token": args.token}
    for pair in args.setting:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ConfigurationError(f"--setting {pair[:40]!r} is not KEY=VALUE", code="InvalidArgument")
        settings[name.strip()] = value.strip()
    lake = Path(args.lake) if args.lake else default_lake_path()
    addresses = args.destination or [f"local:{lake}"]
    destinations = Destinations.resolve(addresses)
    checkpoint_file = Path(args.checkpoint)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dead_letters = JsonLinesDeadLetters(checkpoint_file.with_name(f"{checkpoint_file.stem}.rejected-{stamp}.jsonl"))
    pipeline = build_pipeline(destinations, dead_letters=dead_letters, max_in_flight=1)
    clock = Clock()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: clock.stop.set())  # finish the page in hand, then stop
    progress_line = _ProgressLine() if sys.stderr.isatty() else None
    run = CollectRun(
        OKTA_COLLECTOR,
        pipeline,
        FileCheckpoints(checkpoint_file),
        key,
        since,
        until,
        settings=settings,
        account=destinations.recipient_account_id() or _account(args, addresses),
        clock=clock,
        on_page=progress_line.update if progress_line else None,
    )
    with local_lakes_held(pipeline):
        progress = run.run()
    if progress_line is not None:
        progress_line.finish()
    print(progress.describe())
    print(f"checkpoint {key!r} in {checkpoint_file}; rerun the same command to resume")
    if dead_letters.count:
        print(f"{dead_letters.count:,} events were rejected; their reasons: {dead_letters.path}")
    return 1 if dead_letters.count else 0


def _account(args: argparse.Namespace, addresses: list[str]) -> str:
    if args.account_id:
        if not (len(args.account_id) == 12 and args.account_id.isdigit()):
            raise ConfigurationError("--account-id must be 12 digits", code="InvalidArgument")
        return str(args.account_id)
    if all(address.startswith("local:") for address in addresses):
        return LOCAL_ACCOUNT  # the local lake's own account
    from auditbridge import aws_clients

    try:
        return str(aws_clients.client("sts").get_caller_identity()["Account"])
    except Exception as exc:
        raise ConfigurationError(
            f"cannot tell the AWS account ({aws_clients.explain(exc) or type(exc).__name__})",
            code="MissingConfiguration",
            hint="pass --account-id",
        ) from None


class _ProgressLine:
    def update(self, progress: Any) -> None:
        waited = sum(progress.waited.values())
        sys.stderr.write(
            f"\r{progress.events:,} events, {progress.pages:,} pages, up to {progress.last_event_time or '-'}, "
            f"{waited:,.0f} s waiting "
        )
        sys.stderr.flush()

    def finish(self) -> None:
        sys.stderr.write("\n")
