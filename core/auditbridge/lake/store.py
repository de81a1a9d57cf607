"""The local lake: one DuckDB file holding event data stores, as CloudTrail Lake holds them.

Each event data store has a UUID id (shown and queried like CloudTrail Lake's) and is a view
over one of two tables: ``partner_events`` (integration events sent with PutAuditEvents) or
``cloudtrail_events`` (AWS CloudTrail log files imported from a trail). Every PutAuditEvents
batch is written in one transaction: a crash mid-ingest leaves no half batch, and readers see
whole batches only.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import orjson

from auditbridge.endpoint.service import StoredEvent, normalize_channel_arn
from auditbridge.errors import ConfigurationError
from auditbridge.lake.schema import (
    CLOUDTRAIL_COLUMNS,
    PARTNER_COLUMNS,
    cloudtrail_row,
    columns_spec,
    partner_line,
    record_row,
)

DEFAULT_LAKE = "auditbridge.duckdb"
LAKE_ENV = "AUDITBRIDGE_LAKE"
LOCAL_REGION = "local"
LOCAL_ACCOUNT = "000000000000"
StoreKind = Literal["partner", "cloudtrail"]
TABLES: dict[StoreKind, tuple[str, dict[str, str]]] = {
    "partner": ("partner_events", PARTNER_COLUMNS),
    "cloudtrail": ("cloudtrail_events", CLOUDTRAIL_COLUMNS),
}
#: What makes two rows the same event: for integration events, eventSource and UID (as
#: CloudTrail Lake's partners define it); for CloudTrail's own, the eventID.
DEDUP_KEYS: dict[StoreKind, tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...]] = {
    "partner": (
        ("eventData.eventSource", lambda row: (row.get("eventData") or {}).get("eventSource")),
        ("eventData.UID", lambda row: (row.get("eventData") or {}).get("UID")),
    ),
    "cloudtrail": (("eventID", lambda row: row.get("eventID")),),
}
#: Beyond this many rows the keys held are not kept in memory while holding the lake; an anti
#: join finds them instead (slower per write, but memory stays small).
MAX_KEYS_IN_MEMORY = 2_000_000
#: DuckDB's checkpoint threshold (the write-ahead log's size) while a process holds the lake.
HELD_CHECKPOINT_THRESHOLD = "256MiB"
#: How long to wait for another process (say, ``auditbridge lake serve``) to release the file.
LOCK_WAIT_SECONDS = 15.0


def default_lake_path() -> Path:
    return Path(os.environ.get(LAKE_ENV) or DEFAULT_LAKE)


@dataclass(frozen=True, slots=True)
class EventDataStore:
    id: str
    name: str
    kind: StoreKind

    @property
    def arn(self) -> str:
        return f"arn:aws:cloudtrail:{LOCAL_REGION}:{LOCAL_ACCOUNT}:eventdatastore/{self.id}"

    @property
    def channel_arn(self) -> str:
        """The channel that feeds this store when no other is given."""
        return f"arn:aws:cloudtrail:{LOCAL_REGION}:{LOCAL_ACCOUNT}:channel/{self.id}"

    @property
    def view(self) -> str:
        return view_name(self.id)


@dataclass(frozen=True, slots=True)
class StoreSummary:
    store: EventDataStore
    events: int
    first: datetime | None
    last: datetime | None


def view_name(store_id: str) -> str:
    return "store_" + store_id.replace("-", "_")


class LocalLake:
    """A DuckDB file of event data stores. Safe to share between threads of one process."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_lake_path()
        self._held: duckdb.DuckDBPyConnection | None = None
        self._reading: duckdb.DuckDBPyConnection | None = None
        #: Within reading(): what is known of the lake and set on the connection (stores, settings).
        self.reading_state: dict[str, Any] = {}
        self._lock = threading.RLock()
        #: While held: the keys of the rows of each table, and the group commit of each.
        self._keys: dict[StoreKind, set[tuple[Any, ...]] | None] = {}
        self._groups: dict[StoreKind, _GroupCommit] = {}

    # -- connections ---------------------------------------------------------------------

    @contextlib.contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection; the held one if :meth:`hold` is active, else a short-lived one.

        Short-lived connections let ``auditbridge query`` read the file while ``lake serve``
        writes to it (DuckDB allows one writing process at a time).
        """
        with self._lock:
            if self._held is not None:
                yield self._held
                return
            if read_only and self._reading is not None:
                yield self._reading
                return
            if read_only and not self.path.exists():
                raise ConfigurationError(
                    f"no lake at {self.path}", code="LakeNotFound", hint="ingest events first, or pass --lake PATH"
                )
            connection = _open(self.path, read_only=read_only)
            try:
                if not read_only:
                    _ensure_schema(connection)
                yield connection
            finally:
                connection.close()

    @contextlib.contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One read-only connection for every read in the block: a query's stores and rows, or many queries.

        Nested blocks share the outer one's connection; so do the queries run inside it, which
        then skip opening the file (tens of milliseconds) and looking up its stores again. No
        write can happen in the block (DuckDB takes one writer, and not beside a reader).
        """
        with self._lock:
            if self._reading is not None or self._held is not None:
                yield self._reading or self._held  # type: ignore[misc]
                return
        with self.connect(read_only=True) as connection:
            with self._lock:
                self._reading = connection
                self.reading_state = {}
            try:
                yield connection
            finally:
                with self._lock:
                    self._reading = None
                    self.reading_state = {}

    @contextlib.contextmanager
    def hold(self) -> Iterator[LocalLake]:
        """Keep one read-write connection open, for a long ingest."""
        with self._lock:
            self._held = _open(self.path, read_only=False)
            _ensure_schema(self._held)
            # Fewer checkpoints while held: each one compresses the rows written since the last,
            # and at DuckDB's default (16 MiB of log) they cost a third of a long ingest. Every write
            # is still in the log when it commits; closing checkpoints the rest.
            self._held.execute(f"SET checkpoint_threshold = '{HELD_CHECKPOINT_THRESHOLD}'")
        try:
            yield self
        finally:
            with self._lock:
                held, self._held = self._held, None
                self._keys.clear()
                self._groups.clear()
                self.reading_state = {}
                if held is not None:
                    held.close()

    # -- event data stores ---------------------------------------------------------------

    def create_store(
        self, name: str | None = None, kind: StoreKind = "partner", store_id: str | None = None
    ) -> EventDataStore:
        """A new store; names and ids are unique, and an id must be a UUID (as CloudTrail Lake's are)."""
        if store_id is not None:
            canonical = _uuid_or_none(store_id)
            if canonical is None:
                raise ConfigurationError(
                    "an event data store id must be a UUID, such as CloudTrail Lake shows",
                    code="InvalidArgument",
                    field="id",
                )
            store_id = canonical
        for existing in self.stores():
            if store_id is not None and existing.id == store_id:
                raise ConfigurationError(f"an event data store with id {store_id} exists", code="StoreExists")
            if name and existing.name == name:
                raise ConfigurationError(
                    f"an event data store named {name!r} exists ({existing.id}); names are unique",
                    code="StoreExists",
                    hint="choose another --name, or use the existing store",
                )
        store = EventDataStore(store_id or str(uuid.uuid4()), name or "", kind)
        table = TABLES[kind][0]
        with self.connect() as con:
            con.execute(
                "INSERT INTO event_data_stores VALUES (?, ?, ?, ?)",
                [store.id, store.name or store.id, kind, datetime.now(UTC).replace(tzinfo=None)],
            )
            columns = ", ".join(f'"{c}"' for c in TABLES[kind][1] if c != "store_id")
            con.execute(
                f'CREATE OR REPLACE VIEW "{store.view}" AS SELECT {columns} FROM {table} '  # noqa: S608
                f"WHERE store_id = '{store.id}'"
            )
        return EventDataStore(store.id, store.name or store.id, kind)

    def stores(self) -> list[EventDataStore]:
        with self._lock:  # within reading(): nothing can change them, so they are read once
            known = self.reading_state.get("stores") if self._reading is not None else None
        if known is not None:
            return list(known)
        if not self.path.exists():
            return []
        with self.connect(read_only=True) as con:
            try:  # one query, rather than asking information_schema first (which costs as much again)
                rows = con.execute("SELECT id, name, kind FROM event_data_stores ORDER BY created_at, id").fetchall()
            except duckdb.CatalogException:  # a lake file with no stores yet
                return []
            stores = [EventDataStore(row[0], row[1], row[2]) for row in rows]
            with self._lock:
                if con is self._reading:
                    self.reading_state["stores"] = tuple(stores)
        return stores

    def summaries(self) -> list[StoreSummary]:
        summaries = []
        with self.connect(read_only=True) as con:
            for store in self.stores():
                query = f'SELECT count(*), min(eventTime), max(eventTime) FROM "{store.view}"'  # noqa: S608
                count, first, last = con.execute(query).fetchone() or (0, None, None)
                summaries.append(StoreSummary(store, count, first, last))
        return summaries

    def get_store(self, reference: str, *, create: bool = False) -> EventDataStore:
        """A store by id, ARN or name; with ``create``, a UUID or ARN not seen yet makes that store."""
        wanted = reference.rsplit("/", 1)[-1] if reference.startswith("arn:") else reference
        wanted = _uuid_or_none(wanted) or wanted
        stores = self.stores()
        for store in stores:
            if wanted in (store.id, store.name):
                return store
        if create and _uuid_or_none(wanted) is not None:
            # Queries copied from CloudTrail Lake name the store by its id: the same id here.
            return self.create_store(store_id=wanted)
        known = ", ".join(f"{s.id} ({s.name})" if s.name != s.id else s.id for s in stores) or "none yet"
        raise ConfigurationError(
            f"no event data store {reference!r} in {self.path}; known stores: {known}",
            code="EventDataStoreNotFound",
            hint="`auditbridge lake list` shows them; `auditbridge lake create` makes one",
        )

    def default_store(self) -> EventDataStore:
        """The store called ``default``, created on first use."""
        for store in self.stores():
            if store.name == "default" and store.kind == "partner":
                return store
        return self.create_store("default")

    def store_for_channel(self, channel_arn: str) -> EventDataStore:
        """The store a channel feeds; a new one the first time a channel is seen.

        A channel whose id is a UUID feeds the store with that id (``lake create --id`` makes
        one ahead), unless another account's channel with the same id feeds it already.
        """
        channel_arn = normalize_channel_arn(channel_arn)
        channel_id = _uuid_or_none(channel_arn.rsplit("/", 1)[-1])
        with self.connect() as con:
            row = con.execute("SELECT event_data_store FROM channels WHERE arn = ?", [channel_arn]).fetchone()
            taken = channel_id is not None and con.execute(
                "SELECT count(*) FROM channels WHERE event_data_store = ?", [channel_id]
            ).fetchone() != (0,)
        if row is not None:
            return self.get_store(row[0])
        existing = None if taken else next((s for s in self.stores() if s.id == channel_id), None)
        name = channel_arn.rsplit("/", 1)[-1]
        if taken:  # named by account too: the id alone is another account's channel's store
            name = f"{channel_arn.split(':')[4]}/{name}"
        store = existing or self.create_store(f"channel {name}", store_id=None if taken else channel_id)
        with self.connect() as con:
            con.execute("INSERT OR REPLACE INTO channels VALUES (?, ?)", [channel_arn, store.id])
        return store

    # -- writes ----------------------------------------------------------------------------

    def insert_partner_events(self, store: EventDataStore, events: Sequence[StoredEvent]) -> None:
        self.insert_partner_lines(partner_lines(store, events))

    def insert_partner_lines(self, lines: Sequence[PartnerLine]) -> None:
        """Rows made by :func:`partner_lines` (in this process or another), in one transaction."""
        self._insert("partner", lines)

    def insert_records(self, store: EventDataStore, records: Sequence[dict[str, Any]]) -> int:
        """Records a destination stored (:mod:`auditbridge.records`) into a partner store."""
        if store.kind != "partner":
            raise ConfigurationError(
                f"event data store {store.id} holds AWS CloudTrail events; import records into a partner store",
                code="WrongStoreKind",
            )
        self._insert("partner", [_line("partner", record_row(store.id, record)) for record in records])
        return len(records)

    def insert_cloudtrail_records(self, store: EventDataStore, records: Iterable[dict[str, Any]]) -> int:
        if store.kind != "cloudtrail":
            raise ConfigurationError(
                f"event data store {store.id} holds partner events; import AWS CloudTrail logs into a "
                "store created with `auditbridge lake create --kind cloudtrail`",
                code="WrongStoreKind",
            )
        lines = [_line("cloudtrail", cloudtrail_row(store.id, record)) for record in records]
        self._insert("cloudtrail", lines)
        return len(lines)

    def _insert(self, kind: StoreKind, rows: Iterable[_Line]) -> None:
        """Store ``rows`` (one request's, or one import batch's) in one transaction, or none of them.

        Idempotent by event: a row whose key the store holds already, or that comes twice, is
        stored once, so re-running the same input is safe. While this process holds the lake
        (:meth:`hold`), no other can write to it, so the keys held are kept in memory and
        batches that arrive while another is being written are committed together
        (:class:`_GroupCommit`): a commit costs milliseconds whatever its size.
        """
        batch = list(rows)
        with self._lock:
            group = self._groups.get(kind) if self._held is not None else None
            if group is None and self._held is not None:
                group = self._groups[kind] = _GroupCommit(lambda batches: self._write(kind, batches))
        if group is not None:
            group.submit(batch)
        else:
            self._write(kind, [batch])

    def _write(self, kind: StoreKind, batches: Sequence[list[_Line]]) -> None:
        table, columns = TABLES[kind]
        keys = DEDUP_KEYS[kind]
        new_keys: set[tuple[Any, ...]] = set()  # twice in these batches: stored once
        handle, name = tempfile.mkstemp(suffix=".jsonl", prefix="auditbridge-")
        try:
            with self.connect() as con:
                known = self._known_keys(con, kind) if con is self._held else None
                # DuckDB reads newline-delimited JSON straight into nested STRUCT and MAP columns,
                # far faster than binding rows one by one.
                with os.fdopen(handle, "wb") as out:
                    for batch in batches:
                        for key, line in batch:
                            if None not in key:
                                if key in new_keys or (known is not None and key in known):
                                    continue
                                new_keys.add(key)
                            out.write(line + b"\n")
                source = f"read_json(?, format='newline_delimited', columns={columns_spec(columns)}) AS n"
                if known is None:  # held keys not in memory: an anti join finds them (a window costs double)
                    held = ", ".join(f"{path} AS k{i}" for i, (path, _) in enumerate(keys))
                    matches = " AND ".join(f"h.k{i} = n.{path}" for i, (path, _) in enumerate(keys))
                    source += (
                        f" ANTI JOIN (SELECT store_id, {held} FROM {table}) AS h "  # noqa: S608
                        f"ON h.store_id = n.store_id AND {matches}"
                    )
                # One statement, so one transaction of its own: all of it or none. A single call
                # also matters for speed: each call gives up the GIL, and getting it back while the
                # pipeline's thread is busy preparing costs up to a switch interval (5 ms).
                con.execute(f"INSERT INTO {table} SELECT n.* FROM {source}", [name])  # noqa: S608
                if known is not None:
                    known.update(new_keys)
        finally:
            os.unlink(name)

    def _known_keys(self, con: duckdb.DuckDBPyConnection, kind: StoreKind) -> set[tuple[Any, ...]] | None:
        """The keys of every row of ``kind`` (only while held: no other process can add any)."""
        with self._lock:
            if kind in self._keys:
                return self._keys[kind]
        table = TABLES[kind][0]
        count = con.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        known: set[tuple[Any, ...]] | None = None
        if count is not None and count[0] <= MAX_KEYS_IN_MEMORY:
            paths = ", ".join(path for path, _ in DEDUP_KEYS[kind])
            rows = con.execute(f"SELECT store_id, {paths} FROM {table}").fetchall()  # noqa: S608
            known = {row for row in rows if None not in row}
        with self._lock:
            self._keys[kind] = known
        return known


class _GroupCommit:
    """Batches that arrive while another is being written are written together, each still whole.

    The first caller to find no write in progress writes everything queued by then, in one
    transaction; the others wait for it. When that transaction fails, each batch of the group
    is written on its own, so one batch's failure stays its own.
    """

    def __init__(self, write: Callable[[Sequence[list[_Line]]], None]) -> None:
        self._write = write
        self._queue: list[_Ticket] = []
        self._writing = False
        self._changed = threading.Condition()

    def submit(self, batch: list[_Line]) -> None:
        ticket = _Ticket(batch)
        with self._changed:
            self._queue.append(ticket)
            while not ticket.done and self._writing:
                self._changed.wait()
            if ticket.done:
                if ticket.error is not None:
                    raise ticket.error
                return
            group, self._queue, self._writing = self._queue, [], True
        try:
            self._write_group(group)
        finally:
            with self._changed:
                for waiting in group:  # interrupted (KeyboardInterrupt): nobody is left unanswered
                    if not waiting.done:
                        waiting.done, waiting.error = True, RuntimeError("the lake write was interrupted")
                self._writing = False
                self._changed.notify_all()
        if ticket.error is not None:
            raise ticket.error

    def _write_group(self, group: list[_Ticket]) -> None:
        try:
            self._write([ticket.batch for ticket in group])
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
            else:  # each on its own: one batch's failure stays its own
                for ticket in group:
                    try:
                        self._write([ticket.batch])
                    except Exception as alone:
                        ticket.error = alone
        for ticket in group:
            ticket.done = True


@dataclass(slots=True)
class _Ticket:
    batch: list[_Line]
    done: bool = False
    error: BaseException | None = None


#: A row as DuckDB reads it (one JSON line, no newline) and the key that makes it the same event.
_Line = tuple[tuple[Any, ...], bytes]
#: A row of ``partner_events`` as :func:`partner_lines` makes it.
PartnerLine = _Line


def partner_lines(store: EventDataStore, events: Sequence[StoredEvent]) -> list[PartnerLine]:
    """Accepted events as rows of ``store``: what :meth:`LocalLake.insert_partner_lines` writes.

    Pure work with no connection, so that ``ingest`` can make them in other processes than the
    one writing (DuckDB takes one writer).
    """
    lines = []
    for event in events:
        data = event.data if event.data is not None else orjson.loads(event.event_data)
        line = partner_line(
            store_id=store.id,
            event_id=event.event_id,
            event_data=event.event_data,
            channel_arn=event.channel_arn,
            ingestion_time=event.ingestion_time,
            data=data,
        )
        lines.append(((store.id, data.get("eventSource"), data.get("UID")), line))
    return lines


def _line(kind: StoreKind, row: dict[str, Any]) -> _Line:
    return (row.get("store_id"), *(extract(row) for _, extract in DEDUP_KEYS[kind])), orjson.dumps(row)


class LakeEventStore:
    """The local endpoint's storage (``EventStore``), writing accepted batches into the lake."""

    def __init__(self, lake: LocalLake, store: EventDataStore | None = None) -> None:
        self.lake = lake
        self.store_override = store

    def store(self, events: Sequence[StoredEvent]) -> None:
        by_channel: dict[str, list[StoredEvent]] = {}
        for event in events:
            by_channel.setdefault(event.channel_arn, []).append(event)
        for channel_arn, batch in by_channel.items():
            target = self.store_override or self.lake.store_for_channel(channel_arn)
            self.lake.insert_partner_events(target, batch)


#: DuckDB's database files carry this at byte 8.
_DUCKDB_MAGIC = b"DUCK"


def _open(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    _check_lake_file(path)
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise ConfigurationError(
                    f"cannot open the lake {path}: {text.strip().splitlines()[0]}",
                    code="LakeUnreadable",
                    hint="check the path and its permissions",
                ) from None
            if time.monotonic() > deadline:
                raise ConfigurationError(
                    f"the lake {path} is held by another process",
                    code="LakeBusy",
                    hint="another process (auditbridge lake serve?) holds it; stop it or wait",
                ) from None
            time.sleep(0.05)


def _check_lake_file(path: Path) -> None:
    """Refuse what is not a lake before DuckDB sees it (it would open some files as empty, in memory)."""
    if path.is_dir():
        raise ConfigurationError(f"{path} is a folder, not a lake file", code="NotALake", hint="pass --lake FILE")
    if not path.exists():
        if not path.parent.exists():
            raise ConfigurationError(
                f"the folder {path.parent} does not exist", code="LakeFolderMissing", hint="create it, or pass --lake"
            )
        return
    try:
        with path.open("rb") as handle:
            header = handle.read(12)
    except OSError as exc:
        raise ConfigurationError(f"cannot read the lake {path}: {exc.strerror}", code="LakeUnreadable") from None
    if header and header[8:12] != _DUCKDB_MAGIC:
        raise ConfigurationError(
            f"{path} is not a lake (not a DuckDB database file); nothing was written to it",
            code="NotALake",
            hint="pass --lake with the lake's file, or a new file name to create one",
        )


def _ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS event_data_stores "
        "(id VARCHAR PRIMARY KEY, name VARCHAR, kind VARCHAR, created_at TIMESTAMP)"
    )
    con.execute("CREATE TABLE IF NOT EXISTS channels (arn VARCHAR PRIMARY KEY, event_data_store VARCHAR)")
    for table, columns in TABLES.values():
        definition = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({definition})")


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
