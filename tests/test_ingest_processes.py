"""``ingest --jobs N``: preparation in other processes must change nothing but the time taken."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import duckdb
import pytest
from auditbridge.cli import ingest_processes
from auditbridge.cli.main import main
from auditbridge.lake.store import LocalLake
from events import eventbridge_event, okta_log_event


def actor(name: str) -> dict:
    return {"id": f"00u-{name}", "type": "User", "alternateId": f"{name}@example.com", "displayName": name.title()}


def mixed_input(path: Path) -> Path:
    """60 lines in batches of 10: good events, every kind of bad one, and copies within and across batches."""
    lines = []
    for index in range(60):
        event = okta_log_event(actor=actor(f"user{index % 7}"), published=f"2025-06-01T08:{index:02d}:00.000Z")
        lines.append(json.dumps(eventbridge_event(event)))
    lines[3] = "{truncated"
    lines[14] = json.dumps(eventbridge_event({"x": 1}, source="aws.partner/unknown.example/x"))
    lines[25] = json.dumps(eventbridge_event(okta_log_event(uuid="u" * 2000)))
    lines[36] = json.dumps(eventbridge_event(okta_log_event(published="2025-02-30T00:00:00Z")))
    lines[7] = lines[2]  # the same event twice in one batch
    lines[48] = lines[5]  # and in a later batch
    # Same uuid (so the same UID), other content, three batches later: the first one read is kept.
    lines[40] = lines[10].replace('"displayName": "User3"', '"displayName": "Someone Else"')
    assert lines[40] != lines[10]
    path.write_text("\n".join(lines) + "\n")
    return path


def ingest(capsys, source: Path, lake: Path, *extra: str) -> tuple[int, str, list[dict]]:
    status = main(["ingest", str(source), "--lake", str(lake), "--batch-size", "10", *extra])
    out = capsys.readouterr().out
    dead_files = list(lake.parent.glob(f"{lake.stem}.rejected-*.jsonl"))
    dead = [json.loads(line) for path in dead_files for line in path.read_text().splitlines()]
    return status, out, dead


def rows(lake: Path) -> list[tuple]:
    """Every stored row but what the lake makes up per run (eventID, ingestion time, store and channel)."""
    with duckdb.connect(str(lake), read_only=True) as con:
        return con.execute(
            "SELECT eventTime, awsRegion, eventData FROM partner_events ORDER BY eventData.eventTime, eventData.UID"
        ).fetchall()


def summary(out: str, lake: Path) -> list[str]:
    store = LocalLake(lake).default_store()
    return out.replace(str(lake), "LAKE").replace(store.id, "STORE").splitlines()[:-1]


@pytest.fixture
def spied(monkeypatch) -> list[int]:
    """How many processes each parallel ingest started."""
    started: list[int] = []
    real = ingest_processes.ingest_in_processes

    def spy(*args, **kwargs):
        started.append(args[5])
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_processes, "ingest_in_processes", spy)
    return started


def test_several_processes_store_report_and_park_exactly_what_one_process_does(tmp_path, capsys, spied):
    source = mixed_input(tmp_path / "mixed.jsonl")
    alone = ingest(capsys, source, tmp_path / "one.duckdb", "--jobs", "1")
    assert spied == []
    together = ingest(capsys, source, tmp_path / "three.duckdb", "--jobs", "3")
    assert spied == [3]

    assert alone[0] == together[0] == 1
    assert summary(alone[1], tmp_path / "one.duckdb") == summary(together[1], tmp_path / "three.duckdb")
    # The copy in its own batch is a duplicate; the later ones are sent, and the lake keeps the first.
    assert "read 60 events: sent 55 " in alone[1] and "1 duplicates, 4 rejected" in alone[1]
    assert alone[2] == together[2]  # the same dead letters, in input order
    assert [(d["position"].rsplit(":", 1)[1], d["errorCode"]) for d in together[2]] == [
        ("4", "MalformedMessage"),
        ("15", "UnknownSource"),
        ("26", "FieldTooLong"),
        ("37", "InvalidTimestamp"),
    ]
    stored = rows(tmp_path / "three.duckdb")
    assert stored == rows(tmp_path / "one.duckdb")
    assert len(stored) == 53
    kept = [row for row in stored if row[2]["UID"] == json.loads(source.read_text().splitlines()[10])["detail"]["uuid"]]
    assert [row[2]["userIdentity"]["details"]["displayName"] for row in kept] == ["User3"]


@pytest.mark.parametrize(
    ("events", "batch_size", "processes"),
    [(26, "10", []), (27, "10", [2]), (27, "100", [])],  # a file is judged by its size: 4 kB x --batch-size
)
def test_only_inputs_of_several_batches_are_prepared_in_other_processes(
    tmp_path, capsys, spied, events, batch_size, processes
):
    padding = "p" * (1_500 - len(json.dumps(eventbridge_event(okta_log_event(displayMessage="")))))
    lines = [json.dumps(eventbridge_event(okta_log_event(displayMessage=padding))) for _ in range(events)]
    assert {len(line) for line in lines} == {1_500}  # with newlines, 26 events are under 40 kB, 27 over
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines))
    status = main(["ingest", str(source), "--lake", str(tmp_path / "lake.duckdb"), "--batch-size", batch_size])
    assert status == 0 and f"sent {events} " in capsys.readouterr().out
    assert spied == processes


@pytest.mark.parametrize(("events", "processes"), [(30, []), (31, [2])])
def test_standard_input_is_judged_by_its_first_batches(tmp_path, capsys, spied, monkeypatch, events, processes):
    data = "\n".join(json.dumps(eventbridge_event(okta_log_event())) for _ in range(events)).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    status = main(["ingest", "-", "--lake", str(tmp_path / "lake.duckdb"), "--batch-size", "10", "--jobs", "2"])
    assert status == 0 and f"sent {events} " in capsys.readouterr().out
    assert spied == processes  # 31 events make a fourth batch


def test_a_failed_lake_write_is_retried_and_nothing_is_lost(tmp_path, capsys, monkeypatch, spied):
    source = mixed_input(tmp_path / "mixed.jsonl")
    real = LocalLake.insert_partner_lines
    failures = []

    def fails_once(self, lines):
        if not failures:
            failures.append(len(lines))
            raise duckdb.IOException("disk full, say")
        return real(self, lines)

    monkeypatch.setattr(LocalLake, "insert_partner_lines", fails_once)
    status, out, _dead = ingest(capsys, source, tmp_path / "lake.duckdb", "--jobs", "2")
    assert spied == [2] and failures == [8]  # the first batch's write: 10 lines, one malformed, one a copy
    assert status == 1 and "sent 55 " in out and "4 rejected" in out
    assert len(rows(tmp_path / "lake.duckdb")) == 53


def test_a_process_that_cannot_start_stops_the_ingest_with_a_reason(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ingest_processes, "_CHILD", "import os; os._exit(3)")
    source = mixed_input(tmp_path / "mixed.jsonl")
    status = main(["ingest", str(source), "--lake", str(tmp_path / "lake.duckdb"), "--batch-size", "10"])
    err = capsys.readouterr().err
    assert status == 2
    assert re.search(r"IngestProcessFailed: preparation process \d stopped unexpectedly \(exit code 3\)", err)
    assert "run the same input again" in err


def test_a_process_that_fails_says_why(tmp_path, capsys, monkeypatch):
    # A fault injected into the processes' own code: they report the error, then stop.
    monkeypatch.setattr(
        ingest_processes,
        "_CHILD",
        "import sys; from auditbridge.cli import ingest_processes as p; "
        "p._pipeline = lambda *a: 1 / 0; p.serve(int(sys.argv[1]))",
    )
    source = mixed_input(tmp_path / "mixed.jsonl")
    status = main(["ingest", str(source), "--lake", str(tmp_path / "lake.duckdb"), "--batch-size", "10"])
    err = capsys.readouterr().err
    assert status == 2
    assert re.search(r"IngestProcessFailed: preparation process \d failed: ZeroDivisionError: division by zero", err)


def test_jobs_must_be_positive(tmp_path, capsys):
    status = main(["ingest", "-", "--lake", str(tmp_path / "lake.duckdb"), "--jobs", "0"])
    assert status == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err


def test_a_held_lake_checkpoints_less_often_and_fully_when_released(tmp_path):
    from auditbridge.endpoint.service import StoredEvent

    lake = LocalLake(tmp_path / "lake.duckdb")
    store = lake.create_store("held")
    data = json.dumps(
        {"eventTime": "2025-01-01T00:00:00Z", "UID": "u", "userIdentity": {"type": "U", "principalId": "p"}}
    )
    with lake.hold(), lake.connect() as con:
        assert con.execute("SELECT current_setting('checkpoint_threshold')").fetchone() == ("256.0 MiB",)
        lake.insert_partner_events(
            store, [StoredEvent(store.channel_arn, None, "e", "id", data, "2025-01-01T00:00:01Z")]
        )
        assert (tmp_path / "lake.duckdb.wal").stat().st_size > 0  # committed, in the log
    assert not (tmp_path / "lake.duckdb.wal").exists()  # all of it in the file once released
    with duckdb.connect(str(tmp_path / "lake.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM partner_events").fetchone() == (1,)
        assert con.execute("SELECT current_setting('checkpoint_threshold')").fetchone() == ("16.0 MiB",)  # the default


def test_without_posix_file_descriptors_everything_stays_in_one_process(tmp_path, capsys, monkeypatch, spied):
    from auditbridge.cli import ingest_command

    monkeypatch.setattr(ingest_command, "PROCESSES_SUPPORTED", False)
    assert ingest_command.default_jobs() == 1
    source = mixed_input(tmp_path / "mixed.jsonl")
    assert main(["ingest", str(source), "--lake", str(tmp_path / "a.duckdb"), "--jobs", "2"]) == 2
    assert "--jobs above 1 needs Linux or macOS" in capsys.readouterr().err
    assert spied == []


def test_when_one_process_dies_the_others_stop_at_once_without_retrying(tmp_path, capsys, monkeypatch):
    # The process given the first batch dies on it; the second, whose write waits for the first
    # batch, is told to stop while it waits, and ends cleanly instead of retrying its write.
    monkeypatch.setattr(
        ingest_processes,
        "_CHILD",
        "import os, sys\n"
        "from auditbridge.cli import ingest_processes\n"
        "from auditbridge.pipeline import Pipeline\n"
        "real = Pipeline.run\n"
        "def run(self, messages, deadline=None):\n"
        "    messages = list(messages)\n"
        "    if any('CRASH' in message.body for message in messages):\n"
        "        os._exit(3)\n"
        "    return real(self, messages, deadline)\n"
        "Pipeline.run = run\n"
        "ingest_processes.serve(int(sys.argv[1]))\n",
    )
    ended: list[tuple[str, int | None]] = []
    real_stop = ingest_processes._stop
    monkeypatch.setattr(
        ingest_processes, "_stop", lambda each: (real_stop(each), ended.append((each.name, each.process.returncode)))
    )
    source = mixed_input(tmp_path / "mixed.jsonl")
    lines = source.read_text().splitlines()
    lines[0] = lines[0].replace('"SystemLog"', '"SystemLog", "note": "CRASH"')
    source.write_text("\n".join(lines) + "\n")
    status = main(["ingest", str(source), "--lake", str(tmp_path / "lake.duckdb"), "--batch-size", "10", "--jobs", "2"])
    assert status == 2
    assert "preparation process 1 stopped unexpectedly (exit code 3)" in capsys.readouterr().err
    assert ended == [("preparation process 1", 3), ("preparation process 2", 0)]  # not killed (-9)
    assert rows(tmp_path / "lake.duckdb") == []  # the second batch waited for the first, which never came

    # Running the same input again, without the fault, stores every event once.
    monkeypatch.undo()
    lines[0] = lines[0].replace(', "note": "CRASH"', "")
    source.write_text("\n".join(lines) + "\n")
    assert main(["ingest", str(source), "--lake", str(tmp_path / "lake.duckdb"), "--batch-size", "10"]) == 1
    assert "sent 55 " in capsys.readouterr().out and len(rows(tmp_path / "lake.duckdb")) == 53


@pytest.mark.parametrize(("cpus", "jobs"), [(1, 1), (2, 2), (8, 8), (32, 8)])
def test_the_default_is_one_process_per_cpu_at_most_eight(monkeypatch, cpus, jobs):
    from auditbridge.cli import ingest_command

    monkeypatch.setattr(ingest_command.os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    assert ingest_command.default_jobs() == jobs
