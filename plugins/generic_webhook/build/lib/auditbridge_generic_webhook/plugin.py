"""Registers the generic webhook mapper and the ``auditbridge webhook`` command."""

from __future__ import annotations

from collections.abc import Callable

from auditbridge import Mapper, hookimpl
from auditbridge.commands import Command

from auditbridge_generic_webhook.mapper import SOURCES, map_webhook_event


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
