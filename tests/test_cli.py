"""The auditbridge command line: map, plugins, plugins check."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from auditbridge.cli.main import main
from events import CHANNEL_ARN, eventbridge_event, okta_log_event, sqs_record
from hypothesis import given, settings
from hypothesis import strategies as st

OKTA_FIXTURES = Path(__file__).parents[1] / "plugins" / "okta" / "tests" / "fixtures"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def write(path: Path, content: object) -> str:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def test_map_writes_one_entry_per_line(tmp_path, capsys):
    events = [eventbridge_event(okta_log_event()) for _ in range(3)]
    status, out, err = run(capsys, "map", write(tmp_path / "e.json", events), "--channel-arn", CHANNEL_ARN)
    assert status == 0
    assert err == ""
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["id"] for line in lines] == [e["detail"]["uuid"] for e in events]
    assert all(set(line) == {"id", "eventData", "eventDataChecksum"} for line in lines)
    assert json.loads(lines[0]["eventData"])["recipientAccountId"] == "123456789012"


@pytest.mark.parametrize("shape", ["object", "array", "lines", "sqs-event", "receive-message"])
def test_map_reads_every_input_shape(tmp_path, capsys, shape):
    events = [eventbridge_event(okta_log_event()) for _ in range(2)]
    content: object = {
        "object": events[0],
        "array": events,
        "lines": "\n".join(json.dumps(e) for e in events) + "\n",
        "sqs-event": {"Records": [sqs_record(e) for e in events]},
        "receive-message": {"Messages": [{"MessageId": f"m{i}", "Body": json.dumps(e)} for i, e in enumerate(events)]},
    }[shape]
    status, out, _ = run(capsys, "map", write(tmp_path / "in.json", content), "--channel-arn", CHANNEL_ARN)
    assert status == 0
    assert len(out.splitlines()) == (1 if shape == "object" else 2)


def test_rejections_go_to_stderr_with_position_source_and_reason(tmp_path, capsys):
    lines = [
        json.dumps(eventbridge_event(okta_log_event())),
        "{broken json",
        json.dumps(eventbridge_event({"x": 1}, source="unknown.vendor")),
        json.dumps(eventbridge_event(okta_log_event(published="2025-13-01T00:00:00Z"))),
    ]
    path = write(tmp_path / "mixed.jsonl", "\n".join(lines))
    status, out, err = run(capsys, "map", path, "--channel-arn", CHANNEL_ARN)
    assert status == 1
    assert len(out.splitlines()) == 1
    errors = err.splitlines()
    assert len(errors) == 3
    assert errors[0].startswith(f"{path}:2: rejected: source=-: MalformedMessage")
    assert errors[1].startswith(f"{path}:3: rejected: source=unknown.vendor: UnknownSource")
    assert errors[2].startswith(f"{path}:4: rejected: source=aws.partner/okta.com/")
    assert "InvalidTimestamp" in errors[2]
    assert "field=published" in errors[2]


def test_map_pretty_decodes_event_data(tmp_path, capsys):
    path = write(tmp_path / "e.json", eventbridge_event(okta_log_event()))
    status, out, _ = run(capsys, "map", "--pretty", path, "--channel-arn", CHANNEL_ARN)
    assert status == 0
    assert json.loads(out)["eventData"]["eventSource"] == "okta.system-log-events"


def test_map_reads_the_channel_from_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AUDITBRIDGE_CHANNEL_ARN", "arn:aws:cloudtrail:eu-west-1:444455556666:channel/x")
    path = write(tmp_path / "e.json", eventbridge_event(okta_log_event()))
    from auditbridge.cli.main import build_parser

    args = build_parser().parse_args(["map", path])
    assert args.channel_arn == "arn:aws:cloudtrail:eu-west-1:444455556666:channel/x"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["map", "does-not-exist.json"], "cannot read does-not-exist.json"),
        (["map", "--channel-arn", "arn:aws:s3:::bucket"], "is not a CloudTrail channel ARN"),
        (["plugins", "check", "nope", "--events", "."], "no mapper named 'nope'"),
    ],
)
def test_bad_arguments_give_clear_errors(capsys, argv, message):
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert message in err


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2


def test_plugins_lists_name_distribution_version_sources(capsys):
    status, out, _ = run(capsys, "plugins")
    assert status == 0
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "DISTRIBUTION", "VERSION", "SOURCES"]
    assert rows[0].split() == ["okta", "auditbridge-okta", "0.1.0", "aws.partner/okta.com/*"]
    status, out, _ = run(capsys, "plugins", "--json")
    assert json.loads(out)[0]["distribution"] == "auditbridge-okta"


def test_plugins_check_passes_on_the_okta_fixtures(capsys):
    status, out, _ = run(capsys, "plugins", "check", "okta", "--events", str(OKTA_FIXTURES))
    assert status == 0, out
    assert "passes" in out


def test_plugins_check_fails_on_a_wrong_expectation(tmp_path, capsys):
    for name in ("session_start_success.json", "session_start_success.expected.json"):
        shutil.copy(OKTA_FIXTURES / name, tmp_path / name)
    expected = json.loads((tmp_path / "session_start_success.expected.json").read_text())
    expected["eventData"]["eventName"] = "something.else"
    (tmp_path / "session_start_success.expected.json").write_text(json.dumps(expected))
    status, out, _ = run(capsys, "plugins", "check", "okta", "--events", str(tmp_path))
    assert status == 1
    assert "FAIL [matches_expected] session_start_success" in out
    assert '"eventName": "something.else"' in out


def test_plugins_check_write_expected_creates_reviewable_files(tmp_path, capsys):
    shutil.copy(OKTA_FIXTURES / "session_start_success.json", tmp_path)
    status, out, _ = run(capsys, "plugins", "check", "okta", "--events", str(tmp_path), "--write-expected")
    assert status == 0
    assert "wrote" in out
    assert (tmp_path / "session_start_success.expected.json").read_text() == (
        OKTA_FIXTURES / "session_start_success.expected.json"
    ).read_text()


def test_plugins_check_on_an_empty_folder_fails(tmp_path, capsys):
    status, out, _ = run(capsys, "plugins", "check", "okta", "--events", str(tmp_path))
    assert status == 1
    assert "no *.json fixtures" in out


def test_the_console_script_reads_stdin():
    event = json.dumps(eventbridge_event(okta_log_event()))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("auditbridge")), "map", "-", "--channel-arn", CHANNEL_ARN],
        input=event,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == json.loads(event)["detail"]["uuid"]


def _messages_as_before(data: bytes, name: str) -> list[tuple[str, str, str | None]]:
    """The input rule as first written: JSON lines exactly when the whole input is not one JSON document."""
    from auditbridge.inputs import _json_lines, _message, _record

    text = data.strip()
    if not text:
        return []
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        messages = list(_json_lines(data, name))
    else:
        if isinstance(document, list):
            messages = [_message(item, f"{name}[{i}]") for i, item in enumerate(document, start=1)]
        elif isinstance(document, dict) and isinstance(document.get("Records"), list):
            messages = [
                _record(r, f"{name}:Records[{i}]", lambda_shape=True) for i, r in enumerate(document["Records"], 1)
            ]
        elif isinstance(document, dict) and isinstance(document.get("Messages"), list):
            messages = [
                _record(r, f"{name}:Messages[{i}]", lambda_shape=False) for i, r in enumerate(document["Messages"], 1)
            ]
        else:
            messages = [_message(document, f"{name}:1")]
    return [(m.message_id, m.body, m.position) for m in messages]


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
_PIECES = st.one_of(
    _JSON_VALUES.map(orjson.dumps),
    # With spaces: a message's body shows which rule read it.
    _JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.sampled_from([b'{"Records": [{"messageId": "m", "body": "b"}]}', b'{"Messages": [{"MessageId": "m"}]}']),
    _JSON_VALUES.map(lambda value: orjson.dumps(value, option=orjson.OPT_INDENT_2)),
    st.sampled_from([b"\n", b"\r\n", b" ", b"\t", b"\x0b", b"\x0c", b"{", b"]", b"{truncated", b",", b"\xff"]),
)


@given(st.lists(_PIECES, max_size=8).map(b"".join))
@settings(max_examples=400, deadline=None)
def test_json_lines_are_recognised_at_sight_as_the_whole_document_parse_would(data):
    """Reading a JSON-lines file no longer parses all of it first to fail: the messages must not change."""
    from auditbridge.inputs import parse_messages

    ours = [(m.message_id, m.body, m.position) for m in parse_messages(data, "f")]
    assert ours == _messages_as_before(data, "f")
