"""Loading plugins and dispatching events to the mapper that claims their source.

:class:`PluginManager` is the only code that talks to pluggy. Plugins are found through
the ``auditbridge`` entry-point group -- built-in ones too -- and load once per process
(:func:`get_plugin_manager`). ``AUDITBRIDGE_PLUGINS`` restricts loading to a comma-separated
list of entry-point names (empty: load none), for debugging and for tests.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

from auditbridge import hookspecs
from auditbridge.commands import Command
from auditbridge.errors import ConfigurationError, PluginConflictError, UnknownSourceError
from auditbridge.mappers import Mapper

if TYPE_CHECKING:
    from auditbridge.collectors import Collector
    from auditbridge.destinations import SinkRegistry

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
PLUGINS_ENV = "AUDITBRIDGE_PLUGINS"


@dataclass(frozen=True, slots=True)
class Distribution:
    """Where a plugin came from, for listings and error messages."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


UNKNOWN_DISTRIBUTION = Distribution("(registered in code)", "-")


@dataclass(frozen=True, slots=True)
class RegisteredMapper:
    mapper: Mapper
    distribution: Distribution

    @property
    def name(self) -> str:
        return self.mapper.name


class MapperRegistry:
    """All registered mappers, and source -> mapper dispatch.

    An exact source claim beats any pattern; among patterns the longest prefix wins.
    Resolutions are cached per source string: a batch has few distinct sources.
    """

    def __init__(self) -> None:
        self._by_name: dict[str, RegisteredMapper] = {}
        self._exact: dict[str, RegisteredMapper] = {}
        self._prefixes: list[tuple[str, RegisteredMapper]] = []
        self._cache: dict[str, RegisteredMapper | None] = {}

    def register(self, mapper: Mapper, distribution: Distribution = UNKNOWN_DISTRIBUTION) -> None:
        if not isinstance(mapper, Mapper):
            raise ConfigurationError(
                f"{distribution} registered {type(mapper).__name__!s}, not an auditbridge Mapper",
                code="InvalidPlugin",
            )
        entry = RegisteredMapper(mapper, distribution)
        if (other := self._by_name.get(mapper.name)) is not None:
            raise PluginConflictError(
                f"two mappers are named {mapper.name!r}: one from {other.distribution}, one from {distribution}",
                hint="uninstall one of the two distributions",
            )
        for pattern in mapper.sources:
            owner = self._claimant(pattern)
            if owner is not None:
                raise PluginConflictError(
                    f"source {pattern!r} is claimed by mapper {owner.name!r} ({owner.distribution}) "
                    f"and by mapper {mapper.name!r} ({distribution})",
                    hint="uninstall one of the two distributions, or narrow one mapper's sources",
                )
        self._by_name[mapper.name] = entry
        for pattern in mapper.sources:
            if pattern.endswith("*"):
                self._prefixes.append((pattern[:-1], entry))
            else:
                self._exact[pattern] = entry
        self._prefixes.sort(key=lambda item: len(item[0]), reverse=True)
        self._cache.clear()

    def _claimant(self, pattern: str) -> RegisteredMapper | None:
        if pattern.endswith("*"):
            prefix = pattern[:-1]
            return next((entry for p, entry in self._prefixes if p == prefix), None)
        return self._exact.get(pattern)

    def resolve(self, source: str) -> RegisteredMapper:
        try:
            found = self._cache[source]
        except KeyError:
            found = self._exact.get(source)
            if found is None:
                found = next((entry for prefix, entry in self._prefixes if source.startswith(prefix)), None)
            self._cache[source] = found
        if found is None:
            raise UnknownSourceError(
                "no installed mapper handles this EventBridge source",
                source=source,
                field="source",
                hint="install the plugin for this product (`auditbridge plugins` lists what is installed)",
            )
        return found

    def get(self, name: str) -> RegisteredMapper:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise ConfigurationError(
                f"no mapper named {name!r}; installed mappers: {known}", code="UnknownMapper"
            ) from None

    def __iter__(self) -> Iterator[RegisteredMapper]:
        return iter(sorted(self._by_name.values(), key=lambda entry: entry.name))

    def __len__(self) -> int:
        return len(self._by_name)


class PluginManager:
    """A typed wrapper around pluggy: one method per hook, nothing else calls ``pm.hook``."""

    def __init__(self) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._distributions: dict[int, Distribution] = {}

    def load_entry_points(self, only: Iterable[str] | None = None) -> None:
        """Register every plugin of the ``auditbridge`` entry-point group (or only the named ones)."""
        wanted = None if only is None else set(only)
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if wanted is not None and ep.name not in wanted:
                continue
            if self._pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                raise ConfigurationError(
                    f"plugin {ep.name!r} ({ep.value}) failed to import: {type(exc).__name__}: {exc}",
                    code="PluginImportFailed",
                    hint="reinstall the plugin or remove it from the environment",
                ) from exc
            dist = ep.dist
            self.register(
                plugin,
                name=ep.name,
                distribution=Distribution(dist.name, dist.version) if dist else UNKNOWN_DISTRIBUTION,
            )

    def register(self, plugin: Any, *, name: str, distribution: Distribution = UNKNOWN_DISTRIBUTION) -> None:
        try:
            self._pm.register(plugin, name=name)
            # A misspelt hook implementation fails here, at load time, not silently later.
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:
            if self._pm.is_registered(plugin):
                self._pm.unregister(plugin)
            raise _invalid_plugin(name, distribution, exc) from None
        self._distributions[id(plugin)] = distribution

    def _call_each(self, hook: str, accept: Callable[[Any, Distribution], None]) -> None:
        """Call ``hook`` on every plugin, one at a time, so that each registration is attributed
        to its own distribution: ``accept(registered, distribution)`` receives them."""
        for impl in reversed(getattr(self._pm.hook, hook).get_hookimpls()):
            distribution = self._distributions.get(id(impl.plugin), UNKNOWN_DISTRIBUTION)

            def register(item: Any, _dist: Distribution = distribution) -> None:
                accept(item, _dist)

            impl.function(register=register)

    def mapper_registry(self) -> MapperRegistry:
        """Ask every plugin for its mappers, attributing each to its distribution."""
        registry = MapperRegistry()
        self._call_each("register_mappers", registry.register)
        return registry

    def sink_registry(self) -> SinkRegistry:
        """Ask every plugin for its destination kinds, attributing each to its distribution."""
        from auditbridge.destinations import SinkRegistry

        registry = SinkRegistry()
        self._call_each("register_sinks", registry.register)
        return registry

    def collectors(self) -> dict[str, tuple[Collector, Distribution]]:
        """Every registered pull source by name, with who registered it."""
        from auditbridge.collectors import Collector

        found: dict[str, tuple[Collector, Distribution]] = {}

        def accept(collector: Any, distribution: Distribution) -> None:
            _check_type(collector, Collector, distribution)
            if collector.name in found:
                raise _conflict("collector", collector.name, found[collector.name][1], distribution)
            found[collector.name] = (collector, distribution)

        self._call_each("register_collectors", accept)
        return found

    def commands(self) -> list[tuple[Command, Distribution]]:
        """Subcommands plugins add to the command line, with who added them."""
        found: list[tuple[Command, Distribution]] = []

        def accept(command: Any, distribution: Distribution) -> None:
            _check_type(command, Command, distribution)
            for other, other_dist in found:
                if other.name == command.name:
                    raise _conflict("command", command.name, other_dist, distribution)
            found.append((command, distribution))

        self._call_each("register_commands", accept)
        return found


def _check_type(item: Any, kind: type, distribution: Distribution) -> None:
    if not isinstance(item, kind):
        raise ConfigurationError(
            f"{distribution} registered {type(item).__name__}, not a {kind.__name__}", code="InvalidPlugin"
        )


def _conflict(what: str, name: str, first: Distribution, second: Distribution) -> PluginConflictError:
    return PluginConflictError(
        f"{what} {name!r} is registered by {first} and by {second}", hint="uninstall one of the two distributions"
    )


def _invalid_plugin(name: str, distribution: Distribution, exc: pluggy.PluginValidationError) -> ConfigurationError:
    """A clear error for a plugin pluggy refuses, with the hook it probably meant."""
    import difflib
    import re

    text = str(exc)
    unknown = re.search(r"unknown hook '(\w+)'", text)
    if unknown is None:
        return ConfigurationError(
            f"plugin {name!r} ({distribution}) is invalid: {text}",
            code="InvalidPlugin",
            hint="see docs/plugin-authors.md for the hooks and their signatures",
        )
    hooks = sorted(n for n in dir(hookspecs) if n.startswith("register_"))
    close = difflib.get_close_matches(unknown[1], hooks, n=1)
    suggestion = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigurationError(
        f"plugin {name!r} ({distribution}) implements {unknown[1]!r}, which is not an auditbridge hook{suggestion}",
        code="UnknownHook",
        hint=f"the hooks are {', '.join(hooks)} (docs/plugin-authors.md)",
    )


#: Entry points of auditbridge itself, loaded whatever AUDITBRIDGE_PLUGINS says: the built-in sinks.
BUILT_IN_ENTRY_POINTS = ("sinks",)


def plugins_from_env() -> list[str] | None:
    value = os.environ.get(PLUGINS_ENV)
    if value is None:
        return None
    return [*BUILT_IN_ENTRY_POINTS, *(name.strip() for name in value.split(",") if name.strip())]


@functools.cache
def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager, with entry-point plugins loaded once."""
    manager = PluginManager()
    manager.load_entry_points(plugins_from_env())
    return manager


@functools.cache
def get_sink_registry() -> SinkRegistry:
    """The process-wide registry of destination kinds."""
    return get_plugin_manager().sink_registry()


@functools.cache
def get_mapper_registry() -> MapperRegistry:
    """The process-wide mapper registry (plugins load once per process)."""
    registry = get_plugin_manager().mapper_registry()
    log.debug("loaded %d mappers", len(registry))
    return registry
