"""The built-in destination kinds, registered through ``register_sinks`` like any plugin's.

Each factory imports its sink only when an address of its kind is built, so the Lambda loads
what it uses and no more (the ``local`` kind needs the ``lake`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from auditbridge.destinations import SinkKind
from auditbridge.errors import ConfigurationError
from auditbridge.hookspecs import hookimpl
from auditbridge.sinks import PUT_AUDIT_EVENTS_LIMITS, Sink
from auditbridge.sinks.cloudwatch_logs import LIMITS as CLOUDWATCH_LOGS_LIMITS
from auditbridge.sinks.firehose import LIMITS as FIREHOSE_LIMITS


def cloudtrail_lake(target: str, settings: Mapping[str, str]) -> Sink:
    from auditbridge.config import EXTERNAL_ID_ENV, ChannelArn
    from auditbridge.sinks.cloudtrail_lake import CloudTrailLakeSink

    _only(settings, {"externalId"}, "cloudtrail-lake")
    external_id = settings.get("externalId") or os.environ.get(EXTERNAL_ID_ENV, "").strip() or None
    return CloudTrailLakeSink(ChannelArn.parse(target), external_id)


def cloudwatch_logs(target: str, settings: Mapping[str, str]) -> Sink:
    from auditbridge.sinks.cloudwatch_logs import CloudWatchLogsSink

    return CloudWatchLogsSink(target, settings)


def firehose(target: str, settings: Mapping[str, str]) -> Sink:
    from auditbridge.sinks.firehose import FirehoseSink

    return FirehoseSink(target, settings)


def local(target: str, settings: Mapping[str, str]) -> Sink:
    _only(settings, {"store"}, "local")
    try:
        from auditbridge.lake.store import LocalLake
        from auditbridge.sinks.local_lake import LocalLakeSink
    except ImportError as exc:
        raise ConfigurationError(
            f"the local destination needs the lake extra ({exc.name} is not installed)",
            code="MissingExtra",
            hint="pip install 'auditbridge[lake]'",
        ) from None
    lake = LocalLake(Path(target))
    store = lake.get_store(settings["store"], create=True) if settings.get("store") else lake.default_store()
    # A deployment's events name its account (a CloudTrail Lake channel's, or their own), never the
    # local store's synthetic 000000000000: the store keeps them whatever it is.
    return LocalLakeSink(lake, store, any_recipient=True)


def _only(settings: Mapping[str, str], allowed: set[str], kind: str) -> None:
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise ConfigurationError(
            f"{kind}: unknown settings {', '.join(unknown)}; it takes {', '.join(sorted(allowed)) or 'none'}",
            code="InvalidDestination",
        )


@hookimpl
def register_sinks(register: Callable[[SinkKind], None]) -> None:
    register(
        SinkKind(
            "cloudtrail-lake",
            cloudtrail_lake,
            "AWS CloudTrail Lake: PutAuditEvents on a channel",
            PUT_AUDIT_EVENTS_LIMITS,
        )
    )
    register(
        SinkKind(
            "cloudwatch-logs",
            cloudwatch_logs,
            "Amazon CloudWatch Logs: PutLogEvents into a log group",
            CLOUDWATCH_LOGS_LIMITS,
        )
    )
    register(SinkKind("firehose", firehose, "Amazon Data Firehose (S3, Athena): PutRecordBatch", FIREHOSE_LIMITS))
    register(SinkKind("local", local, "the local lake (DuckDB) on this machine", PUT_AUDIT_EVENTS_LIMITS))
