"""Destinations by address, the kinds plugins register for them, and which sources go where.

An address is ``<kind>:<target>[?key=value&...]``: ``cloudtrail-lake:<channel ARN>``,
``cloudwatch-logs:/audit/okta?create=true``, ``firehose:audit-stream``, ``local:./lake.duckdb``,
or any kind a plugin registers (hook ``register_sinks``). A :class:`Routes` table sends each
EventBridge source to its list of destinations: the most specific pattern wins (an exact source
beats any ``prefix*``, the longest prefix beats shorter ones), and ``*`` catches the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from auditbridge.errors import ConfigurationError, PluginConflictError

if TYPE_CHECKING:
    from auditbridge.plugins import Distribution
    from auditbridge.sinks import Sink, SinkLimits

SinkFactory = Callable[[str, Mapping[str, str]], "Sink"]
_KIND_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


@dataclass(frozen=True, slots=True)
class SinkKind:
    """A kind of destination: its name (the address prefix), how to build one, and its limits."""

    name: str
    factory: SinkFactory
    description: str = ""
    limits: SinkLimits | None = None

    def __post_init__(self) -> None:
        if not _KIND_RE.match(self.name):
            raise ValueError(f"sink kind {self.name!r} must be lower case letters, digits and dashes")


@dataclass(frozen=True, slots=True)
class Address:
    kind: str
    target: str
    settings: Mapping[str, str]
    text: str

    @classmethod
    def parse(cls, text: str) -> Address:
        address = text.strip()
        kind, sep, rest = address.partition(":")
        if not sep or not _KIND_RE.match(kind) or not rest:
            raise ConfigurationError(
                f"{address[:200]!r} is not a destination address",
                code="InvalidDestination",
                hint="write <kind>:<target>, e.g. cloudwatch-logs:/audit/okta or firehose:audit-stream "
                "(`auditbridge destinations` lists the kinds)",
            )
        target, _, query = rest.partition("?")
        try:
            settings = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
        except ValueError:
            raise ConfigurationError(
                f"{address[:200]!r}: settings after '?' must be key=value pairs joined by '&'",
                code="InvalidDestination",
            ) from None
        return cls(kind, target, settings, address)


@dataclass(slots=True)
class RegisteredKind:
    kind: SinkKind
    distribution: Distribution


class SinkRegistry:
    """Every registered destination kind, and sinks built from addresses."""

    def __init__(self) -> None:
        self._kinds: dict[str, RegisteredKind] = {}

    def register(self, kind: SinkKind, distribution: Distribution) -> None:
        if not isinstance(kind, SinkKind):
            raise ConfigurationError(
                f"{distribution} registered {type(kind).__name__}, not an auditbridge SinkKind", code="InvalidPlugin"
            )
        other = self._kinds.get(kind.name)
        if other is not None:
            raise PluginConflictError(
                f"destination kind {kind.name!r} is registered by {other.distribution} and by {distribution}",
                hint="uninstall one of the two distributions",
            )
        self._kinds[kind.name] = RegisteredKind(kind, distribution)

    def get(self, name: str) -> RegisteredKind:
        try:
            return self._kinds[name]
        except KeyError:
            known = ", ".join(sorted(self._kinds)) or "none"
            raise ConfigurationError(
                f"no destination kind {name!r}; installed kinds: {known}",
                code="UnknownDestinationKind",
                hint="install the plugin that provides it (`auditbridge destinations` lists them)",
            ) from None

    def build(self, text: str) -> Sink:
        """The sink for an address; ``ConfigurationError`` for an unknown kind or a bad target."""
        address = Address.parse(text)
        sink = self.get(address.kind).kind.factory(address.target, address.settings)
        if not getattr(sink, "address", None):
            sink.address = address.text.split("?", 1)[0]  # type: ignore[attr-defined]
        return sink

    def __iter__(self) -> Iterator[RegisteredKind]:
        return iter(sorted(self._kinds.values(), key=lambda entry: entry.kind.name))


@dataclass(slots=True)
class Routes:
    """Which destinations each EventBridge source goes to."""

    #: pattern (exact source, ``prefix*`` or ``*``) -> destination addresses
    table: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: line numbers of the routing file, for messages
    lines: dict[str, int] = field(default_factory=dict)
    _cache: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def everything_to(cls, addresses: Sequence[str]) -> Routes:
        return cls({"*": tuple(addresses)})

    @property
    def addresses(self) -> list[str]:
        """Every destination any route names, in first-seen order."""
        return list(dict.fromkeys(address for targets in self.table.values() for address in targets))

    def renamed(self, names: Mapping[str, str]) -> Routes:
        """The same routes with addresses renamed (an address with settings to its sink's address)."""
        return Routes(
            {pattern: tuple(names.get(a, a) for a in targets) for pattern, targets in self.table.items()},
            dict(self.lines),
        )

    def destinations_for(self, source: str | None) -> tuple[str, ...]:
        """The addresses ``source`` goes to; empty when no route matches."""
        key = source or ""
        found = self._cache.get(key)
        if found is None:
            found = self.table.get(key)
            if found is None:
                prefixes = sorted((p for p in self.table if p.endswith("*")), key=len, reverse=True)
                match = next((p for p in prefixes if key.startswith(p[:-1])), None)
                found = self.table[match] if match is not None else ()
            self._cache[key] = found
        return found


def parse_routes(text: str, origin: str = "the routing file") -> Routes:
    """Parse a routing file: one ``<source pattern> = <address>[, <address>...]`` per line.

    ``#`` starts a comment; a pattern is an exact source, ``prefix*`` or ``*`` (everything
    else). Errors name the line.
    """
    routes = Routes()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        pattern, sep, targets = line.partition("=")
        pattern = pattern.strip()
        addresses = tuple(part.strip() for part in targets.split(",") if part.strip())
        where = f"{origin}, line {number}"
        if not sep or not pattern or not addresses:
            raise ConfigurationError(
                f"{where}: expected '<source pattern> = <destination>[, <destination>...]'",
                code="InvalidRoutes",
            )
        if " " in pattern or "*" in pattern[:-1]:
            raise ConfigurationError(
                f"{where}: a source pattern is an exact source or ends in a single '*'", code="InvalidRoutes"
            )
        if pattern in routes.table:
            raise ConfigurationError(
                f"{where}: {pattern!r} is routed already on line {routes.lines[pattern]}", code="InvalidRoutes"
            )
        for address in addresses:
            try:
                Address.parse(address)
            except ConfigurationError as exc:
                raise ConfigurationError(f"{where}: {exc.message}", code="InvalidRoutes", hint=exc.hint) from None
        routes.table[pattern] = addresses
        routes.lines[pattern] = number
    if not routes.table:
        raise ConfigurationError(f"{origin} routes nothing", code="InvalidRoutes")
    return routes


def split_addresses(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def describe_kind(entry: RegisteredKind) -> dict[str, Any]:
    return {
        "kind": entry.kind.name,
        "distribution": entry.distribution.name,
        "version": entry.distribution.version,
        "description": entry.kind.description,
        "limits": entry.kind.limits.describe() if entry.kind.limits else "",
    }
