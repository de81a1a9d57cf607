"""Pull mode as a scheduled Lambda: ``auditbridge.collect_handler.handler``.

Every invocation (EventBridge Scheduler, every minute, reserved concurrency 1) polls one
collector from its checkpoint until it has caught up or its time budget is spent, then stops at
a page boundary. Environment, besides the destinations' (``AUDITBRIDGE_DESTINATIONS``, ...):

* ``AUDITBRIDGE_COLLECTOR`` -- the collector's name (``okta``);
* ``AUDITBRIDGE_COLLECTOR_SETTINGS`` -- its settings as ``key=value&key=value``
  (``org=https://acme.okta.com&token=ssm:/auditbridge/okta/token``);
* ``AUDITBRIDGE_CHECKPOINT_TABLE`` -- the DynamoDB checkpoint table.

It publishes ``CollectedEvents`` and ``CheckpointLagSeconds`` (now minus the time of the last
event delivered) with the dimension ``Collector``.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from auditbridge.errors import ConfigurationError
from auditbridge.retry import Deadline

COLLECTOR_ENV = "AUDITBRIDGE_COLLECTOR"
COLLECTOR_SETTINGS_ENV = "AUDITBRIDGE_COLLECTOR_SETTINGS"
CHECKPOINT_TABLE_ENV = "AUDITBRIDGE_CHECKPOINT_TABLE"
#: Seconds kept back from the invocation for the last page's delivery and the answer.
RESERVE_SECONDS = 15.0

logger = Logger(service="auditbridge")
metrics = Metrics(namespace="AuditBridge", service="auditbridge")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: Any, context: Any) -> dict[str, Any]:
    from auditbridge.assembly import pipeline_from_settings
    from auditbridge.checkpoints import DynamoDBCheckpoints
    from auditbridge.collect import Clock, CollectRun
    from auditbridge.config import Settings
    from auditbridge.plugins import get_plugin_manager

    name = os.environ.get(COLLECTOR_ENV, "").strip()
    table = os.environ.get(CHECKPOINT_TABLE_ENV, "").strip()
    if not name or not table:
        raise ConfigurationError(f"{COLLECTOR_ENV} and {CHECKPOINT_TABLE_ENV} must be set", code="MissingConfiguration")
    collectors = get_plugin_manager().collectors()
    if name not in collectors:
        raise ConfigurationError(
            f"no collector {name!r}; installed: {', '.join(sorted(collectors)) or 'none'}", code="UnknownCollector"
        )
    collector = collectors[name][0]
    settings = dict(parse_qsl(os.environ.get(COLLECTOR_SETTINGS_ENV, ""), keep_blank_values=True))
    runtime_settings = Settings.from_env()
    remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else 60.0
    deadline = Deadline.after(max(1.0, remaining - RESERVE_SECONDS))
    account = runtime_settings.destinations.recipient_account_id() or _own_account(context)
    run = CollectRun(
        collector,
        pipeline_from_settings(runtime_settings, reserve_seconds=RESERVE_SECONDS),
        DynamoDBCheckpoints(table),
        f"{name}|{settings.get('org', '')}|poll",
        datetime.now(UTC),  # only for the first run: a resumed one keeps its window's start
        None,
        settings=settings,
        account=account,
        clock=Clock(),
        deadline=deadline,
        stop_when_caught_up=True,
    )
    progress = run.run()
    # Caught up: nothing is behind, however quiet the org. Otherwise: how old the last event taken is.
    lag = 0.0 if progress.stopped_by == "caught up" else _lag(progress.last_event_time)
    for metric, value, unit in (
        ("CollectedEvents", progress.events, MetricUnit.Count),
        ("CheckpointLagSeconds", lag, MetricUnit.Seconds),
    ):
        if value is None:
            continue
        with single_metric(
            name=metric, unit=unit, value=value, namespace="AuditBridge", default_dimensions={"Collector": name}
        ):
            pass
    logger.info("collected", extra={"summary": progress.describe()})
    return {"events": progress.events, "pages": progress.pages, "stoppedBy": progress.stopped_by, "lagSeconds": lag}


def _own_account(context: Any) -> str | None:
    arn = getattr(context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4].isdigit() else None


def _lag(last_event_time: str | None) -> float | None:
    if not last_event_time:
        return None
    try:
        moment = datetime.fromisoformat(last_event_time.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, time.time() - moment.timestamp())
