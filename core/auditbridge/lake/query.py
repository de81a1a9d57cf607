"""CloudTrail Lake SQL (Trino dialect) against the local lake.

CloudTrail Lake lets a query name an event data store by its bare id (a UUID, which no SQL
parser takes as an identifier) or its ARN after FROM and JOIN. Those references are swapped for
quoted placeholders, the statement is parsed as Trino by sqlglot, checked to be a read-only
query, its placeholders pointed at the stores' views, and transpiled to DuckDB. The statement
runs on a read-only connection with external access disabled, so it can neither write nor
reach files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, UnsupportedError

from auditbridge.errors import AuditBridgeError, Stage
from auditbridge.lake.store import LocalLake

_STORE_REF = re.compile(
    r"(?P<keyword>\b(?:FROM|JOIN)\s+)"
    r"(?P<ref>arn:aws[a-z-]*:cloudtrail:[a-z0-9-]*:\d*:eventdatastore/[-A-Za-z0-9]+"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})",
    re.IGNORECASE,
)
_PLACEHOLDER = "__store_ref_{}"
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
    """CloudTrail Lake SQL to the DuckDB SQL that runs it on ``lake``."""
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
    try:
        return statement.sql(dialect="duckdb", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise QueryError(f"unsupported in the local lake: {_first_line(exc)}", code="UnsupportedQuery") from None


def run_query(sql: str, lake: LocalLake) -> QueryResult:
    import duckdb

    translated = translate(sql, lake)
    with lake.connect(read_only=True) as con:
        try:
            cursor = con.cursor()
            cursor.execute("SET enable_external_access = false")
            cursor.execute(translated)
            columns = [description[0] for description in cursor.description or []]
            return QueryResult(columns, cursor.fetchall())
        except duckdb.Error as exc:
            raise QueryError(f"the query failed: {_first_line(exc)}", code="QueryFailed") from None


def _writes(statement: exp.Expression) -> bool:
    writing = (exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Merge, exp.Command)
    return any(isinstance(node, writing) for node in statement.walk())


def _is_cte(statement: exp.Expression, name: str) -> bool:
    return any(cte.alias == name for cte in statement.find_all(exp.CTE))


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
