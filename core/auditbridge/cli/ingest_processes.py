"""``ingest --jobs N``: the pipeline in N processes, every write in the one that holds the lake.

One Python process prepares events on one core, and DuckDB takes one writing process. So the
preparation processes each run the single-process path's own pipeline over whole batches
(intake, mapping, validation, the service's per-entry checks, the lake's rows), and hand every
write to this process, which holds the lake, writes it, and answers; the preparation process
waits for that answer, so every event's outcome is what its write did, as in one process.

Batches finish in input order: a batch's writes wait until every earlier batch has finished,
and its counts and dead-letter lines are taken in after theirs. So the lake, the summary and the
dead-letter file are the same whatever ``--jobs`` is (of two copies of an event in different
batches, the earlier is the one kept). Meanwhile the later batches are being prepared.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from auditbridge.cli.ingest_command import Progress, tally
from auditbridge.dead_letters import JsonLinesDeadLetters, Parcel, dead_letter_line
from auditbridge.errors import ConfigurationError, RetriableError
from auditbridge.lake.store import EventDataStore, LocalLake, PartnerLine, partner_lines
from auditbridge.messages import Disposition, InboundMessage
from auditbridge.retry import Deadline

log = logging.getLogger(__name__)

#: How long a preparation process gets to stop when asked, before it is terminated.
STOP_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class _Setup:
    """What a preparation process needs to build the pipeline (it opens no lake)."""

    lake_path: Path
    store: EventDataStore
    channel_arn: str
    recipient_account_id: str


@dataclass(slots=True)
class _Process:
    """One preparation process, seen from the coordinator."""

    name: str
    process: subprocess.Popen[bytes]
    connection: Connection
    #: The batch it is preparing: its number in the input and its messages' body bytes.
    batch: tuple[int, int] | None = None
    #: A write it is waiting on, held until every earlier batch has finished.
    held_write: list[PartnerLine] | None = None
    sending: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: tuple[Any, ...]) -> None:
        with self.sending:
            self.connection.send(message)


def ingest_in_processes(
    lake: LocalLake,
    store: EventDataStore,
    channel_arn: str,
    recipient_account_id: str,
    batches: Iterator[list[InboundMessage]],
    jobs: int,
    dead_letters: JsonLinesDeadLetters,
    progress: Progress | None,
) -> tuple[Counter[str], int]:
    """Counts as :func:`~auditbridge.cli.ingest_command.tally` makes them, and the number of writes.

    ``lake`` must be held (:meth:`LocalLake.hold`) by this process.
    """
    setup = _Setup(lake.path, store, channel_arn, recipient_account_id)
    processes: list[_Process] = []
    try:
        for number in range(jobs):
            processes.append(_start(f"preparation process {number + 1}"))
        for each in processes:
            try:
                each.send(("setup", setup))
            except OSError:  # gone already (a broken interpreter or environment)
                raise _broken(each) from None
        return _Coordinator(lake, processes, dead_letters, progress).run(batches)
    finally:
        for each in processes:
            _stop(each)


def _start(name: str) -> _Process:
    """A new interpreter running :func:`serve`, talking over a socket pair.

    Not :mod:`multiprocessing`'s processes: a fork would copy this process's DuckDB connection
    and threads, and a spawn runs the caller's main script again in the child (which any script
    calling ``auditbridge.cli.main`` without an ``if __name__ == "__main__"`` guard would not survive).
    """
    ours, theirs = socket.socketpair()
    # The child finds what this process finds (tests and virtual environments extend sys.path).
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
    try:
        process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
            # -P: not the working folder first on sys.path, where a stray orjson.py would be imported.
            [sys.executable, "-P", "-c", _CHILD, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # this process's standard output is the summary
            env=environment,
        )
    finally:
        theirs.close()
    return _Process(name, process, Connection(ours.detach()))


_CHILD = "import sys; from auditbridge.cli.ingest_processes import serve; serve(int(sys.argv[1]))"


class _Coordinator:
    def __init__(
        self,
        lake: LocalLake,
        processes: list[_Process],
        dead_letters: JsonLinesDeadLetters,
        progress: Progress | None,
    ) -> None:
        self.lake = lake
        self.processes = processes
        self.dead_letters = dead_letters
        self.progress = progress
        self.counts: Counter[str] = Counter()
        self.writes = 0
        #: The number of the oldest batch not finished yet; reports wait here until their turn.
        self.next_to_finish = 0
        self.finished: dict[int, tuple[Counter[str], int, list[bytes], int]] = {}
        self.configuration_error: ConfigurationError | None = None

    def run(self, batches: Iterator[list[InboundMessage]]) -> tuple[Counter[str], int]:
        given = 0
        more = True
        # Writes run on threads (DuckDB releases the GIL), so that answering and handing out
        # batches never waits for one; a write's answer goes back from its thread.
        with ThreadPoolExecutor(len(self.processes), thread_name_prefix="auditbridge-lake-write") as writers:
            while True:
                for each in self.processes:
                    if each.batch is None and more and self.configuration_error is None:
                        batch = next(batches, None)
                        if batch is None:
                            more = False
                            break
                        each.batch = (given, sum(len(message.body) for message in batch))
                        try:  # as plain tuples: pickling frozen dataclasses costs twenty times more
                            each.send(("batch", [_fields(message) for message in batch]))
                        except OSError:
                            raise _broken(each) from None
                        given += 1
                busy = [each for each in self.processes if each.batch is not None]
                if not busy:
                    break
                # A process that dies closes its end of the socket: its connection turns ready, at EOF.
                ready = wait([each.connection for each in busy])
                for each in busy:
                    if each.connection in ready:
                        self._take(each, writers)
                self._release_writes(writers)
        if self.configuration_error is not None:
            raise self.configuration_error
        if self.progress is not None:
            self.progress.finish()
        return self.counts, self.writes

    def _take(self, each: _Process, writers: ThreadPoolExecutor) -> None:
        try:
            message = each.connection.recv()
        except (EOFError, OSError):
            raise _died(each) from None
        kind = message[0]
        assert each.batch is not None
        number, body_bytes = each.batch
        if kind == "write":
            each.held_write = message[1]
        elif kind == "report":
            _, counts, writes, dead_lines, configuration_error = message
            each.batch = None
            self.finished[number] = (counts, writes, dead_lines, body_bytes)
            if configuration_error is not None and self.configuration_error is None:
                text, code, hint = configuration_error
                self.configuration_error = ConfigurationError(text, code=code, hint=hint)
            self._finish_in_order()
        else:  # "failed": the process caught an unexpected error and stops
            raise _failed(each, message[1])

    def _finish_in_order(self) -> None:
        while self.next_to_finish in self.finished:
            counts, writes, dead_lines, body_bytes = self.finished.pop(self.next_to_finish)
            self.next_to_finish += 1
            if dead_lines:
                try:
                    self.dead_letters.append(dead_lines)
                except OSError as exc:  # not parked after all: they count as failed, to be ingested again
                    log.error("could not write the dead-letter file %s: %s", self.dead_letters.path, exc)
                    counts[Disposition.PARKED.value] -= len(dead_lines)
                    counts[Disposition.FAILED.value] += len(dead_lines)
            self.counts.update(counts)
            self.writes += writes
            if self.progress is not None:
                self.progress.update(self.counts["read"], body_bytes)

    def _release_writes(self, writers: ThreadPoolExecutor) -> None:
        """Start the held write of the oldest unfinished batch: its process waits on nothing else."""
        for each in self.processes:
            if each.held_write is not None and each.batch is not None and each.batch[0] == self.next_to_finish:
                lines, each.held_write = each.held_write, None
                writers.submit(self._write, each, lines)

    def _write(self, each: _Process, lines: list[PartnerLine]) -> None:
        try:
            self.lake.insert_partner_lines(lines)
        except Exception as exc:  # that write's events fail and are retried, as in one process
            answer: str | None = f"{type(exc).__name__}: {exc}"
        else:
            answer = None
        # The process may be gone: the coordinator then sees its connection close.
        with contextlib.suppress(OSError):
            each.send(("written", answer))


def serve(descriptor: int) -> None:
    """A preparation process's main: its setup, then batches in, writes out (answered), and each
    batch's counts and dead-letter lines back."""
    # The coordinator reports each rejection; only warnings that are not per event reach stderr.
    logging.getLogger("auditbridge").addHandler(logging.NullHandler())
    connection = Connection(descriptor)
    try:
        kind, setup = connection.recv()
        if kind != "setup":
            return
        pipeline, dead_letters = _pipeline(connection, setup)
        while True:
            message = connection.recv()
            if message[0] != "batch":
                return
            report = pipeline.run((InboundMessage(*fields) for fields in message[1]), Deadline.none())
            counts: Counter[str] = Counter()
            tally(report, counts)
            error = report.configuration_error
            connection.send(
                (
                    "report",
                    counts,
                    report.requests,
                    dead_letters.take(),
                    None if error is None else (error.message, error.code, error.hint),
                )
            )
    except (EOFError, BrokenPipeError, KeyboardInterrupt):  # the coordinator stopped
        return
    except Exception as exc:
        with contextlib.suppress(OSError):
            connection.send(("failed", f"{type(exc).__name__}: {exc}"))


def _pipeline(connection: Connection, setup: _Setup) -> tuple[Any, _CollectedDeadLetters]:
    from auditbridge.pipeline import Pipeline
    from auditbridge.plugins import get_mapper_registry
    from auditbridge.sinks.local_lake import LocalLakeSink

    dead_letters = _CollectedDeadLetters()
    sink = LocalLakeSink(
        LocalLake(setup.lake_path),  # for its address only: never opened here
        setup.store,
        setup.channel_arn,
        writer=_ForwardedWrites(connection, setup.store),
    )
    pipeline = Pipeline(
        get_mapper_registry(),
        sink,
        recipient_account_id=setup.recipient_account_id,
        channel_arn=setup.channel_arn,
        dead_letters=dead_letters,
        max_in_flight=1,  # one connection to the coordinator, one write at a time
    )
    return pipeline, dead_letters


class _ForwardedWrites:
    """The sink's storage in a preparation process: the rows go to the coordinator, which writes them."""

    def __init__(self, connection: Connection, store: EventDataStore) -> None:
        self.connection = connection
        self.lake_store = store
        self._lock = threading.Lock()

    def store(self, events: Sequence[Any]) -> None:
        lines = partner_lines(self.lake_store, events)
        with self._lock:
            self.connection.send(("write", lines))
            answer = self.connection.recv()
        if answer[0] != "written":  # told to stop while waiting (the coordinator failed): no retries
            raise SystemExit(0)
        failure = answer[1]
        if failure is not None:
            raise RetriableError(f"the lake write failed: {failure}", code="LakeWriteFailed")


class _CollectedDeadLetters:
    """Dead-letter lines kept until the batch's report carries them to the coordinator."""

    def __init__(self) -> None:
        self._lines: list[bytes] = []

    def park(self, parcels: Sequence[Parcel]) -> set[str]:
        self._lines.extend(dead_letter_line(parcel) for parcel in parcels)
        return set()

    def take(self) -> list[bytes]:
        lines, self._lines = self._lines, []
        return lines


def _fields(message: InboundMessage) -> tuple[Any, ...]:
    return (message.message_id, message.body, message.receipt_handle, message.position, dict(message.attributes))


_AGAIN = (
    "run the same input again (events already stored are not stored twice); --jobs 1 runs it in this "
    "process, where a plugin's error shows in full"
)


def _failed(each: _Process, reason: str) -> ConfigurationError:
    return ConfigurationError(f"{each.name} failed: {reason}", code="IngestProcessFailed", hint=_AGAIN)


def _broken(each: _Process) -> ConfigurationError:
    """Why a process stopped taking batches: the error it sent before stopping, if any."""
    try:
        while each.connection.poll(STOP_SECONDS):
            message = each.connection.recv()
            if message[0] == "failed":
                return _failed(each, message[1])
    except (EOFError, OSError):
        pass
    return _died(each)


def _died(each: _Process) -> ConfigurationError:
    try:
        code: int | None = each.process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        code = None
    return ConfigurationError(
        f"{each.name} stopped unexpectedly (exit code {code})",
        code="IngestProcessFailed",
        hint=_AGAIN,
    )


def _stop(each: _Process) -> None:
    with contextlib.suppress(OSError, ValueError):
        each.send(("stop",))
    try:
        each.process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        each.process.kill()
        each.process.wait(STOP_SECONDS)
    each.connection.close()
