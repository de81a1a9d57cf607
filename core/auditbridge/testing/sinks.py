"""The sink contract: what a destination plugin must do before the pipeline can rely on it.

A third-party sink runs it against its own emulator or a test account::

    from auditbridge.testing.sinks import SinkContract

    def test_my_sink_keeps_the_contract(my_emulator):
        report = SinkContract(MySink("https://127.0.0.1:8088"), read_back=my_emulator.stored_ids).run()
        assert report.ok, report.problems

It checks the declared limits, sends requests packed to those limits (small events, and events
near the per-record limit), and checks every answer: each entry reported once, as stored or as
failed with a code, never an entry that was not sent; every whole-request failure an
``AuditBridgeError`` (retry, park or stop), never a bare exception. With ``read_back`` (a function
returning the entry ids the destination now holds) it also checks that what was reported stored
is stored, exactly once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from auditbridge.errors import AuditBridgeError
from auditbridge.mappers import entry_id_for
from auditbridge.models import AuditEvent, EventData, UserIdentity
from auditbridge.sinks import SinkLimits, address_of, fits, limits_of, pack_for, record_size


@dataclass(slots=True)
class SinkReport:
    sink: str
    requests: int = 0
    stored: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.stored > 0


def sample_entry(index: int, padding: int = 0, *, account: str = "123456789012") -> AuditEvent:
    """A valid entry; ``padding`` characters in ``userIdentity.details`` make it as large as needed."""
    details = {"padding": "p" * padding} if padding else None
    uid = f"sink-contract-{index:06d}"
    data = EventData(
        version="1",
        userIdentity=UserIdentity(type="User", principalId=f"user-{index % 7}", details=details),
        eventSource="auditbridge.sink-contract",
        eventName="contract.check",
        eventTime="2025-06-01T08:00:00Z",
        UID=uid,
        recipientAccountId=account,
    )
    return AuditEvent.from_event_data(entry_id_for(uid), data)


@dataclass
class SinkContract:
    sink: Any
    #: The entry ids the destination holds now (from the emulator); optional.
    read_back: Callable[[], Iterable[str]] | None = None
    #: How many small entries to send: enough to fill several requests by count.
    small: int = 0

    def run(self) -> SinkReport:
        report = SinkReport(address_of(self.sink))
        limits = limits_of(self.sink)
        report.problems += self._check_limits(limits)
        if report.problems:
            return report
        entries = self._entries(limits)
        oversized = [entry.id for entry in entries if not fits(self.sink, entry)]
        if oversized:
            report.problems.append(f"{len(oversized)} entries built to the declared limits do not fit them")
            return report
        stored: Counter[str] = Counter()
        for request in pack_for(self.sink, entries):
            report.problems += self._check_packed(limits, request)
            report.requests += 1
            try:
                result = self.sink.put_audit_events(request)
            except AuditBridgeError:
                continue  # classified: the pipeline knows what to do with it
            except Exception as exc:
                report.problems.append(
                    f"put_audit_events raised {type(exc).__name__}, not an AuditBridgeError (RetriableError, "
                    "ConfigurationError or PermanentError): the pipeline cannot tell retry from park"
                )
                continue
            report.problems += self._check_answer(request, result)
            stored.update(list(result.successful))
        report.stored = sum(stored.values())
        if self.read_back is not None:
            held = Counter(self.read_back())
            missing = [i for i in stored if held[i] == 0]
            doubled = [i for i in stored if held[i] > 1]
            if missing:
                report.problems.append(f"{len(missing)} entries reported stored are not there, e.g. {missing[0]}")
            if doubled:
                report.problems.append(f"{len(doubled)} entries are stored more than once, e.g. {doubled[0]}")
        if not report.stored and not report.problems:
            report.problems.append("nothing was stored: check the destination")
        return report

    def _check_limits(self, limits: SinkLimits) -> list[str]:
        problems = []
        if not isinstance(getattr(self.sink, "limits", None), SinkLimits):
            problems.append("the sink declares no `limits: SinkLimits`")
        if limits.max_records < 1 or limits.max_request_bytes < 1 or limits.max_record_bytes < 1:
            problems.append("every limit must be at least 1")
        if limits.max_record_bytes + limits.record_overhead + limits.request_overhead > limits.max_request_bytes:
            problems.append("one record at its limit does not fit in a request")
        if limits.chronological and not callable(getattr(self.sink, "record_time", None)):
            problems.append("a chronological sink must define record_time(entry)")
        if not callable(getattr(self.sink, "record_size", None)):
            problems.append("the sink defines no record_size(entry): it is measured as PutAuditEvents would")
        return problems

    def _entries(self, limits: SinkLimits) -> list[AuditEvent]:
        count = self.small or min(2 * limits.max_records + 1, 2_001)
        entries = [sample_entry(index) for index in range(count)]
        base = record_size(self.sink, entries[0])
        # Two entries near the per-record limit (capped at 900 kB: EventData's own bound is about 1 MB).
        near = max(0, min(limits.max_record_bytes, 900_000) - base - 64)
        entries += [sample_entry(count + offset, near) for offset in range(2)]
        return entries

    def _check_packed(self, limits: SinkLimits, request: list[AuditEvent]) -> list[str]:
        size = limits.request_overhead + sum(record_size(self.sink, e) + limits.record_overhead for e in request)
        if len(request) > limits.max_records or size > limits.max_request_bytes:
            return [f"a request of {len(request)} records and {size:,} bytes exceeds the declared limits"]
        return []

    @staticmethod
    def _check_answer(request: list[AuditEvent], result: Any) -> list[str]:
        sent = {entry.id for entry in request}
        successful = set(getattr(result, "successful", {}) or {})
        failed = [f.id for f in getattr(result, "failed", []) or []]
        problems = []
        if not successful <= sent or not set(failed) <= sent:
            problems.append("the answer names entries that were not in the request")
        if successful & set(failed):
            problems.append("the answer reports an entry both stored and failed")
        if len(failed) != len(set(failed)):
            problems.append("the answer reports an entry failed twice")
        for failure in getattr(result, "failed", []) or []:
            if not getattr(failure, "errorCode", ""):
                problems.append(f"entry {failure.id} failed without an errorCode")
        return problems
