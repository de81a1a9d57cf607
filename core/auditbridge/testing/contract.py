"""The mapper contract: the checks every mapper must pass before its output reaches AWS.

A fixture folder holds EventBridge events, one per ``<name>.json``, each with the expected
result in ``<name>.expected.json``: either the entry (``{"id": ..., "eventData": {...}}``)
or a rejection (``{"rejected": {"errorCode": ..., "field": ...}}``). ``write_expected``
creates or refreshes those files from the mapper's current output, for review in a diff.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from auditbridge.endpoint.service import check_entry
from auditbridge.envelope import EventBridgeEvent
from auditbridge.errors import AuditBridgeError, PermanentError
from auditbridge.mappers import Mapper, MappingContext
from auditbridge.messages import InboundMessage
from auditbridge.models import MAX_REQUEST_BYTES, AuditEvent, EventData, checksum
from auditbridge.packing import fits_in_one_request
from auditbridge.plugins import Distribution, MapperRegistry, get_mapper_registry
from auditbridge.preparation import EventPreparer, Prepared, Rejected
from auditbridge.testing.hostile import hostile_variants

DEFAULT_ACCOUNT = "123456789012"
#: Error codes that mean the mapper leaked an exception it should have classified.
UNCLASSIFIED_CODES = frozenset({"MapperFailed"})
EXPECTED_SUFFIX = ".expected.json"


@dataclass(frozen=True, slots=True)
class Fixture:
    name: str
    path: Path

    @property
    def expected_path(self) -> Path:
        return self.path.with_name(self.name + EXPECTED_SUFFIX)

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
    #: Hostile variants are derived from this many fixtures (those that map), by name order.
    hostile_fixtures: int = 2

    def __post_init__(self) -> None:
        registry = MapperRegistry()
        registry.register(self.mapper, Distribution("(under test)", "-"))
        self.preparer = EventPreparer(registry, recipient_account_id=self.recipient_account_id)

    @classmethod
    def for_mapper(cls, mapper: str | Mapper, events_dir: str | Path, **kwargs: Any) -> Contract:
        if isinstance(mapper, str):
            mapper = get_mapper_registry().get(mapper).mapper
        return cls(mapper, Path(events_dir), **kwargs)

    def fixtures(self) -> list[Fixture]:
        paths = sorted(p for p in self.events_dir.glob("*.json") if not p.name.endswith(EXPECTED_SUFFIX))
        return [Fixture(p.name.removesuffix(".json"), p) for p in paths]

    def prepare(self, event: Any) -> Prepared | Rejected:
        # The standard library's encoder, because orjson refuses the 300-level hostile variants
        # that a producer could still send.
        body = json.dumps(event, ensure_ascii=False)
        return self.preparer.prepare(InboundMessage("contract", body))

    # -- the checks ---------------------------------------------------------------------

    def check_source_claimed(self, fixture: Fixture) -> list[str]:
        source = fixture.event().get("source")
        try:
            self.preparer.registry.resolve(str(source))
        except AuditBridgeError:
            return [f"the mapper does not claim this fixture's source {source!r}"]
        return []

    def check_maps_cleanly(self, fixture: Fixture) -> list[str]:
        return _problems_of(self.prepare(fixture.event()), self.recipient_account_id)

    def check_matches_expected(self, fixture: Fixture) -> list[str]:
        expected = fixture.expected()
        if expected is None:
            return [f"no {fixture.expected_path.name}; create it with `auditbridge plugins check --write-expected`"]
        actual = describe_result(self.prepare(fixture.event()))
        if actual != expected:
            return [f"output differs from {fixture.expected_path.name}:\n{_diff(expected, actual)}"]
        return []

    def check_deterministic(self, fixture: Fixture) -> list[str]:
        event = fixture.event()
        first, second = self.prepare(event), self.prepare(fixture.event())
        problems = []
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
        problems = []
        for description, variant in hostile_variants(fixture.event()):
            for problem in _problems_of(self.prepare(variant), self.recipient_account_id):
                problems.append(f"{description}: {problem}")
        return problems

    def checks(self) -> dict[str, Callable[[Fixture], list[str]]]:
        return {
            "source_claimed": self.check_source_claimed,
            "maps_cleanly": self.check_maps_cleanly,
            "matches_expected": self.check_matches_expected,
            "deterministic": self.check_deterministic,
        }

    def cases(self) -> Iterator[tuple[str, Fixture]]:
        """Every (check name, fixture) pair the suite runs."""
        fixtures = self.fixtures()
        for fixture in fixtures:
            for name in self.checks():
                yield name, fixture
        for fixture in self.hostile_bases(fixtures):
            yield "hostile_inputs", fixture

    def hostile_bases(self, fixtures: list[Fixture]) -> list[Fixture]:
        mapped = [f for f in fixtures if isinstance(self.prepare(f.event()), Prepared)]
        return mapped[: self.hostile_fixtures]

    def run_case(self, check: str, fixture: Fixture) -> list[Violation]:
        function = self.check_hostile_inputs if check == "hostile_inputs" else self.checks()[check]
        try:
            problems = function(fixture)
        except Exception as exc:  # a broken fixture file is a violation, not a crash of the kit
            problems = [f"the check itself failed: {type(exc).__name__}: {exc}"]
        return [Violation(check, fixture.name, problem) for problem in problems]

    def run(self) -> ContractReport:
        report = ContractReport(self.mapper.name)
        report.fixtures = len(self.fixtures())
        if report.fixtures == 0:
            report.violations.append(Violation("fixtures", str(self.events_dir), "no *.json fixtures found"))
        for check, fixture in self.cases():
            report.checks_run += 1
            report.violations.extend(self.run_case(check, fixture))
        return report

    def write_expected(self) -> list[Path]:
        written = []
        for fixture in self.fixtures():
            text = orjson.dumps(describe_result(self.prepare(fixture.event())), option=_PRETTY) + b"\n"
            if not fixture.expected_path.exists() or fixture.expected_path.read_bytes() != text:
                fixture.expected_path.write_bytes(text)
                written.append(fixture.expected_path)
        return written


_PRETTY = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def describe_result(result: Prepared | Rejected) -> dict[str, Any]:
    """The comparable form of a result, as stored in ``*.expected.json``."""
    if isinstance(result, Prepared):
        return {"id": result.entry.id, "eventData": orjson.loads(result.entry.eventData)}
    rejected: dict[str, Any] = {"errorCode": result.error.code, "stage": result.error.stage.value}
    if result.error.field:
        rejected["field"] = result.error.field
    return {"rejected": rejected}


def _problems_of(result: Prepared | Rejected, account_id: str) -> list[str]:
    if isinstance(result, Rejected):
        error = result.error
        if error.code in UNCLASSIFIED_CODES or not isinstance(error, PermanentError):
            return [f"unclassified failure: {error.describe()}"]
        return []
    return entry_problems(result.entry, account_id)


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
