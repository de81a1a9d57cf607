"""The local lake and its commands against mistakes and hostile input: clear errors, no false success."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from auditbridge.cli.main import main
from events import eventbridge_event, okta_log_event

DATA = Path(__file__).parent / "data"


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def events_file(tmp_path) -> Path:
    path = tmp_path / "events.jsonl"
    events = [eventbridge_event(okta_log_event(eventType=f"user.session.{i % 3}")) for i in range(12)]
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return path


@pytest.fixture
def lake(tmp_path, events_file, capsys) -> Path:
    path = tmp_path / "lake.duckdb"
    assert cli(capsys, "ingest", str(events_file), "--lake", str(path))[0] == 0
    return path


def store_id(capsys, lake: Path) -> str:
    status, out, _ = cli(capsys, "lake", "list", "--lake", str(lake))
    assert status == 0
    return out.splitlines()[1].split()[0]


def test_a_file_that_is_not_a_lake_is_refused_and_left_alone(capsys, events_file):
    before = events_file.read_bytes()
    status, out, err = cli(capsys, "ingest", str(events_file), "--lake", str(events_file))
    assert status == 2
    assert "NotALake" in err
    assert "sent" not in out
    assert events_file.read_bytes() == before


@pytest.mark.parametrize(
    ("where", "code"),
    [(lambda tmp: tmp / "missing" / "lake.duckdb", "LakeFolderMissing"), (lambda tmp: tmp, "NotALake")],
    ids=["missing-folder", "a-folder"],
)
def test_opening_errors_say_what_is_wrong(capsys, tmp_path, events_file, where, code):
    status, _, err = cli(capsys, "ingest", str(events_file), "--lake", str(where(tmp_path)))
    assert status == 2
    assert code in err
    assert "LakeBusy" not in err


def test_list_and_query_agree_on_a_missing_lake(capsys, tmp_path):
    missing = str(tmp_path / "none.duckdb")
    listed = cli(capsys, "lake", "list", "--lake", missing)
    queried = cli(capsys, "query", "SELECT 1", "--lake", missing)
    assert listed[0] == queried[0] == 2
    assert "LakeNotFound" in listed[2] and "LakeNotFound" in queried[2]


def test_store_names_are_unique(capsys, lake):
    assert cli(capsys, "lake", "create", "--name", "audit", "--lake", str(lake))[0] == 0
    status, _, err = cli(capsys, "lake", "create", "--name", "audit", "--lake", str(lake))
    assert status == 2
    assert "StoreExists" in err


def test_a_store_takes_the_id_users_give_it(capsys, lake, events_file):
    wanted = str(uuid.UUID(int=7))
    status, out, _ = cli(capsys, "lake", "create", "--id", wanted.upper(), "--lake", str(lake))
    assert (status, out.strip()) == (0, wanted)
    copied = str(uuid.UUID(int=8))  # from a CloudTrail Lake query, say: created on first use
    assert cli(capsys, "ingest", str(events_file), "--lake", str(lake), "--event-data-store", copied)[0] == 0
    status, out, _ = cli(
        capsys, "query", f"SELECT count(*) AS n FROM {copied}", "--lake", str(lake), "--format", "json"
    )
    assert json.loads(out) == [{"n": 12}]
    assert cli(capsys, "lake", "create", "--id", "not-a-uuid", "--lake", str(lake))[0] == 2


def test_ingesting_the_same_input_again_stores_nothing_twice(capsys, lake, events_file):
    assert cli(capsys, "ingest", str(events_file), "--lake", str(lake))[0] == 0
    _, out, _ = cli(
        capsys, "query", f"SELECT count(*) AS n FROM {store_id(capsys, lake)}", "--lake", str(lake), "--format", "json"
    )
    assert json.loads(out) == [{"n": 12}]


def test_importing_the_same_cloudtrail_files_again_stores_nothing_twice(capsys, lake):
    _, out, _ = cli(capsys, "lake", "create", "--kind", "cloudtrail", "--name", "trail", "--lake", str(lake))
    trail = out.strip()
    for _ in range(2):
        assert (
            cli(capsys, "lake", "import-cloudtrail", str(DATA), "--event-data-store", trail, "--lake", str(lake))[0]
            == 0
        )
    _, out, _ = cli(
        capsys,
        "query",
        f"SELECT count(*) AS n, count(DISTINCT eventID) AS d FROM {trail}",
        "--lake",
        str(lake),
        "--format",
        "json",
    )
    counts = json.loads(out)[0]
    assert counts["n"] == counts["d"] > 0


def query_json(capsys, lake: Path, sql: str, *extra: str) -> tuple[int, object, str]:
    status, out, err = cli(capsys, "query", sql, "--lake", str(lake), "--format", "json", *extra)
    return status, (json.loads(out) if status == 0 else None), err


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        ("cardinality(eventData.userIdentity.details)", 2),
        ("format_datetime(eventTime, 'yyyy-MM-dd''T''HH:mm')", "2025-06-01T08:00"),
        ("CAST(date_trunc('hour', eventTime) AS VARCHAR)", "2025-06-01 08:00:00"),
        ("CAST(from_iso8601_timestamp(eventData.eventTime) AS VARCHAR)", "2025-06-01 08:00:00+00"),
        ('json_extract_scalar(\'{"a": {"b": "x"}}\', \'$.a.b\')', "x"),
        ("regexp_like(eventData.eventName, '^user\\.session')", True),
    ],
)
def test_trino_functions_users_write_work(capsys, lake, select, expected):
    status, rows, err = query_json(capsys, lake, f"SELECT {select} AS v FROM {store_id(capsys, lake)} LIMIT 1")
    assert status == 0, err
    assert rows == [{"v": expected}]


def test_an_unknown_function_is_named(capsys, lake):
    status, _, err = query_json(capsys, lake, f"SELECT approx_set(eventID) FROM {store_id(capsys, lake)}")
    assert status == 2
    assert "UnsupportedQuery" in err and "approx_set" in err


def test_unaliased_expressions_are_named_as_trino_names_them(capsys, lake):
    sql = f"SELECT eventData.eventName, count(*) FROM {store_id(capsys, lake)} GROUP BY 1 ORDER BY 1"
    status, rows, _ = query_json(capsys, lake, sql)
    assert status == 0
    assert rows[0] == {"eventName": "user.session.0", "_col1": 4}


def test_a_runaway_query_ends_with_a_clear_error(capsys, lake):
    store = store_id(capsys, lake)
    tables = ", ".join(f"{store} t{i}" for i in range(8))
    concat = " || ".join(f"t{i}.eventID" for i in range(8))
    sql = f"SELECT count(*) FROM {tables} WHERE strpos({concat}, 'zzz') > 0"  # 12**8 rows, each searched
    status, _, err = query_json(capsys, lake, sql, "--timeout", "0.5")
    assert status == 2
    assert "QueryTimeout" in err


def test_a_bad_memory_limit_is_refused(capsys, lake):
    status, _, err = query_json(capsys, lake, "SELECT 1", "--memory-limit", "1; DROP")
    assert status == 2
    assert "InvalidArgument" in err


def test_deeply_nested_sql_is_a_clear_error(capsys, lake):
    status, _, err = query_json(capsys, lake, "SELECT " + "(" * 5000 + "1" + ")" * 5000)
    assert status == 2
    assert "Traceback" not in err
    assert "QueryTooComplex" in err or "InvalidQuery" in err


@pytest.mark.parametrize("name", ["partner_events", "PARTNER_EVENTS", "channels", "store_x"])
def test_ctes_cannot_reach_the_lakes_own_tables(capsys, lake, name):
    sql = f"WITH {name} AS (SELECT * FROM {name}) SELECT count(*) FROM {name}"
    status, _, err = query_json(capsys, lake, sql)
    assert status == 2
    assert "QueryNotAllowed" in err
