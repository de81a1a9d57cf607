"""The ingest Lambda: SQS batch in, PutAuditEvents out, ``batchItemFailures`` back to SQS.

Handler: ``auditbridge.lambda_handler.handler``. Environment:

* ``AUDITBRIDGE_DESTINATIONS`` -- comma-separated destination addresses (``cloudwatch-logs:/audit``,
  ``firehose:audit-stream``, ``cloudtrail-lake:<channel ARN>``, ...).
* ``AUDITBRIDGE_CHANNEL_ARN`` -- a CloudTrail Lake channel, alone or added to the destinations.
* ``AUDITBRIDGE_ROUTES`` -- a routing file (path or ``ssm:/name``): which sources go where.
* ``AUDITBRIDGE_DELIVERED_TABLE`` -- the DynamoDB table recording which destination holds which event.
* ``AUDITBRIDGE_DLQ_URL`` -- where events that can never succeed are parked, with the reason.
  Without it they are reported as batch item failures and reach the queue's own DLQ.
* ``AUDITBRIDGE_EXTERNAL_ID`` -- when the channel's resource policy demands one.
* ``AUDITBRIDGE_MAX_IN_FLIGHT`` -- PutAuditEvents requests sent at once (default 4; 1 to 32).
* ``AUDITBRIDGE_LOG_PAYLOADS=true`` -- include message bodies in rejection logs (personal data!).
* ``POWERTOOLS_*`` and ``AWS_*`` as usual.

Keep this module's imports lean: it is the cold-start path.
"""

from __future__ import annotations

import functools
import gc
import os
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from auditbridge.assembly import pipeline_from_settings
from auditbridge.config import Settings
from auditbridge.delivery import favour_sender_threads
from auditbridge.errors import Stage, internal_error
from auditbridge.messages import InboundMessage
from auditbridge.pipeline import BatchReport, Pipeline
from auditbridge.preparation import Prepared, Rejected
from auditbridge.retry import Deadline

METRICS_NAMESPACE = "AuditBridge"
#: Seconds kept back from the invocation's remaining time for parking and answering SQS.
RESERVE_SECONDS = 3.0

logger = Logger(service="auditbridge")
metrics = Metrics(namespace=METRICS_NAMESPACE, service="auditbridge")


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    pipeline: Pipeline


@functools.cache
def runtime() -> Runtime:
    """Built once per execution environment: settings, plugins, clients."""
    settings = Settings.from_env()
    built = Runtime(settings, pipeline_from_settings(settings, reserve_seconds=RESERVE_SECONDS))
    favour_sender_threads()
    # Everything loaded so far lives as long as the execution environment: keep the garbage
    # collector from walking it again at every collection of a batch's objects.
    gc.freeze()
    return built


def deadline_for(context: Any) -> Deadline:
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is None:
        return Deadline.after(60.0)
    return Deadline.after(max(0.0, remaining_ms() / 1000.0))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Prepare every record, deliver the batch, and answer SQS with the records to redeliver.

    Nothing a record holds can raise out of here or cost another record: each record is
    prepared under its own guard, and only the records not acknowledged are reported in
    ``batchItemFailures`` (SQS's partial batch response).
    """
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise ValueError("the ingest function expects an SQS event with a 'Records' list")
    pipeline = runtime().pipeline
    # Prepared as the pipeline takes them: full requests go out while the rest is prepared.
    prepared = (_prepare(pipeline, record, index) for index, record in enumerate(records))
    report = pipeline.deliver(prepared, deadline_for(context))
    publish_metrics(report)
    failures = [
        {"itemIdentifier": outcome.message.message_id}
        for outcome in report.outcomes
        if not outcome.disposition.acknowledged
    ]
    return {"batchItemFailures": failures}


def _prepare(pipeline: Pipeline, record: Any, index: int) -> Prepared | Rejected:
    try:
        message = InboundMessage.from_lambda_record(record, index)
    except Exception as exc:  # a record the Lambda service would never send; still only its own failure
        message = InboundMessage(message_id=f"#{index}", body="")
        return Rejected(message, internal_error(exc, Stage.INTAKE))
    return pipeline.prepare(message)


def publish_metrics(report: BatchReport) -> None:
    """Per source: Received, Sent, Duplicates, Failed, Retried, Parked (also by ErrorCode); per
    destination: Delivered, AlreadyDelivered, DeliveryFailures, Refused and Calls."""
    metrics.add_metric(name="PutAuditEventsCalls", unit=MetricUnit.Count, value=report.requests)
    for address, counts in report.by_destination.items():
        for key, name in _DESTINATION_METRICS.items():
            with single_metric(
                name=name,
                unit=MetricUnit.Count,
                value=counts.get(key, 0),
                namespace=METRICS_NAMESPACE,
                default_dimensions={"Destination": address[:1024]},
            ):
                pass
    if report.configuration_error is not None:
        metrics.add_metric(name="ConfigurationErrors", unit=MetricUnit.Count, value=1)
    for source, counts in report.by_source().items():
        for key, value in counts.items():
            name, _, code = key.partition(":")
            dimensions = {"Source": source}
            if code:
                dimensions["ErrorCode"] = code
            with single_metric(
                name=_METRIC_NAMES.get(name, name),
                unit=MetricUnit.Count,
                value=value,
                namespace=METRICS_NAMESPACE,
                default_dimensions=dimensions,
            ):
                pass


_METRIC_NAMES = {
    "received": "Received",
    "sent": "Sent",
    "duplicate": "Duplicates",
    "failed": "Failed",
    "parked": "Parked",
    "retried": "Retried",
}

_DESTINATION_METRICS = {
    "sent": "Delivered",
    "already": "AlreadyDelivered",
    "failed": "DeliveryFailures",
    "rejected": "Refused",
    "requests": "Calls",
}


def _build_during_init() -> None:
    """In Lambda, build the runtime while the module loads: in the init phase, not the first batch's time.

    A runtime that cannot be built now (a setting missing, a parameter unreadable) is left to the
    first invocation, which builds it again and reports what is wrong for that batch.
    """
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # tests, the CLI and other importers build on demand
        return
    try:
        runtime()
    except Exception as exc:
        logger.warning("runtime not built during init, the first invocation tries again: %s", type(exc).__name__)


_build_during_init()
