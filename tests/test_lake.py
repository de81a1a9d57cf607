"""The local lake: ingest, CloudTrail Lake SQL, imported AWS events, and the persistent endpoint."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from auditbridge.cli.main import main
from auditbridge.endpoint import CloudTrailDataService, LocalEndpoint
from auditbridge.endpoint.service import StoredEvent
from auditbridge.lake.query import QueryError, run_query, translate
from auditbridge.lake.store import LakeEventStore, LocalLake
from events import eventbridge_event, okta_log_event
from hypothesis import example, given, settings
from hypothesis import strategies as st

DATA = Path(__file__).parent / "data"


def write_events(path: Path, events: list[dict]) -> str:
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return str(path)


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def actor(name: str) -> dict:
    return {"id": f"00u-{name}", "type": "User", "alternateId": f"{name}@example.com", "displayName": name.title()}


@pytest.fixture
def lake_path(tmp_path) -> Path:
    return tmp_path / "lake.duckdb"


@pytest.fixture
def okta_store(lake_path, tmp_path, capsys) -> str:
    """A lake with a default store of 6 Okta events from 3 users over two hours."""
    events = [
        okta_log_event(actor=actor("ana"), published="2025-06-01T08:00:00.100Z"),
        okta_log_event(
            actor=actor("ana"),
            published="2025-06-01T08:10:00.100Z",
            outcome={"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
        ),
        okta_log_event(
            actor=actor("ana"), published="2025-06-01T09:00:00.100Z", eventType="user.authentication.auth_via_mfa"
        ),
        okta_log_event(
            actor=actor("ben"),
            published="2025-06-01T09:05:00Z",
            target=[{"id": "00u-cy", "type": "User", "alternateId": "cy@example.com", "displayName": "Cy"}],
            eventType="user.account.privilege.grant",
        ),
        okta_log_event(actor=actor("ben"), published="2025-06-01T09:30:00Z"),
        okta_log_event(actor=actor("cy"), published="2025-06-01T10:00:00Z"),
    ]
    source = write_events(tmp_path / "okta.jsonl", [eventbridge_event(e) for e in events])
    status, _, _ = cli(capsys, "ingest", source, "--lake", str(lake_path))
    assert status == 0
    return LocalLake(lake_path).default_store().id


def query(lake_path: Path, sql: str) -> list[dict]:
    return run_query(sql, LocalLake(lake_path)).records()


def test_the_blog_query_lists_events_per_user(lake_path, okta_store):
    rows = query(
        lake_path,
        f"SELECT element_at(eventData.userIdentity.details, 'alternateId') AS user, COUNT(*) AS events "
        f"FROM {okta_store} WHERE eventData.eventSource = 'okta.system-log-events' GROUP BY 1 ORDER BY 2 DESC, 1",
    )
    assert rows == [
        {"user": "ana@example.com", "events": 3},
        {"user": "ben@example.com", "events": 2},
        {"user": "cy@example.com", "events": 1},
    ]


def test_rows_carry_what_cloudtrail_adds(lake_path, okta_store):
    row = query(
        lake_path,
        f"SELECT eventCategory, eventType, eventID, metadata.channelARN AS channel, "
        f"metadata.ingestionTime AS ingested, eventData.eventTime AS sent_time, eventTime "
        f"FROM {okta_store} ORDER BY eventTime LIMIT 1",
    )[0]
    assert row["eventCategory"] == "ActivityAuditLog" and row["eventType"] == "ActivityLog"
    assert len(row["eventID"]) == 36 and row["channel"].endswith(okta_store)
    assert row["sent_time"] == "2025-06-01T08:00:00Z"  # a string inside eventData
    assert str(row["eventTime"]) == "2025-06-01 08:00:00"  # a timestamp at the top


def test_time_windows_on_the_top_level_event_time(lake_path, okta_store):
    rows = query(
        lake_path,
        f"SELECT count(*) AS n FROM {okta_store} "
        f"WHERE eventTime >= '2025-06-01 09:00:00.000' AND eventTime < '2025-06-01 10:00:00.000'",
    )
    assert rows == [{"n": 3}]


def test_identifiers_are_case_insensitive_and_arns_name_stores(lake_path, okta_store):
    arn = f"arn:aws:cloudtrail:local:000000000000:eventdatastore/{okta_store}"
    rows = query(
        lake_path,
        f"SELECT EVENTDATA.EVENTNAME AS name, eventdata.useridentity.principalid AS who FROM {arn} "
        "WHERE eventdata.errorcode = 'FAILURE'",
    )
    assert rows == [{"name": "user.session.start", "who": "00u-ana"}]


def test_maps_read_with_element_at(lake_path, okta_store):
    rows = query(
        lake_path,
        f"SELECT element_at(eventData.requestParameters, 'target.0.alternateId') AS target, "
        f"element_at(eventData.additionalEventData, 'severity') AS severity, "
        f"element_at(eventData.additionalEventData, 'client') AS client "
        f"FROM {okta_store} WHERE eventData.eventName = 'user.account.privilege.grant'",
    )
    assert rows[0]["target"] == "cy@example.com" and rows[0]["severity"] == "INFO"
    assert json.loads(rows[0]["client"])["ipAddress"] == "192.0.2.10"  # nested objects come back as JSON text


def test_partner_events_union_imported_aws_events(lake_path, okta_store, capsys):
    status, out, _ = cli(capsys, "lake", "create", "--kind", "cloudtrail", "--name", "aws", "--lake", str(lake_path))
    aws_store = out.strip()
    status, out, _ = cli(
        capsys, "lake", "import-cloudtrail", str(DATA), "--event-data-store", aws_store, "--lake", str(lake_path)
    )
    assert status == 0 and "imported 5 CloudTrail events" in out
    rows = query(
        lake_path,
        f"SELECT eventTime, eventData.eventName AS action, "
        f"element_at(eventData.userIdentity.details, 'alternateId') AS who "
        f"FROM {okta_store} WHERE eventTime BETWEEN '2025-06-01 08:00:00.000' AND '2025-06-01 09:00:00.000' "
        f"UNION ALL "
        f"SELECT eventTime, eventName AS action, userIdentity.principalid AS who FROM {aws_store} "
        f"WHERE eventTime BETWEEN '2025-06-01 08:00:00.000' AND '2025-06-01 09:00:00.000' ORDER BY eventTime",
    )
    assert [(str(r["eventTime"]), r["action"]) for r in rows] == [
        ("2025-06-01 08:00:00", "user.session.start"),
        ("2025-06-01 08:00:30", "CreateUser"),
        ("2025-06-01 08:01:00", "AttachUserPolicy"),
        ("2025-06-01 08:10:00", "user.session.start"),
        ("2025-06-01 09:00:00", "user.authentication.auth_via_mfa"),
    ]
    aws = query(
        lake_path,
        f"SELECT element_at(requestParameters, 'policyArn') AS policy, userIdentity.username AS u "
        f"FROM {aws_store} WHERE eventName = 'AttachUserPolicy'",
    )
    assert aws == [{"policy": "arn:aws:iam::aws:policy/AdministratorAccess", "u": "alice"}]


def test_json_and_csv_output(lake_path, okta_store, capsys):
    sql = f"SELECT eventData.eventName AS name, count(*) AS n FROM {okta_store} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 2"
    status, out, _ = cli(capsys, "query", "--lake", str(lake_path), "--format", "json", sql)
    assert status == 0
    assert json.loads(out) == [{"name": "user.session.start", "n": 4}, {"name": "user.account.privilege.grant", "n": 1}]
    status, out, _ = cli(capsys, "query", "--lake", str(lake_path), "--format", "csv", sql)
    assert list(csv.reader(io.StringIO(out))) == [
        ["name", "n"],
        ["user.session.start", "4"],
        ["user.account.privilege.grant", "1"],
    ]
    status, out, _ = cli(capsys, "query", "--lake", str(lake_path), sql)
    assert out.splitlines()[0].split() == ["name", "n"] and "(2 rows)" in out


def test_several_queries_in_one_command_open_the_lake_once(lake_path, okta_store, capsys, monkeypatch):
    from auditbridge.lake import store as store_module

    opened: list[object] = []
    real_open = store_module._open
    monkeypatch.setattr(store_module, "_open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    names = f"SELECT eventData.eventName AS name, count(*) AS n FROM {okta_store} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
    users = f"SELECT count(DISTINCT eventData.userIdentity.principalId) AS users FROM {okta_store}"
    status, out, _ = cli(capsys, "query", "--lake", str(lake_path), "--format", "json", names, users)
    assert status == 0 and len(opened) == 1
    first, second = out.split("\n]\n", 1)  # one JSON array per query, one after the other
    assert json.loads(first + "]") == [{"name": "user.session.start", "n": 4}]
    assert json.loads(second) == [{"users": 3}]
    status, out, _ = cli(capsys, "query", "--lake", str(lake_path), names, users)
    assert status == 0 and [line.strip() for line in out.split("\n\n")[1].splitlines()] == ["users", "3", "(1 row)"]
    status, out, _ = cli(capsys, "query", "--lake", str(lake_path), "--format", "csv", names, users)
    assert out == "name,n\nuser.session.start,4\n\nusers\n3\n"
    # The first query that fails stops the command, after the results before it.
    status, out, err = cli(capsys, "query", "--lake", str(lake_path), users, f"DELETE FROM {okta_store}", names)
    assert status == 2 and out.count("(1 row)") == 1 and "QueryNotAllowed" in err


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM {store}",
        "INSERT INTO {store} SELECT * FROM {store}",
        "UPDATE {store} SET eventID = 'x'",
        "DROP TABLE partner_events",
        "CREATE TABLE x AS SELECT * FROM {store}",
        "SELECT 1; DELETE FROM {store}",
        "COPY partner_events TO '/tmp/out.csv'",
    ],
)
def test_statements_that_write_are_refused(lake_path, okta_store, sql):
    with pytest.raises(QueryError) as info:
        query(lake_path, sql.format(store=okta_store))
    assert info.value.code in {"QueryNotAllowed", "InvalidQuery"}
    assert query(lake_path, f"SELECT count(*) AS n FROM {okta_store}") == [{"n": 6}]


def test_queries_cannot_reach_files(lake_path, okta_store):
    with pytest.raises(QueryError):
        query(lake_path, "SELECT * FROM read_csv('/etc/passwd')")


def test_an_unknown_store_names_the_known_ones(lake_path, okta_store, capsys):
    status, _, err = cli(
        capsys, "query", "--lake", str(lake_path), "SELECT * FROM 11111111-2222-3333-4444-555555555555"
    )
    assert status == 2 and "EventDataStoreNotFound" in err and okta_store in err
    with pytest.raises(QueryError, match="unknown table 'cloudtrail_events'"):
        query(lake_path, "SELECT * FROM cloudtrail_events")


def test_bad_syntax_is_a_clear_error_not_a_traceback(lake_path, okta_store, capsys):
    status, _, err = cli(capsys, "query", "--lake", str(lake_path), f"SELECT FROM WHERE {okta_store} ((")
    assert (
        status == 2
        and err.startswith("auditbridge: InvalidQuery: the query is not valid SQL")
        and "Traceback" not in err
    )
    status, _, err = cli(capsys, "query", "--lake", str(lake_path), f"SELECT no_such_column FROM {okta_store}")
    assert status == 2 and "QueryFailed" in err


def test_ctes_and_joins_across_stores(lake_path, okta_store):
    sql = (
        f"WITH failures AS (SELECT eventData.userIdentity.principalId AS who FROM {okta_store} "
        f"WHERE eventData.errorCode IS NOT NULL) "
        f"SELECT f.who, count(*) AS n FROM failures f JOIN {okta_store} e "
        f"ON e.eventData.userIdentity.principalId = f.who GROUP BY 1"
    )
    assert query(lake_path, sql) == [{"who": "00u-ana", "n": 3}]
    assert "store_" in translate(sql, LocalLake(lake_path))


def test_ingest_keeps_every_bad_event_with_its_reason(lake_path, tmp_path, capsys):
    good = [eventbridge_event(okta_log_event()) for _ in range(3)]
    oversized = eventbridge_event(okta_log_event(uuid="u" * 2000))
    lines = [
        json.dumps(good[0]),
        "{truncated",
        json.dumps(eventbridge_event({"x": 1}, source="aws.partner/unknown.example/x")),
        json.dumps(good[1]),
        json.dumps(oversized),
        json.dumps(eventbridge_event(okta_log_event(published="2025-02-30T00:00:00Z"))),
        json.dumps(good[2]),
    ]
    source = tmp_path / "mixed.jsonl"
    source.write_text("\n".join(lines))
    status, out, _ = cli(capsys, "ingest", str(source), "--lake", str(lake_path))
    assert status == 1
    assert "read 7 events: sent 3" in out and "4 rejected" in out
    assert f"in {lake_path} in 1 write," in out  # up to 1,000 entries a transaction
    dead_path = Path(out.strip().splitlines()[-1].split(": ", 1)[1])
    assert dead_path.parent == lake_path.parent
    dead = [json.loads(line) for line in dead_path.read_text().splitlines()]
    assert [(d["position"].rsplit(":", 1)[1], d["errorCode"]) for d in dead] == [
        ("2", "MalformedMessage"),
        ("3", "UnknownSource"),
        ("5", "FieldTooLong"),
        ("6", "InvalidTimestamp"),
    ]
    assert dead[2]["field"] == "UID" and dead[0]["body"] == "{truncated"
    assert query(lake_path, f"SELECT count(*) AS n FROM {LocalLake(lake_path).default_store().id}") == [{"n": 3}]


def test_a_failing_batch_leaves_nothing_behind(lake_path):
    lake = LocalLake(lake_path)
    store = lake.create_store("atomic")
    data = json.dumps({"eventTime": "2025-01-01T00:00:00Z", "userIdentity": {"type": "U", "principalId": "p"}})
    events = [
        StoredEvent(
            "arn:aws:cloudtrail:local:000000000000:channel/c",
            None,
            f"e{i}",
            f"id{i}",
            data.replace("{", f'{{"UID": "u{i}", ', 1),
            "2025-01-01T00:00:01Z",
        )
        for i in range(3)
    ]
    broken = StoredEvent(
        events[0].channel_arn, None, "bad", "id-bad", data.replace("2025-01-01T", "not a time "), "2025-01-01T00:00:01Z"
    )
    with pytest.raises(Exception, match=r"(?i)conver|cast|timestamp"):
        lake.insert_partner_events(store, [*events, broken])
    assert query(lake_path, f"SELECT count(*) AS n FROM {store.id}") == [{"n": 0}]
    lake.insert_partner_events(store, events)
    assert query(lake_path, f"SELECT count(*) AS n FROM {store.id}") == [{"n": 3}]


def test_lake_serve_persists_puts_and_readers_see_whole_batches(lake_path, monkeypatch):
    lake = LocalLake(lake_path)
    service = CloudTrailDataService(store=LakeEventStore(lake), auto_create_channels=True)
    channel = "arn:aws:cloudtrail:us-east-1:123456789012:channel/5a1f3c2e-0000-4000-8000-00000000c0de"
    with LocalEndpoint(service) as endpoint:
        client = boto3.client(
            "cloudtrail-data",
            region_name="us-east-1",
            endpoint_url=endpoint.url,
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        data = json.dumps(
            {
                "version": "0",
                "userIdentity": {"type": "U", "principalId": "p"},
                "eventSource": "app",
                "eventName": "did",
                "eventTime": "2025-01-01T00:00:00Z",
                "UID": "u",
                "recipientAccountId": "123456789012",
            }
        )
        counts = []
        for batch in range(5):
            response = client.put_audit_events(
                channelArn=channel,
                auditEvents=[
                    {"id": f"b{batch}-{i}", "eventData": data.replace('"UID": "u"', f'"UID": "u{batch}-{i}"')}
                    for i in range(100)
                ],
            )
            assert len(response["successful"]) == 100
            reader = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "auditbridge.cli.main",
                    "query",
                    "--lake",
                    str(lake_path),
                    "--format",
                    "json",
                    "SELECT count(*) AS n FROM 5a1f3c2e-0000-4000-8000-00000000c0de",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            counts.append(json.loads(reader.stdout)[0]["n"])
    assert counts == [100, 200, 300, 400, 500]
    assert [s.name for s in lake.stores()] == ["channel 5a1f3c2e-0000-4000-8000-00000000c0de"]


def test_lake_list_and_create(lake_path, okta_store, capsys):
    status, out, _ = cli(capsys, "lake", "create", "--name", "extra", "--lake", str(lake_path))
    assert status == 0
    status, out, _ = cli(capsys, "lake", "list", "--lake", str(lake_path))
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["ID", "NAME", "KIND", "EVENTS"]
    assert lines[1].split()[:4] == [okta_store, "default", "partner", "6"]
    assert lines[2].split()[1:4] == ["extra", "partner", "0"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not json", "not valid JSON"), (b'{"events": []}', "no 'Records' list"), (b"\x1f\x8bbroken", "gzip")],
)
def test_import_refuses_files_that_are_not_cloudtrail_logs(lake_path, tmp_path, capsys, content, message):
    _, out, _ = cli(capsys, "lake", "create", "--kind", "cloudtrail", "--lake", str(lake_path))
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    status, _, err = cli(
        capsys, "lake", "import-cloudtrail", str(bad), "--event-data-store", out.strip(), "--lake", str(lake_path)
    )
    assert status == 2 and message in err


def test_cloudtrail_logs_only_go_into_cloudtrail_stores(lake_path, okta_store, capsys):
    status, _, err = cli(
        capsys, "lake", "import-cloudtrail", str(DATA), "--event-data-store", okta_store, "--lake", str(lake_path)
    )
    assert status == 2 and "WrongStoreKind" in err


def test_ingest_can_send_to_cloudtrail_lake_instead(tmp_path, capsys, auditbridge_cloudtrail_data):
    source = write_events(tmp_path / "e.jsonl", [eventbridge_event(okta_log_event()) for _ in range(5)])
    status, out, _ = cli(
        capsys, "ingest", source, "--sink", "cloudtrail-lake", "--channel-arn", auditbridge_cloudtrail_data.channel_arn
    )
    assert status == 0
    assert f"sent 5 to channel {auditbridge_cloudtrail_data.channel_arn} in 1 PutAuditEvents request," in out
    assert len(auditbridge_cloudtrail_data.stored.events) == 5
    status, _, err = cli(capsys, "ingest", source, "--sink", "cloudtrail-lake", "--channel-arn", "")
    assert status == 2 and "needs --channel-arn" in err


def test_ingest_shows_a_progress_bar_on_a_terminal_only(tmp_path):
    import os
    import pty

    source = write_events(tmp_path / "e.jsonl", [eventbridge_event(okta_log_event()) for _ in range(30)])
    command = [
        sys.executable,
        "-m",
        "auditbridge.cli.main",
        "ingest",
        source,
        "--lake",
        str(tmp_path / "l.duckdb"),
        "--batch-size",
        "10",
    ]
    leader, follower = pty.openpty()
    done = subprocess.run(command, stderr=follower, stdout=subprocess.PIPE, text=True, check=False, timeout=60)
    os.close(follower)
    terminal = os.read(leader, 65536).decode()
    os.close(leader)
    assert done.returncode == 0
    assert "[" in terminal and "100%" in terminal and "30 events" in terminal
    piped = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert piped.stderr == ""  # no progress output into logs or pipes


def rows_both_ways(text: str) -> tuple[tuple, tuple]:
    """The lake row of an accepted event whose eventData is ``text``: as written from the text, as built in Python."""
    import tempfile

    import orjson
    from auditbridge.lake.schema import partner_line, partner_row

    values = {
        "event_id": "ev-1",
        "event_data": text,
        "channel_arn": "arn:aws:cloudtrail:local:000000000000:channel/c",
        "ingestion_time": "2025-06-01T08:00:01.250Z",
    }
    with tempfile.TemporaryDirectory() as folder:
        lake = LocalLake(Path(folder) / "lake.duckdb")
        ours, reference = lake.create_store("ours"), lake.create_store("reference")
        lake._insert("partner", [(("x",), partner_line(store_id=ours.id, **values, data=orjson.loads(text)))])
        lake._insert("partner", [(("y",), orjson.dumps(partner_row(store_id=reference.id, **values)))])
        with lake.reading() as con:
            query = "SELECT * EXCLUDE (store_id) FROM partner_events WHERE store_id = ?"
            return con.execute(query, [ours.id]).fetchone(), con.execute(query, [reference.id]).fetchone()


json_values = st.recursive(
    st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=10,
)
maps = st.none() | st.dictionaries(st.text(max_size=6), json_values | st.none(), max_size=5)


@settings(max_examples=40)
@example(
    request_parameters={"a": 1e16, "b": [1e16, {"c": 1.5e-5}], "d": -0.0, "e": 5e-324, "f": 38.7223, "g": 1e-7},
    additional={"x": 0.30000000000000004, "y": 1e22, "z": [0.0001, 123456789.123]},
    details={"k": 2**63 - 1},
    error_message="rv:128.0 and :1e5 in text",
)
@example(request_parameters={"a": None}, additional={"b": [None]}, details={"\u0001": "\u001f"}, error_message=None)
@given(
    request_parameters=maps,
    additional=maps,
    details=maps,
    error_message=st.none() | st.text(min_size=1, max_size=20),
)
def test_rows_written_from_the_events_own_text_read_back_as_rows_built_in_python(
    request_parameters, additional, details, error_message
):
    """The lake writes an accepted event's text as it came; DuckDB must read it as partner_row builds it."""

    from auditbridge.models import EventData, UserIdentity

    data = EventData.build(
        version="1",
        userIdentity=UserIdentity.build(type="User", principalId="p", details=details),
        eventSource="okta.system-log-events",
        eventName="user.session.start",
        eventTime="2025-06-01T08:00:00Z",
        UID="u-1",
        recipientAccountId="000000000000",
        requestParameters=request_parameters,
        errorMessage=error_message,
        additionalEventData=additional,
    )
    try:
        text = data.to_json_bytes().decode()
    except TypeError:
        return  # not encodable: refused before it could reach a lake
    ours, reference = rows_both_ways(text)
    assert ours == reference


def test_batches_arriving_while_one_is_written_are_committed_together_each_whole(lake_path, monkeypatch):
    import dataclasses
    import threading
    import time

    lake = LocalLake(lake_path)
    writes: list[int] = []
    release, first_started = threading.Event(), threading.Event()
    original = LocalLake._write

    def slow_write(self, kind, batches):
        writes.append(len(batches))
        if len(writes) == 1:
            first_started.set()
            release.wait(10)
        return original(self, kind, batches)

    def events(prefix: str, count: int) -> list[StoredEvent]:
        data = {
            "version": "1",
            "eventTime": "2025-01-01T00:00:00Z",
            "eventSource": "s",
            "eventName": "n",
            "recipientAccountId": "000000000000",
            "userIdentity": {"type": "U", "principalId": "p"},
        }
        return [
            StoredEvent(
                "arn:aws:cloudtrail:local:000000000000:channel/c",
                None,
                f"{prefix}{i}",
                f"id-{prefix}{i}",
                json.dumps({**data, "UID": f"{prefix}{i}"}),
                "2025-01-01T00:00:01Z",
            )
            for i in range(count)
        ]

    [good] = events("bad", 1)
    broken = [dataclasses.replace(good, event_data=good.event_data.replace("2025-01-01T", "not a time "))]
    failures: list[BaseException] = []

    def insert(batch):
        try:
            lake.insert_partner_events(store, batch)
        except Exception as exc:
            failures.append(exc)

    with lake.hold():
        store = lake.create_store("grouped")
        monkeypatch.setattr(LocalLake, "_write", slow_write)
        first = threading.Thread(target=insert, args=(events("a", 5),))
        first.start()
        assert first_started.wait(10)
        others = [threading.Thread(target=insert, args=(batch,)) for batch in (events("b", 5), broken, events("c", 5))]
        for thread in others:
            thread.start()
        deadline = time.monotonic() + 10  # the three queue behind the first write ...
        while len(lake._groups["partner"]._queue) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        release.set()  # ... and go as one group
        for thread in [first, *others]:
            thread.join(10)
    # The first batch alone; the group of three, which fails (the broken batch); then each of the
    # three on its own: the good ones stored, the broken one refused, nothing half-written.
    assert writes == [1, 3, 1, 1, 1]
    assert len(failures) == 1
    assert query(lake_path, f"SELECT count(*) AS n FROM {store.id}") == [{"n": 15}]


def test_numbers_duckdb_writes_otherwise_are_all_caught(tmp_path):
    """Every float DuckDB would write differently from orjson sends its event the slower way."""
    import math
    import random
    import struct

    import duckdb
    import orjson
    from auditbridge.lake.schema import _otherwise_written_number
    from auditbridge.records import as_string_map

    rng = random.Random(5)
    values: list[float] = [1e16, 1e-7, 1.5e-5, 1.5e-4, 0.0001, 1e15, 9.999999999999999e15, 5e-324, -0.0, 0.1]
    values += [struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(3000)]
    values += [rng.uniform(-1, 1) * 10 ** rng.randint(-12, 22) for _ in range(3000)]
    values = [v for v in values if math.isfinite(v)]
    path = tmp_path / "numbers.jsonl"
    lines = [orjson.dumps({"m": {"v": value, "n": [value]}}) for value in values]
    path.write_bytes(b"\n".join(lines) + b"\n")
    rows = (
        duckdb.connect()
        .execute(
            "SELECT m FROM read_json(?, format='newline_delimited', columns={'m': 'MAP(VARCHAR, VARCHAR)'})",
            [str(path)],
        )
        .fetchall()
    )
    missed = [
        line
        for line, (read,) in zip(lines, rows, strict=True)
        if not _otherwise_written_number(line) and read != as_string_map(orjson.loads(line)["m"])
    ]
    assert missed == []


def test_queries_in_one_reading_block_share_a_connection_and_answer_in_utc(lake_path, okta_store, monkeypatch):
    from auditbridge.lake import store as store_module

    lake = LocalLake(lake_path)
    sql = f"SELECT min(from_iso8601_timestamp(eventData.eventTime)) AS first, count(*) AS n FROM {okta_store}"
    alone = run_query(sql, lake).records()
    opened: list[object] = []
    real_open = store_module._open
    monkeypatch.setattr(store_module, "_open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    with lake.reading():
        answers = [run_query(sql, lake).records() for _ in range(3)]
        later = run_query(sql, lake, memory_limit="512MB").records()  # other settings: set again, same session
    assert len(opened) == 1  # the file is opened once for the four queries, stores looked up once
    assert answers == [alone] * 3 == [later] * 3
    assert str(alone[0]["first"]) == "2025-06-01 08:00:00+00:00"  # UTC, though this process runs in Pacific/Chatham


def test_ingest_writes_up_to_a_thousand_entries_a_transaction_each_checked_as_putauditevents_would(
    tmp_path, lake_path, capsys
):
    events = [eventbridge_event(okta_log_event()) for _ in range(2_300)]
    events[1_500]["detail"]["uuid"] = "x" * 2000  # refused on its own; its write keeps the rest
    source = write_events(tmp_path / "many.jsonl", events)
    status, out, _ = cli(capsys, "ingest", source, "--lake", str(lake_path), "--batch-size", "2300")
    assert status == 1
    assert "sent 2,299" in out and "in 3 writes," in out and "1 rejected" in out
    assert "FieldTooLong" in out
    store = LocalLake(lake_path).default_store().id
    assert query(lake_path, f"SELECT count(*) AS n FROM {store}") == [{"n": 2_299}]


@pytest.mark.parametrize(
    "text",
    [
        # Another client's eventData: integers beyond 64 bits (orjson reads a float, DuckDB keeps the digits),
        '{"version":"1","userIdentity":{"type":"U","principalId":"p"},"eventSource":"s","eventName":"n",'
        '"eventTime":"2025-06-01T08:00:00Z","UID":"u","recipientAccountId":"000000000000",'
        '"requestParameters":{"big":123456789012345678901234567890,"list":[-9223372036854775809]}}',
        # pretty-printed, keys in another order, and escapes orjson would not write,
        '{\n  "UID": "u", "version": "1", "eventName": "n", "eventSource": "s",\n'
        '  "eventTime": "2025-06-01T08:00:00Z", "recipientAccountId": "000000000000",\n'
        '  "userIdentity": {"principalId": "p", "type": "U", "details": {"k": "a\\/b", "n": 1E2}},\n'
        '  "additionalEventData": {"nested": {"z": 2.50, "a": [1, 2]}}\n}',
        # and non-ASCII written as escapes.
        '{"version":"1","userIdentity":{"type":"U","principalId":"p\\u00e9"},"eventSource":"s","eventName":"n",'
        '"eventTime":"2025-06-01T08:00:00Z","UID":"u","recipientAccountId":"000000000000",'
        '"responseElements":{"r":{"q":"\\u00e9\\u0001"}}}',
    ],
)
def test_another_clients_text_reads_back_as_rows_built_in_python(text):
    """`lake serve` takes eventData from any client: whatever its form, the row must be the one Python builds."""

    ours, reference = rows_both_ways(text)
    assert ours == reference
