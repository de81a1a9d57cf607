"""Registers the generic webhook mapper and the ``auditbridge webhook`` command.

Registering imports nothing heavy: the mapper (with its configuration, YAML and JMESPath) loads
at the first webhook event, so a function that never sees one does not pay for it at cold start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from auditbridge import Mapper, hookimpl
from auditbridge.commands import Command

if TYPE_CHECKING:
    from auditbridge import EventBridgeEvent, EventData, MappingContext

#: Sources of webhook events: ``webhook.<source name>`` (``config.SOURCE_PREFIX``).
SOURCES = ("webhook.*",)


def map_webhook_event(event: EventBridgeEvent, context: MappingContext) -> EventData:
    from auditbridge_generic_webhook.mapper import map_webhook_event as mapped

    return mapped(event, context)


@hookimpl
def register_mappers(register: Callable[[Mapper], None]) -> None:
    register(
        Mapper(
            name="webhook",
            sources=SOURCES,
            map_event=map_webhook_event,
            description="any signed webhook, mapped by configuration (presets: GitHub, Slack, Auth0, ...)",
        )
    )


@hookimpl
def register_commands(register: Callable[[Command], None]) -> None:
    from auditbridge_generic_webhook.cli import configure

    register(
        Command(name="webhook", help="the signed-webhook intake (serve locally, check a config)", configure=configure)
    )
