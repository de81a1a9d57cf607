"""CloudTrail Lake SQL (Trino dialect) against the local lake.

CloudTrail Lake lets a query name an event data store by its bare id (a UUID, which no SQL
parser takes as an identifier) or its ARN after FROM and JOIN. Those references are swapped for
quoted placeholders, the statement is parsed as Trino by sqlglot, checked to be a read-only
query, its placeholders pointed at the stores' views, and transpiled to DuckDB. The statement
runs on a read-only connection with external access disabled, so it can neither write nor
reach files.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, UnsupportedError

from auditbridge.errors import AuditBridgeError, Stage
from auditbridge.lake.store import EventDataStore, LocalLake

_STORE_REF = re.compile(
    r"(?P<keyword>(?:\b(?:FROM|JOIN)|,)\s*)"
    r"(?P<ref>arn:aws[a-z-]*:cloudtrail:[a-z0-9-]*:\d*:eventdatastore/[-A-Za-z0-9]+"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})",
    re.IGNORECASE,
)
_PLACEHOLDER = "__store_ref_{}"
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
READ_ONLY_ROOTS = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery)


class QueryError(AuditBridgeError):
    """A query the local lake will not or cannot run; the message says why."""

    default_code = "InvalidQuery"
    default_stage = Stage.INTAKE


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def translate(sql: str, lake: LocalLake) -> str:
    """CloudTrail Lake SQL to the DuckDB SQL that runs it on ``lake``.

    Translations are cached per statement and set of stores: a repeated query skips sqlglot.
    """
    stores = tuple(lake.stores())
    try:
        return _cached_translation(sql, stores)
    except RecursionError:
        raise QueryError(
            "the query is nested too deeply to translate", code="QueryTooComplex", hint="simplify the query"
        ) from None


@functools.lru_cache(maxsize=256)
def _cached_translation(sql: str, stores: tuple[EventDataStore, ...]) -> str:
    return _translate(sql, _KnownStores(stores))


class _KnownStores:
    """What translation needs of a lake: its stores, as they were when the query came."""

    def __init__(self, stores: tuple[EventDataStore, ...]) -> None:
        self._stores = list(stores)

    def stores(self) -> list[EventDataStore]:
        return list(self._stores)

    def get_store(self, reference: str) -> EventDataStore:
        wanted = reference.rsplit("/", 1)[-1] if reference.startswith("arn:") else reference
        wanted = wanted.lower() if _UUID_RE.match(wanted) else wanted
        for store in self._stores:
            if wanted in (store.id, store.name):
                return store
        known = ", ".join(s.id for s in self._stores) or "none yet"
        raise QueryError(
            f"no event data store {reference!r}; known stores: {known}",
            code="EventDataStoreNotFound",
            hint="`auditbridge lake list` shows them",
        )


def _translate(sql: str, lake: _KnownStores) -> str:
    references: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        references.append(match["ref"])
        return f'{match["keyword"]}"{_PLACEHOLDER.format(len(references) - 1)}"'

    prepared = _STORE_REF.sub(placeholder, sql)
    try:
        statements = [s for s in sqlglot.parse(prepared, read="trino") if s is not None]
    except ParseError as exc:
        raise QueryError(f"the query is not valid SQL: {_first_line(exc)}", code="InvalidQuery") from None
    if len(statements) != 1:
        raise QueryError("give exactly one statement", code="InvalidQuery")
    statement = statements[0]
    if not isinstance(statement, READ_ONLY_ROOTS) or _writes(statement):
        raise QueryError(
            f"only SELECT queries are allowed; {statement.key.upper()} statements are refused",
            code="QueryNotAllowed",
            hint="CloudTrail Lake, like the local lake, is read-only through SQL",
        )
    for cte in statement.find_all(exp.CTE):
        if _is_internal(cte.alias):
            raise QueryError(
                f"the WITH name {cte.alias!r} is reserved by the local lake; choose another",
                code="QueryNotAllowed",
            )
    stores = {}
    for index, reference in enumerate(references):
        stores[_PLACEHOLDER.format(index)] = lake.get_store(reference)
    for table in statement.find_all(exp.Table):
        name = table.name
        if name in stores:
            table.set("this", exp.to_identifier(stores[name].view, quoted=True))
        elif not _is_cte(statement, name):
            known = ", ".join(s.id for s in lake.stores()) or "none yet"
            raise QueryError(
                f"unknown table {name!r}: name an event data store by its id or ARN; known stores: {known}",
                code="EventDataStoreNotFound",
            )
    statement = statement.transform(_trino_functions)
    _name_columns_as_trino(statement)
    try:
        return statement.sql(dialect="duckdb", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise QueryError(f"unsupported in the local lake: {_first_line(exc)}", code="UnsupportedQuery") from None


#: How long a query may run, and how much memory it may take, unless the caller says otherwise.
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MEMORY_LIMIT = "2GB"
_MEMORY_RE = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)
_MISSING_FUNCTION_RE = re.compile(r"Function with name (\w+) does not exist")


def run_query(
    sql: str,
    lake: LocalLake,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> QueryResult:
    """Run one CloudTrail Lake query; it ends with ``QueryTimeout`` after ``timeout`` seconds."""
    import duckdb

    if not _MEMORY_RE.match(memory_limit):
        raise QueryError(
            f"--memory-limit {memory_limit[:20]!r} is not a size such as 512MB or 2GB", code="InvalidArgument"
        )
    with lake.reading() as con:  # one connection for the stores' lookup and the query itself
        translated = translate(sql, lake)
        # One cursor (a DuckDB session) and its settings for all the queries run in the block.
        cursor = lake.reading_state.get("cursor") if con is lake.reading_state.get("connection") else None
        if cursor is None:
            cursor = con.cursor()
            lake.reading_state.update(connection=con, cursor=cursor, memory_limit=None)
        timer = threading.Timer(timeout, cursor.interrupt)
        try:
            if lake.reading_state.get("memory_limit") != memory_limit:
                cursor.execute("SET enable_external_access = false")
                cursor.execute(f"SET memory_limit = '{memory_limit}'")
                cursor.execute("SET TimeZone = 'UTC'")  # CloudTrail Lake answers in UTC, whatever the machine's zone
                lake.reading_state["memory_limit"] = memory_limit
            timer.start()
            cursor.execute(translated)
            columns = [description[0] for description in cursor.description or []]
            return QueryResult(columns, cursor.fetchall())
        except duckdb.InterruptException:
            raise QueryError(
                f"the query ran longer than {timeout:g} s and was stopped",
                code="QueryTimeout",
                hint="narrow it (a time range on eventTime, a LIMIT), or pass a larger --timeout",
            ) from None
        except duckdb.OutOfMemoryException:
            raise QueryError(
                f"the query needed more than {memory_limit} of memory",
                code="QueryOutOfMemory",
                hint="narrow it, or pass a larger --memory-limit",
            ) from None
        except duckdb.Error as exc:
            missing = _MISSING_FUNCTION_RE.search(str(exc))
            if missing:
                raise QueryError(
                    f"the function {missing[1]} is not supported by the local lake",
                    code="UnsupportedQuery",
                    hint="CloudTrail Lake may run it; the local lake translates the common Trino functions only",
                ) from None
            raise QueryError(f"the query failed: {_first_line(exc)}", code="QueryFailed") from None
        finally:
            timer.cancel()


#: Joda-Time pattern letters (Trino's format_datetime) -> strftime, longest first.
_JODA_TO_STRFTIME = (
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("MMMM", "%B"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("hh", "%I"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("SSS", "%g"),
    ("EEEE", "%A"),
    ("EEE", "%a"),
    ("a", "%p"),
    ("Z", "%z"),
)


def _joda_to_strftime(pattern: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            end = pattern.find("'", index + 1)
            if end < 0:
                raise QueryError("format_datetime: an unclosed quote in the pattern", code="UnsupportedQuery")
            out.append(pattern[index + 1 : end].replace("%", "%%") or "'")
            index = end + 1
            continue
        for joda, strftime in _JODA_TO_STRFTIME:
            if pattern.startswith(joda, index):
                out.append(strftime)
                index += len(joda)
                break
        else:
            if char.isalpha():
                raise QueryError(
                    f"format_datetime: the pattern letter {char!r} is not supported by the local lake",
                    code="UnsupportedQuery",
                )
            out.append("%%" if char == "%" else char)
            index += 1
    return "".join(out)


def _trino_functions(node: exp.Expression) -> exp.Expression:
    """Trino functions DuckDB spells differently, rewritten so they mean what they mean in Trino."""
    if isinstance(node, exp.ArraySize):  # cardinality(): DuckDB's takes maps and lists alike
        return exp.Anonymous(this="cardinality", expressions=[node.this])
    if isinstance(node, exp.Anonymous) and str(node.name).lower() == "format_datetime":
        arguments = node.expressions
        if len(arguments) != 2 or not isinstance(arguments[1], exp.Literal) or not arguments[1].is_string:
            raise QueryError("format_datetime takes a timestamp and a literal pattern", code="UnsupportedQuery")
        pattern = exp.Literal.string(_joda_to_strftime(arguments[1].this))
        return exp.Anonymous(this="strftime", expressions=[arguments[0], pattern])
    return node


def _name_columns_as_trino(statement: exp.Expression) -> None:
    """Unnamed result columns (``count(*)``) are ``_col0``, ``_col1``... by position, as Trino names them."""
    for select in statement.find_all(exp.Select):
        if select is not statement and not (isinstance(statement, exp.Union) and select.parent is statement):
            continue
        for position, expression in enumerate(select.expressions):
            if not isinstance(expression, exp.Alias | exp.Column | exp.Dot | exp.Star):
                expression.replace(exp.alias_(expression.copy(), f"_col{position}", quoted=True))


_INTERNAL_NAMES = ("partner_events", "cloudtrail_events", "event_data_stores", "channels")


def _is_internal(name: str) -> bool:
    lowered = name.lower()
    return lowered in _INTERNAL_NAMES or lowered.startswith("store_")


def _writes(statement: exp.Expression) -> bool:
    writing = (exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Merge, exp.Command)
    return any(isinstance(node, writing) for node in statement.walk())


def _is_cte(statement: exp.Expression, name: str) -> bool:
    return any(cte.alias == name for cte in statement.find_all(exp.CTE))


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
