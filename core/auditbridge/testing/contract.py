"""The mapper contract: the checks every mapper must pass before its output reaches AWS.

A fixture folder (searched recursively) holds EventBridge events, one per ``<name>.json``,
each with the expected result in ``<name>.expected.json``: either the entry (``{"id": ...,
"eventData": {...}}``) or a rejection of the *input* (``{"rejected": {"errorCode": ...,
"field": ...}}``). ``write_expected`` creates or refreshes those files from the mapper's
current output, for review in a diff; it never records a mapper bug (its own output breaking
the schema, an unclassified exception) as an expected outcome.

Every mapping runs watched (:mod:`auditbridge.testing.guard`): without network, within a time
budget, and a hang is reported as a hang naming the fixture instead of being waited on.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from auditbridge.endpoint.service import check_entry
from auditbridge.envelope import EventBridgeEvent
from auditbridge.errors import AuditBridgeError, PermanentError, SchemaViolation
from auditbridge.mappers import Mapper, MappingContext
from auditbridge.messages import InboundMessage
from auditbridge.models import MAX_REQUEST_BYTES, AuditEvent, EventData, checksum
from auditbridge.packing import fits_in_one_request
from auditbridge.plugins import Distribution, MapperRegistry, get_mapper_registry
from auditbridge.preparation import EventPreparer, Prepared, Rejected
from auditbridge.testing.guard import WatchedRunner
from auditbridge.testing.hostile import hostile_variants

DEFAULT_ACCOUNT = "123456789012"
#: Error codes that mean the mapper leaked an exception it should have classified.
UNCLASSIFIED_CODES = frozenset({"MapperFailed", "InternalError"})
EXPECTED_SUFFIX = ".expected.json"
#: The pseudo-fixture that suite-wide checks report against.
ALL_FIXTURES = "(all fixtures)"
#: What fixes a schema violation of the mapper's own output, by field.
FIXES = {
    "eventTime": "produce it with auditbridge.timestamps.to_event_time(text) or epoch_to_event_time(number)",
    "requestParameters": "trim it with auditbridge.fitting.fit_object(data, REQUEST_PARAMETERS_MAX_BYTES)",
    "responseElements": "trim it with auditbridge.fitting.fit_object(data, RESPONSE_ELEMENTS_MAX_BYTES)",
    "additionalEventData": "trim it with auditbridge.fitting.fit_object(data, ADDITIONAL_EVENT_DATA_MAX_BYTES)",
    "sourceIPAddress": "pass auditbridge.models.normalize_ip_address(value), which is None for a non-address",
    "recipientAccountId": "use context.recipient_account_id",
}


@dataclass(frozen=True, slots=True)
class Fixture:
    name: str
    path: Path

    @property
    def expected_path(self) -> Path:
        return self.path.with_name(self.path.name.removesuffix(".json") + EXPECTED_SUFFIX)

    def event(self) -> dict[str, Any]:
        data = orjson.loads(self.path.read_bytes())
        if not isinstance(data, dict):
            raise ValueError(f"{self.path}: a fixture must be one EventBridge event (a JSON object)")
        return data

    def expected(self) -> dict[str, Any] | None:
        if not self.expected_path.exists():
            return None
        data = orjson.loads(self.expected_path.read_bytes())
        return data if isinstance(data, dict) else None


@dataclass(frozen=True, slots=True)
class Violation:
    check: str
    fixture: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.fixture}: {self.message}"


@dataclass(slots=True)
class ContractReport:
    mapper: str
    fixtures: int = 0
    checks_run: int = 0
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations and self.fixtures > 0


@dataclass
class Contract:
    """A mapper under test and its fixture folder."""

    mapper: Mapper
    events_dir: Path
    recipient_account_id: str = DEFAULT_ACCOUNT
    #: The most one event may take to map, and the most the median over the fixtures may take.
    max_seconds: float = 1.0
    median_seconds: float = 0.05
    #: A mapping still running after this long is reported as a hang (default: 10 x max_seconds, at least 5 s).
    hang_seconds: float | None = None
    #: The most the hostile variants of all fixtures may take together.
    hostile_seconds: float = 300.0
    #: Modules imported offline by the ``imports_offline`` check (default: the mapper's own).
    modules: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        registry = MapperRegistry()
        registry.register(self.mapper, Distribution("(under test)", "-"))
        self.preparer = EventPreparer(registry, recipient_account_id=self.recipient_account_id)
        self.runner = WatchedRunner(self.hang_seconds or max(5.0, 10 * self.max_seconds))
        if not self.modules:
            self.modules = _importable((self.mapper.map_event.__module__,))
        self._hostile_bases: list[Fixture] | None = None

    @classmethod
    def for_mapper(cls, mapper: str | Mapper, events_dir: str | Path, **kwargs: Any) -> Contract:
        if isinstance(mapper, str):
            entry = get_mapper_registry().get(mapper)
            mapper = entry.mapper
            kwargs.setdefault("modules", _plugin_modules(entry.distribution.name, mapper))
        return cls(mapper, Path(events_dir), **kwargs)

    def fixtures(self) -> list[Fixture]:
        """Every ``*.json`` below the folder (nested folders too), by relative path."""
        paths = sorted(p for p in self.events_dir.rglob("*.json") if not p.name.endswith(EXPECTED_SUFFIX))
        return [Fixture(p.relative_to(self.events_dir).as_posix().removesuffix(".json"), p) for p in paths]

    def prepare(self, event: Any) -> Prepared | Rejected:
        """Map one event under watch; a hang, network use or a blown budget raises :class:`WatchViolation`."""
        result, problems = self.watched(event)
        if result is None or problems:
            raise WatchViolation(problems)
        return result

    def watched(self, event: Any) -> tuple[Prepared | Rejected | None, list[str]]:
        """Map one event without network and within the budget; the result (None after a hang) and problems."""
        # The standard library's encoder, because orjson refuses the 300-level hostile variants
        # that a producer could still send.
        body = json.dumps(event, ensure_ascii=False)
        timed = self.runner.run(lambda: self.preparer.prepare(InboundMessage("contract", body)))
        problems = [
            f"the mapper used the network ({use}); mappers must work on the event alone" for use in timed.network
        ]
        if timed.hung:
            problems.append(
                f"the mapper did not return within {self.runner.hang_seconds:g} s: a hang, or far over the "
                f"{self.max_seconds:g} s budget per event"
            )
            return None, problems
        if timed.error is not None:
            problems.append(f"the pipeline raised {type(timed.error).__name__}: a bug in auditbridge, please report it")
            return None, problems
        if timed.seconds > self.max_seconds:
            problems.append(f"mapping took {timed.seconds:.2f} s; the budget is {self.max_seconds:g} s per event")
        return timed.value, problems

    # -- the checks ---------------------------------------------------------------------

    def check_source_claimed(self, fixture: Fixture) -> list[str]:
        source = fixture.event().get("source")
        try:
            self.preparer.registry.resolve(str(source))
        except AuditBridgeError:
            return [f"the mapper does not claim this fixture's source {source!r}"]
        return []

    def check_maps_cleanly(self, fixture: Fixture) -> list[str]:
        result, problems = self.watched(fixture.event())
        return problems + _problems_of(result, self.recipient_account_id)

    def check_matches_expected(self, fixture: Fixture) -> list[str]:
        expected = fixture.expected()
        if expected is None:
            return [f"no {fixture.expected_path.name}; create it with `auditbridge plugins check --write-expected`"]
        result, problems = self.watched(fixture.event())
        if result is None:
            return problems
        actual = describe_result(result)
        if actual != expected:
            return [f"output differs from {fixture.expected_path.name}:\n{_diff(expected, actual)}"]
        return []

    def check_deterministic(self, fixture: Fixture) -> list[str]:
        event = fixture.event()
        first, problems = self.watched(event)
        second, again = self.watched(fixture.event())
        if first is None or second is None:
            return problems + again
        if self._mutates_input(event):
            problems.append("the mapper modified its input event; mappers must not change event.detail")
        if isinstance(first, Prepared) and isinstance(second, Prepared):
            if first.entry != second.entry:
                problems.append("mapping the same event twice gave different entries (ids or bytes)")
        elif isinstance(first, Rejected) and isinstance(second, Rejected):
            if first.error.code != second.error.code:
                problems.append("rejecting the same event twice gave different error codes")
        else:
            problems.append("the same event was mapped once and rejected once")
        return problems

    def _mutates_input(self, event: dict[str, Any]) -> bool:
        # The pipeline parses each message afresh, so only a direct call shows mutation.
        try:
            envelope = EventBridgeEvent.from_dict(event)
        except AuditBridgeError:
            return False
        pristine = copy.deepcopy(envelope.detail)
        context = MappingContext(self.recipient_account_id)
        with contextlib.suppress(Exception):
            self.mapper.map_event(envelope, context)
        return bool(envelope.detail != pristine)

    def check_hostile_inputs(self, fixture: Fixture) -> list[str]:
        bases = max(1, len(self.hostile_bases()))
        budget = self.hostile_seconds / bases
        started = time.monotonic()
        problems = []
        variants = list(hostile_variants(fixture.event()))
        for count, (description, variant) in enumerate(variants):
            if time.monotonic() - started > budget:
                problems.append(
                    f"the hostile variants ran past their {budget:.0f} s share of the time budget after "
                    f"{count} of {len(variants)}: the mapper is too slow on hostile input"
                )
                break
            result, watch = self.watched(variant)
            for problem in watch + _problems_of(result, self.recipient_account_id):
                problems.append(f"{description}: {problem}")
            if result is None:  # a hang: the rest would hang too
                break
        return problems

    def check_some_fixture_maps(self, fixture: Fixture) -> list[str]:
        fixtures = self.fixtures()
        if not fixtures:
            return [f"no *.json fixtures in {self.events_dir}"]
        results = [self.watched(f.event())[0] for f in fixtures]
        if not any(isinstance(result, Prepared) for result in results):
            return [f"none of the {len(fixtures)} fixtures maps to an entry; a mapper must map something"]
        return []

    def check_median_time(self, fixture: Fixture) -> list[str]:
        seconds = []
        for each in self.fixtures():
            started = time.perf_counter()
            result, _ = self.watched(each.event())
            if result is None:
                return []  # a hang is reported by the fixture's own checks
            seconds.append(time.perf_counter() - started)
        if seconds and statistics.median(seconds) > self.median_seconds:
            return [
                f"the median mapping takes {statistics.median(seconds) * 1000:.0f} ms; the budget is "
                f"{self.median_seconds * 1000:.0f} ms (Contract(median_seconds=...) to change it)"
            ]
        return []

    def check_imports_offline(self, fixture: Fixture) -> list[str]:
        return imports_offline(self.modules)

    def checks(self) -> dict[str, Callable[[Fixture], list[str]]]:
        return {
            "source_claimed": self.check_source_claimed,
            "maps_cleanly": self.check_maps_cleanly,
            "matches_expected": self.check_matches_expected,
            "deterministic": self.check_deterministic,
        }

    def suite_checks(self) -> dict[str, Callable[[Fixture], list[str]]]:
        return {
            "some_fixture_maps": self.check_some_fixture_maps,
            "median_time": self.check_median_time,
            "imports_offline": self.check_imports_offline,
        }

    def cases(self) -> Iterator[tuple[str, Fixture]]:
        """Every (check name, fixture) pair the suite runs; suite-wide checks name ``(all fixtures)``."""
        fixtures = self.fixtures()
        everything = Fixture(ALL_FIXTURES, self.events_dir)
        for name in self.suite_checks():
            yield name, everything
        for fixture in fixtures:
            for name in self.checks():
                yield name, fixture
        for fixture in self.hostile_bases():
            yield "hostile_inputs", fixture

    def hostile_bases(self) -> list[Fixture]:
        """One fixture per distinct eventName the mapper produces: each path through the mapper is attacked."""
        if self._hostile_bases is None:
            chosen: dict[str, Fixture] = {}
            for fixture in self.fixtures():
                result: Prepared | Rejected | None = None
                with contextlib.suppress(Exception):  # an unreadable fixture: its own checks say so
                    result, _ = self.watched(fixture.event())
                if isinstance(result, Prepared):
                    name = orjson.loads(result.entry.eventData).get("eventName", "")
                    chosen.setdefault(str(name), fixture)
            self._hostile_bases = list(chosen.values())
        return self._hostile_bases

    def run_case(self, check: str, fixture: Fixture) -> list[Violation]:
        checks = {**self.checks(), **self.suite_checks(), "hostile_inputs": self.check_hostile_inputs}
        try:
            problems = checks[check](fixture)
        except Exception as exc:  # a broken fixture file is a violation, not a crash of the kit
            problems = [f"the check itself failed: {type(exc).__name__}: {exc}"]
        return [Violation(check, fixture.name, problem) for problem in problems]

    def run(self) -> ContractReport:
        report = ContractReport(self.mapper.name)
        report.fixtures = len(self.fixtures())
        for check, fixture in self.cases():
            report.checks_run += 1
            report.violations.extend(self.run_case(check, fixture))
        return report

    def outcomes(self) -> list[tuple[str, str]]:
        """Per fixture, what happened, in one line: for the command line's report."""
        lines = []
        for fixture in self.fixtures():
            try:
                result, problems = self.watched(fixture.event())
            except Exception as exc:
                lines.append((fixture.name, f"unreadable: {type(exc).__name__}"))
                continue
            if result is None:
                lines.append((fixture.name, problems[-1]))
            elif isinstance(result, Prepared):
                name = orjson.loads(result.entry.eventData).get("eventName")
                lines.append((fixture.name, f"mapped: {name} (id {result.entry.id})"))
            else:
                lines.append((fixture.name, f"rejected: {result.error.code} ({result.error.stage.value})"))
        return lines

    def write_expected(self) -> ExpectedFiles:
        """Write each fixture's ``*.expected.json`` from the current output; mapper bugs are refused, not written."""
        done = ExpectedFiles()
        for fixture in self.fixtures():
            result, problems = self.watched(fixture.event())
            problems = problems + _problems_of(result, self.recipient_account_id)
            if result is None or problems:
                done.refused.extend(Violation("write_expected", fixture.name, problem) for problem in problems)
                continue
            text = orjson.dumps(describe_result(result), option=_PRETTY) + b"\n"
            if not fixture.expected_path.exists() or fixture.expected_path.read_bytes() != text:
                fixture.expected_path.write_bytes(text)
                done.written.append(fixture.expected_path)
        return done


@dataclass(slots=True)
class ExpectedFiles:
    """What :meth:`Contract.write_expected` did."""

    written: list[Path] = field(default_factory=list)
    #: Fixtures whose result is a mapper bug: no expected file may bless it.
    refused: list[Violation] = field(default_factory=list)


class WatchViolation(Exception):
    """A watched mapping hung, used the network or blew its budget."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def imports_offline(modules: tuple[str, ...]) -> list[str]:
    """Import ``modules`` in a fresh interpreter with the network refused; what they reached for.

    The interpreter gets this process's ``sys.path``, so a mapper defined in a test module imports too.
    """
    if not modules:
        return []
    script = (
        "import importlib, json, sys\n"
        "from auditbridge.testing.guard import no_network\n"
        "failures = []\n"
        "with no_network() as used:\n"
        "    for name in sys.argv[1:]:\n"
        "        try:\n"
        "            importlib.import_module(name)\n"
        "        except Exception as exc:\n"
        "            failures.append(f'{name}: {type(exc).__name__}')\n"
        "print(json.dumps({'network': [str(u) for u in used], 'failures': failures}))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script, *modules], capture_output=True, text=True, timeout=120, check=False, env=env
    )
    try:
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return [f"importing {', '.join(modules)} failed: {done.stderr.strip().splitlines()[-1:]}"]
    problems = [
        f"importing the plugin used the network ({use}); do that lazily, never at import" for use in found["network"]
    ]
    problems += [f"importing {failure} failed while the network was refused" for failure in found["failures"]]
    return problems


def _plugin_modules(distribution: str, mapper: Mapper) -> tuple[str, ...]:
    """The entry-point modules of ``distribution`` and the mapper function's module."""
    import importlib.metadata

    from auditbridge.plugins import ENTRY_POINT_GROUP

    modules = [
        ep.module
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.dist is not None and ep.dist.name == distribution
    ]
    return _importable((*modules, mapper.map_event.__module__))


def _importable(modules: tuple[str | None, ...]) -> tuple[str, ...]:
    """Module names a fresh interpreter can import (not code run from a string or ``__main__``)."""
    return tuple(dict.fromkeys(m for m in modules if m and m not in {"__main__", "builtins"}))


_PRETTY = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def describe_result(result: Prepared | Rejected) -> dict[str, Any]:
    """The comparable form of a result, as stored in ``*.expected.json``."""
    if isinstance(result, Prepared):
        return {"id": result.entry.id, "eventData": orjson.loads(result.entry.eventData)}
    rejected: dict[str, Any] = {"errorCode": result.error.code, "stage": result.error.stage.value}
    if result.error.field:
        rejected["field"] = result.error.field
    return {"rejected": rejected}


def _problems_of(result: Prepared | Rejected | None, account_id: str) -> list[str]:
    if result is None:
        return []
    if isinstance(result, Rejected):
        error = result.error
        if error.code in UNCLASSIFIED_CODES or not isinstance(error, PermanentError):
            return [f"unclassified failure: {error.describe()}"]
        if isinstance(error, SchemaViolation):
            # The framework refused what the mapper produced: never an expected outcome.
            fix = FIXES.get((error.field or "").split(".")[0]) or _generic_fix(error)
            return [f"the mapper's own output breaks the schema: {error.message} (field {error.field}); {fix}"]
        return []
    return entry_problems(result.entry, account_id)


def _generic_fix(error: AuditBridgeError) -> str:
    if error.code == "FieldTooLong":
        return "cut it with auditbridge.fitting.clip(text, limit)"
    return "give every field the type and form docs/plugin-authors.md lists (strings where the schema says string)"


def entry_problems(entry: AuditEvent, account_id: str) -> list[str]:
    """Everything wrong with an entry, by the client's rules and by the service's."""
    problems = []
    data = entry.eventData.encode("utf-8")
    if entry.eventDataChecksum != checksum(data):
        problems.append("eventDataChecksum does not match eventData")
    try:
        EventData.model_validate_json(data, strict=False)
    except ValueError as exc:
        problems.append(f"eventData is not schema-valid: {exc}")
    verdict = check_entry(entry.to_request_entry(), account_id)
    if verdict is not None:
        problems.append(f"the service would reject it: {verdict[0]}: {verdict[1]}")
    if not fits_in_one_request(entry, MAX_REQUEST_BYTES):
        problems.append(f"the entry is {entry.wire_size:,} bytes; a request takes at most {MAX_REQUEST_BYTES:,}")
    return problems


def _diff(expected: dict[str, Any], actual: dict[str, Any]) -> str:
    import difflib

    left = orjson.dumps(expected, option=_PRETTY).decode().splitlines()
    right = orjson.dumps(actual, option=_PRETTY).decode().splitlines()
    return "\n".join(difflib.unified_diff(left, right, "expected", "actual", lineterm="", n=1))
