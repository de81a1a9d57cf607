"""The hooks a plugin can implement. This file is the whole plugin API surface.

A plugin is a module (or object) exposed through the ``auditbridge`` entry-point group::

    [project.entry-points.auditbridge]
    okta = "auditbridge_okta.plugin"

and implements one or more of the hooks below, decorated with :data:`hookimpl`. Each hook
hands the plugin a ``register`` callback; the framework owns validation, conflict checks
and bookkeeping (which distribution registered what), so plugins never touch the plugin
manager. See ``docs/plugin-authors.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from auditbridge.collectors import Collector
    from auditbridge.commands import Command
    from auditbridge.destinations import SinkKind
    from auditbridge.mappers import Mapper

PROJECT_NAME = "auditbridge"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_mappers(register: Callable[[Mapper], None]) -> None:
    """Register the mappers this plugin provides.

    Signature: ``register_mappers(register: Callable[[Mapper], None]) -> None``

    Call ``register(Mapper(name=..., sources=(...), map_event=...))`` once per mapper.
    ``sources`` holds exact EventBridge ``source`` names and ``prefix*`` patterns; the
    most specific claim wins at dispatch, and two mappers claiming the same name or
    pattern stop loading with an error naming both distributions.
    """


@hookspec
def register_commands(register: Callable[[Command], None]) -> None:
    """Add subcommands to the ``auditbridge`` command line.

    Signature: ``register_commands(register: Callable[[Command], None]) -> None``

    Call ``register(Command(name=..., help=..., configure=...))``; ``configure`` receives the
    subcommand's ``argparse`` parser, adds its arguments and sets ``run`` with
    ``parser.set_defaults(run=function)``, where ``function(args) -> int`` returns the exit
    status. A name already taken is an error naming both distributions.
    """


@hookspec
def register_sinks(register: Callable[[SinkKind], None]) -> None:
    """Register the destination kinds this plugin provides.

    Signature: ``register_sinks(register: Callable[[SinkKind], None]) -> None``

    Call ``register(SinkKind(name=..., factory=..., description=..., limits=...))`` once per
    kind. ``factory(target, settings)`` builds the sink for an address ``<name>:<target>[?k=v&...]``
    (``settings`` holds the ``k=v`` pairs) and raises ``ConfigurationError`` for a bad one. The
    built-in kinds (``cloudtrail-lake``, ``cloudwatch-logs``, ``firehose``, ``local``) come
    through this same hook; a kind registered twice stops loading with an error naming both
    distributions.
    """


@hookspec
def register_collectors(register: Callable[[Collector], None]) -> None:
    """Register the pull sources this plugin provides.

    Signature: ``register_collectors(register: Callable[[Collector], None]) -> None``

    Call ``register(Collector(name=..., source=..., fetch=...))`` once per collector.
    ``source`` is the EventBridge ``source`` its events carry, so dispatch finds the mapper that
    already handles the product; ``fetch(request)`` yields pages of raw events with the
    checkpoint after each (``auditbridge.collectors``). Checkpoints, waits, retries, progress and
    delivery are the framework's. A name registered twice stops loading with an error naming
    both distributions.
    """
