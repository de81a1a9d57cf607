"""Running a mapper under watch: no network, a time budget, and a hang reported instead of waited on.

An audit hook (``sys.addaudithook``) sees every socket connect and name lookup in the process;
while a thread runs under :func:`no_network`, such a call is refused and recorded with the
plugin's own call site, so the kit reports it even when the mapper swallows the error. Audit
hooks cannot be removed: this one is installed once and stays inert outside guarded threads.
"""

from __future__ import annotations

import queue
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Generic, TypeVar

#: Audit events that reach the network, or name service for it.
NETWORK_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.sendto",
        "socket.sendmsg",
    }
)
_STDLIB = sysconfig.get_paths()["stdlib"]


class NetworkForbidden(PermissionError):
    """Raised inside a mapper that tries to use the network while the kit watches it."""


@dataclass(slots=True)
class NetworkUse:
    event: str
    call_site: str

    def __str__(self) -> str:
        return f"{self.event} from {self.call_site}"


@dataclass(slots=True)
class _Watch:
    guarded: set[int] = field(default_factory=set)
    seen: dict[int, list[NetworkUse]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    installed: bool = False


_WATCH = _Watch()


def _call_site() -> str:
    """The innermost frame outside the standard library and this module: the plugin's line."""
    frame: FrameType | None = sys._getframe(2)
    fallback = None
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_STDLIB) and filename != __file__:
            return f"{filename}:{frame.f_lineno}"
        fallback = fallback or f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return fallback or "(unknown)"


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event not in NETWORK_EVENTS:
        return
    ident = threading.get_ident()
    if ident not in _WATCH.guarded:
        return
    use = NetworkUse(event, _call_site())
    with _WATCH.lock:
        _WATCH.seen.setdefault(ident, []).append(use)
    raise NetworkForbidden(f"network access is not allowed while mapping ({use})")


def _install() -> None:
    with _WATCH.lock:
        if not _WATCH.installed:
            sys.addaudithook(_hook)
            _WATCH.installed = True


@contextmanager
def no_network() -> Iterator[list[NetworkUse]]:
    """Refuse network access in this thread; the list filled holds every attempt."""
    _install()
    ident = threading.get_ident()
    with _WATCH.lock:
        _WATCH.guarded.add(ident)
        _WATCH.seen[ident] = []
    found: list[NetworkUse] = []
    try:
        yield found
    finally:
        with _WATCH.lock:
            _WATCH.guarded.discard(ident)
            found.extend(_WATCH.seen.pop(ident, []))


T = TypeVar("T")


@dataclass(slots=True)
class Timed(Generic[T]):
    """What one watched call did: its value or exception, how long it took, what it reached for."""

    value: T | None = None
    error: BaseException | None = None
    seconds: float = 0.0
    hung: bool = False
    network: list[NetworkUse] = field(default_factory=list)


class WatchedRunner:
    """Runs calls in a daemon thread without network; a call still running after ``hang_seconds``
    is abandoned (its thread cannot be killed, but being a daemon it never holds the process)
    and reported as a hang, and the next call gets a fresh thread."""

    def __init__(self, hang_seconds: float) -> None:
        self.hang_seconds = hang_seconds
        self._tasks: queue.Queue[tuple[Callable[[], Any], queue.Queue[Timed[Any]]]] | None = None

    def _worker(self, tasks: queue.Queue[tuple[Callable[[], Any], queue.Queue[Timed[Any]]]]) -> None:
        while True:
            call, answer = tasks.get()
            result: Timed[Any] = Timed()
            started = time.perf_counter()
            with no_network() as network:
                try:
                    result.value = call()
                except BaseException as exc:  # reported, whatever it is
                    result.error = exc
            result.seconds = time.perf_counter() - started
            result.network = network
            answer.put(result)

    def run(self, call: Callable[[], T]) -> Timed[T]:
        if self._tasks is None:
            self._tasks = queue.Queue()
            threading.Thread(target=self._worker, args=(self._tasks,), name="mapper-under-test", daemon=True).start()
        answer: queue.Queue[Timed[Any]] = queue.Queue()
        self._tasks.put((call, answer))
        try:
            return answer.get(timeout=self.hang_seconds)
        except queue.Empty:
            self._tasks = None  # that thread is stuck in the mapper: abandon it
            return Timed(seconds=self.hang_seconds, hung=True)
