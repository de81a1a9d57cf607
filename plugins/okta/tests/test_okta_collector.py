"""Pulling the Okta System Log: a loopback fake of the API, the real collector, the real pipeline and lake."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from auditbridge.assembly import build_pipeline
from auditbridge.checkpoints import Checkpoint, CheckpointConflict, DynamoDBCheckpoints, FileCheckpoints
from auditbridge.collect import Clock, CollectRun
from auditbridge.config import Destinations
from auditbridge.dead_letters import JsonLinesDeadLetters
from auditbridge.envelope import EventBridgeEvent
from auditbridge.errors import ConfigurationError, PermanentError
from auditbridge.mappers import MappingContext, entry_id_for
from auditbridge_okta.collector import COMPLETE, OKTA_COLLECTOR
from auditbridge_okta.fake_api import FakeOktaServer, FakeSystemLog, log_events
from auditbridge_okta.mapper import map_log_event

NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(days=3)


class FakeClock(Clock):
    """Time that passes only when someone waits: waits are measured, never slept."""

    def __init__(self, start: float) -> None:
        super().__init__()
        self.t = start
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += max(0.0, seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW.timestamp())


@pytest.fixture
def okta(clock, monkeypatch):
    api = FakeSystemLog(clock=clock.now)
    api.add(log_events(2_500, start=START, step_seconds=30))
    monkeypatch.setenv("OKTA_API_TOKEN", api.token)
    with FakeOktaServer(api) as server:
        yield server


def lake_rows(lake: Path) -> list[tuple[str, int]]:
    with duckdb.connect(str(lake), read_only=True) as con:
        return con.execute("SELECT eventData.UID, count(*) FROM partner_events GROUP BY 1").fetchall()


def run_collector(okta, tmp_path, clock, *, until=NOW, settings=None, on_page=None) -> tuple[CollectRun, object]:
    lake = tmp_path / "lake.duckdb"
    pipeline = build_pipeline(
        Destinations.resolve([f"local:{lake}"]), dead_letters=JsonLinesDeadLetters(tmp_path / "rejected.jsonl")
    )
    run = CollectRun(
        OKTA_COLLECTOR,
        pipeline,
        FileCheckpoints(tmp_path / "checkpoints.json"),
        "okta|test",
        START,
        until,
        settings={"org": okta.url, **(settings or {})},
        account="000000000000",
        clock=clock,
        on_page=on_page,
    )
    return run, lake


def test_a_backfill_brings_every_event_once_and_a_rerun_fetches_nothing(okta, tmp_path, clock):
    run, lake = run_collector(okta, tmp_path, clock)
    progress = run.run()
    assert progress.finished and progress.events == 2_500 and progress.pages == 3  # limit 1,000
    rows = lake_rows(lake)
    assert len(rows) == 2_500 and {count for _, count in rows} == {1}
    assert FileCheckpoints(tmp_path / "checkpoints.json").load("okta|test").cursor == COMPLETE
    requests = len(okta.api.requests)
    again, _ = run_collector(okta, tmp_path, clock)
    assert again.run().events == 0
    assert len(okta.api.requests) == requests


def test_pulled_and_pushed_copies_of_an_event_get_the_same_entry_id(okta, tmp_path, clock):
    run, lake = run_collector(okta, tmp_path, clock)
    run.run()
    event = okta.api.events[7]
    pushed = EventBridgeEvent(source="aws.partner/okta.com/acme/stream", detail=event, time=None)
    data = map_log_event(pushed, MappingContext("000000000000"))
    assert entry_id_for(data.UID) == event["uuid"]
    assert (event["uuid"], 1) in lake_rows(lake)


def test_the_rate_limit_budget_is_honoured_without_a_429(okta, tmp_path, clock):
    okta.api.rate_limit = 2  # two requests per 60 s window
    run, lake = run_collector(okta, tmp_path, clock, settings={"limit": "200", "slowdown_below": "0"})
    progress = run.run()
    assert progress.finished and progress.events == 2_500
    statuses = [status for _, status in okta.api.requests]
    assert 429 not in statuses
    times = [t for t, _ in okta.api.requests]
    for window_start in range(0, len(times), 2):  # never more than 2 requests in one window
        assert times[window_start] >= times[0] + 60 * (window_start // 2) - 1
    assert progress.waited["rate limit"] >= 60 * (len(times) // 2 - 1) - 60
    assert len(lake_rows(lake)) == 2_500


def test_a_429_waits_for_the_reset_and_resumes_from_the_checkpoint(okta, tmp_path, clock):
    run, lake = run_collector(okta, tmp_path, clock, settings={"limit": "500", "slowdown_below": "0"})
    # Another client spent this window's budget: the first request gets a 429.
    okta.api.rate_limit = 3
    okta.api._used = 3
    okta.api._window_start = clock.now()
    progress = run.run()
    assert 429 in [status for _, status in okta.api.requests]
    assert progress.finished and progress.waited["rate limit"] >= 59
    rows = lake_rows(lake)
    assert len(rows) == 2_500 and {count for _, count in rows} == {1}


@pytest.mark.parametrize("faults", [("500", "500"), ("drop",), ("500", "drop", "500")])
def test_server_errors_and_dropped_connections_are_retried(okta, tmp_path, clock, faults):
    okta.api.fail_next(*faults)
    run, lake = run_collector(okta, tmp_path, clock)
    progress = run.run()
    assert progress.finished and progress.retries == len(faults)
    assert len(lake_rows(lake)) == 2_500


@pytest.mark.parametrize("fault", ["malformed", "not-array"])
def test_a_malformed_page_stops_without_advancing_the_checkpoint(okta, tmp_path, clock, fault):
    run, _ = run_collector(okta, tmp_path, clock)
    okta.api.fail_next(fault)
    with pytest.raises(PermanentError) as caught:
        run.run()
    assert caught.value.code == "MalformedPage" and "page 1" in caught.value.message
    assert FileCheckpoints(tmp_path / "checkpoints.json").load("okta|test") is None
    again, lake = run_collector(okta, tmp_path, clock)
    assert again.run().finished
    assert len(lake_rows(lake)) == 2_500


def test_a_bad_token_is_a_configuration_error(okta, tmp_path, clock, monkeypatch):
    monkeypatch.setenv("OKTA_API_TOKEN", "wrong")
    run, _ = run_collector(okta, tmp_path, clock)
    with pytest.raises(ConfigurationError) as caught:
        run.run()
    assert caught.value.code == "OktaUnauthorized" and "okta.logs.read" in (caught.value.hint or "")
    assert "wrong" not in str(caught.value)


def test_polling_waits_on_an_empty_page_and_picks_up_new_events(okta, tmp_path, clock):
    later = log_events(10, start=NOW + timedelta(minutes=1), seed=3)
    pages_seen: list[int] = []

    def on_page(progress):
        pages_seen.append(progress.events)
        if progress.events == 2_500 and later[0] not in okta.api.events:
            okta.api.add(later)  # new events arrive while the poller waits
        if progress.events == 2_510:
            clock.stop.set()  # SIGTERM: finish the page in hand, then stop

    run, lake = run_collector(okta, tmp_path, clock, until=None, settings={"poll_seconds": "30"}, on_page=on_page)
    progress = run.run()
    assert not progress.finished and progress.stopped_by == "signal"
    assert progress.events == 2_510
    assert len(lake_rows(lake)) == 2_510
    assert FileCheckpoints(tmp_path / "checkpoints.json").load("okta|test").cursor not in (None, COMPLETE)


def test_two_pollers_cannot_both_advance_one_checkpoint(tmp_path, auditbridge_aws):
    import boto3

    boto3.client("dynamodb").create_table(
        TableName="checkpoints",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for store in (FileCheckpoints(tmp_path / "c.json"), DynamoDBCheckpoints("checkpoints")):
        first = Checkpoint("a", events=1)
        store.save("k", first, None)
        store.save("k", Checkpoint("b", events=2), first)  # one poller moves it on
        with pytest.raises(CheckpointConflict):
            store.save("k", Checkpoint("c", events=2), first)  # the other, from the same start: refused
        assert store.load("k").cursor == "b"


def test_a_backfill_killed_at_random_points_and_rerun_stores_every_event_once(tmp_path, monkeypatch):
    api = FakeSystemLog(delay=0.02)
    api.add(log_events(3_000, start=START, step_seconds=10, seed=5))
    lake, checkpoints = tmp_path / "lake.duckdb", tmp_path / "checkpoints.json"
    command = [
        sys.executable, "-m", "auditbridge.cli.main", "okta", "backfill",
        "--since", START.isoformat(),  # no --until: the window's end is kept in the checkpoint
        "--lake", str(lake), "--checkpoint", str(checkpoints), "--setting", "limit=100",
    ]  # fmt: skip
    env = {**os.environ, "OKTA_API_TOKEN": api.token}
    rng = random.Random(20261129)
    with FakeOktaServer(api) as server:
        command += ["--org", server.url]
        for _ in range(3):
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(1.0, 2.5))
            process.send_signal(signal.SIGKILL)  # no chance to finish the page in hand
            process.wait(timeout=30)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "window complete" in done.stdout
    rows = lake_rows(lake)
    assert len(rows) == 3_000 and {count for _, count in rows} == {1}
    assert json.loads(checkpoints.read_text())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--org", "http://acme.okta.com", "--since", "2026-11-28T00:00:00Z"], "is not an Okta org URL"),
        (["--org", "https://acme.okta.com/path", "--since", "2026-11-28T00:00:00Z"], "is not an Okta org URL"),
        (["--org", "https://acme.okta.com", "--since", "2026-11-28T00:00:00Z", "--until", "2026-11-27T00:00:00Z"],
         "--since must be before --until"),
        (["--org", "https://acme.okta.com", "--since", "2026-01-01T00:00:00Z"], "more than 90 days back"),
        (["--org", "https://acme.okta.com", "--since", "yesterday"], "is not an ISO 8601 time"),
    ],
)  # fmt: skip
def test_bad_arguments_are_one_clear_line(argv, message, capsys, monkeypatch):
    from auditbridge.cli.main import main

    monkeypatch.setattr("auditbridge_okta.cli.datetime", _FixedNow)
    assert main(["okta", "backfill", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


class _FixedNow(datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        return datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_the_scheduled_pull_function_polls_until_caught_up_and_resumes(auditbridge_aws, monkeypatch, capsys):
    import boto3
    from auditbridge import collect_handler

    boto3.client("dynamodb").create_table(
        TableName="checkpoints",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    boto3.client("logs").create_log_group(logGroupName="/okta")
    api = FakeSystemLog()
    recent = datetime.now(UTC) + timedelta(seconds=5)  # the first run starts now: events just after it
    api.add(log_events(1_200, start=recent, step_seconds=0.01, seed=9))

    class Context:  # the attributes the Lambda runtime's context carries
        function_name = "pull"
        function_version = "$LATEST"
        memory_limit_in_mb = 512
        aws_request_id = "request"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:pull"

        def get_remaining_time_in_millis(self) -> int:
            return 60_000

    with FakeOktaServer(api) as server:
        monkeypatch.setenv("OKTA_API_TOKEN", api.token)
        monkeypatch.setenv("AUDITBRIDGE_COLLECTOR", "okta")
        monkeypatch.setenv("AUDITBRIDGE_COLLECTOR_SETTINGS", f"org={server.url}&token=env:OKTA_API_TOKEN")
        monkeypatch.setenv("AUDITBRIDGE_CHECKPOINT_TABLE", "checkpoints")
        monkeypatch.setenv("AUDITBRIDGE_DESTINATIONS", "cloudwatch-logs:/okta")
        first = collect_handler.handler({}, Context())
        assert first["events"] == 1_200 and first["stoppedBy"] == "caught up" and first["lagSeconds"] == 0.0
        api.add(log_events(30, start=recent + timedelta(minutes=1), seed=10))
        second = collect_handler.handler({}, Context())
        assert second["events"] == 30
    logs = boto3.client("logs")
    stored = logs.filter_log_events(logGroupName="/okta", limit=10_000)["events"]
    uids = [json.loads(e["message"])["eventData"]["UID"] for e in stored]
    assert len(uids) == 1_230 == len(set(uids))
    assert json.loads(stored[0]["message"])["eventData"]["recipientAccountId"] == "123456789012"
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert any(b.get("Collector") == "okta" and "CheckpointLagSeconds" in b for b in blobs)


def _service_app_key() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.mark.parametrize("granted", [frozenset({"okta.logs.read"}), frozenset({"okta.users.read"})])
def test_an_oauth_service_app_signs_its_way_in_and_needs_the_logs_scope(okta, tmp_path, clock, monkeypatch, granted):
    private, public = _service_app_key()
    okta.api.register_client("0oa-auditbridge", public, granted)
    monkeypatch.setenv("OKTA_APP_KEY", private)
    settings = {"client_id": "0oa-auditbridge", "private_key": "env:OKTA_APP_KEY", "key_id": "k1"}
    run, lake = run_collector(okta, tmp_path, clock, settings=settings)
    if "okta.logs.read" in granted:
        assert run.run().events == 2_500
        assert len(lake_rows(lake)) == 2_500
        assert len(okta.api.access_tokens) == 1  # one token, reused for every page
    else:
        with pytest.raises(ConfigurationError) as caught:
            run.run()
        assert caught.value.code == "OktaUnauthorized" and "okta.logs.read" in (caught.value.hint or "")
        assert "BEGIN PRIVATE KEY" not in str(caught.value)


def test_a_forged_client_assertion_is_refused(okta, tmp_path, clock, monkeypatch):
    _, public = _service_app_key()
    other, _ = _service_app_key()
    okta.api.register_client("0oa-auditbridge", public, frozenset({"okta.logs.read"}))
    monkeypatch.setenv("OKTA_APP_KEY", other)  # signed with a key Okta does not know
    run, _ = run_collector(
        okta, tmp_path, clock, settings={"client_id": "0oa-auditbridge", "private_key": "env:OKTA_APP_KEY"}
    )
    with pytest.raises(ConfigurationError):
        run.run()
