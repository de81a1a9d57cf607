"""Fault injection for the local endpoint: what the next requests should suffer."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal["error", "entry_failure", "store_then_fail", "drop_connection", "delay"]


@dataclass(slots=True)
class Fault:
    """One injected fault, applied to the next ``times`` requests.

    * ``error``: answer the whole request with ``status`` and ``code`` (e.g. 429
      ``ThrottlingException``, 500 ``InternalFailure``, 404 ``ChannelNotFound``).
    * ``entry_failure``: store the request but fail entries with ``code`` -- those whose
      id is in ``ids``, or the first ``count`` entries.
    * ``store_then_fail``: store everything, then answer ``status``/``code`` anyway
      (the client cannot know its events were kept).
    * ``drop_connection``: close the connection without answering.
    * ``delay``: sleep ``seconds`` before handling normally.
    """

    kind: FaultKind
    times: int = 1
    status: int = 500
    code: str = "InternalFailure"
    message: str = "injected fault"
    ids: frozenset[str] = field(default_factory=frozenset)
    count: int = 0
    seconds: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        values = dict(data)
        if "ids" in values:
            values["ids"] = frozenset(values["ids"])
        return cls(**values)


class FaultPlan:
    """A thread-safe queue of faults; each request takes the first one still pending."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self) -> Fault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.times -= 1
            if fault.times <= 0:
                self._faults.pop(0)
            return fault

    def pending(self) -> int:
        with self._lock:
            return sum(fault.times for fault in self._faults)
