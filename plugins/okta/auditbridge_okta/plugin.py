"""Registers the Okta mapper with auditbridge (entry point ``auditbridge: okta``)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from auditbridge import EventBridgeEvent, EventData, Mapper, MappingContext, hookimpl
from auditbridge.collectors import Collector
from auditbridge.commands import Command

from auditbridge_okta.mapper import DEFAULT_EVENT_SOURCE, OKTA_SOURCES, map_log_event

#: Overrides the ``eventSource`` written into every event (default ``okta.system-log-events``).
EVENT_SOURCE_ENV = "AUDITBRIDGE_OKTA_EVENT_SOURCE"


@hookimpl
def register_mappers(register: Callable[[Mapper], None]) -> None:
    event_source = os.environ.get(EVENT_SOURCE_ENV, "").strip() or DEFAULT_EVENT_SOURCE
    map_event: Callable[[EventBridgeEvent, MappingContext], EventData] = functools.partial(
        map_log_event, event_source=event_source
    )
    register(
        Mapper(
            name="okta",
            sources=OKTA_SOURCES,
            map_event=map_event,
            description="Okta System Log LogEvents from Okta's AWS EventBridge log stream",
        )
    )


@hookimpl
def register_collectors(register: Callable[[Collector], None]) -> None:
    from auditbridge_okta.collector import OKTA_COLLECTOR

    register(OKTA_COLLECTOR)


@hookimpl
def register_commands(register: Callable[[Command], None]) -> None:
    from auditbridge_okta.cli import configure

    register(Command(name="okta", help="backfill or poll the Okta System Log API", configure=configure))
