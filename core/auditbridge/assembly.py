"""Building the pipeline from settings: sinks from addresses, the delivered set, the dead letters.

The Lambda handler and the worker both build their pipeline here, so they deliver alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from auditbridge.config import Destinations, Settings
from auditbridge.dead_letters import DeadLetters, SqsDeadLetterQueue
from auditbridge.delivered import DeliveredSet, DynamoDBDeliveredSet
from auditbridge.pipeline import Pipeline
from auditbridge.plugins import get_mapper_registry, get_sink_registry
from auditbridge.sinks import address_of


def build_pipeline(
    destinations: Destinations,
    *,
    dead_letters: DeadLetters | None = None,
    channel_arn: str | None = None,
    log_payloads: bool = False,
    reserve_seconds: float = 1.0,
    max_in_flight: int = 4,
) -> Pipeline:
    registry = get_sink_registry()
    delivered: DeliveredSet | None = (
        DynamoDBDeliveredSet(destinations.delivered_table) if destinations.delivered_table else None
    )
    sinks = {address: registry.build(address) for address in destinations.addresses}
    # Routes name destinations as configured (settings included); the pipeline knows each by its
    # sink's address, which metrics, parked reasons and the delivered set use.
    names = {address: address_of(sink) for address, sink in sinks.items()}
    return Pipeline(
        get_mapper_registry(),
        list(sinks.values()),
        recipient_account_id=destinations.recipient_account_id(),
        channel_arn=channel_arn,
        dead_letters=dead_letters,
        log_payloads=log_payloads,
        reserve_seconds=reserve_seconds,
        max_in_flight=max_in_flight,
        routes=destinations.routes.renamed(names),
        delivered=delivered,
    )


def pipeline_from_settings(settings: Settings, *, reserve_seconds: float) -> Pipeline:
    return build_pipeline(
        settings.destinations,
        dead_letters=SqsDeadLetterQueue(settings.dlq_url) if settings.dlq_url else None,
        channel_arn=settings.channel.arn if settings.channel else None,
        log_payloads=settings.log_payloads,
        reserve_seconds=reserve_seconds,
        max_in_flight=settings.max_in_flight,
    )


@contextlib.contextmanager
def local_lakes_held(pipeline: Pipeline) -> Iterator[None]:
    """One connection to each local-lake destination for the whole block, as ``ingest`` keeps:
    opening the file for every request costs more than writing it."""
    with contextlib.ExitStack() as held:
        for destination in pipeline.destinations:
            lake = getattr(destination.sink, "lake", None)
            if lake is not None:
                held.enter_context(lake.hold())
        yield
