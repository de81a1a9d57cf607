"""The contract kit catches the mistakes mapper authors make."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest
from auditbridge import EventData, Mapper, MappingError, UserIdentity
from auditbridge.testing.contract import Contract

OKTA_FIXTURES = Path(__file__).parents[1] / "plugins" / "okta" / "tests" / "fixtures"
SOURCE = "custom.app"


def fixture_dir(tmp_path: Path, *details: dict) -> Path:
    for index, detail in enumerate(details):
        event = {"source": SOURCE, "detail-type": "x", "time": "2025-01-01T00:00:00Z", "detail": detail}
        (tmp_path / f"event_{index}.json").write_text(json.dumps(event))
    return tmp_path


def good_map(event, context) -> EventData:
    detail = event.detail
    if not isinstance(detail.get("id"), str) or not detail["id"]:
        raise MappingError("no id", field="id")
    return EventData(
        version="1",
        userIdentity=UserIdentity(type="User", principalId="someone"),
        eventSource="custom.app",
        eventName="did.something",
        eventTime="2025-01-01T00:00:00Z",
        UID=detail["id"][:1024],
        recipientAccountId=context.recipient_account_id,
    )


def contract(tmp_path: Path, map_event, *details: dict) -> Contract:
    mapper = Mapper(name="custom", sources=(SOURCE,), map_event=map_event)
    folder = fixture_dir(tmp_path, *(details or ({"id": "a-1"},)))
    kit = Contract(mapper, folder)
    kit.write_expected()
    return kit


def test_a_well_behaved_mapper_passes(tmp_path):
    report = contract(tmp_path, good_map).run()
    assert report.ok, report.violations
    assert report.checks_run > 4


def test_an_unclassified_exception_is_a_violation(tmp_path):
    def leaky(event, context):
        return good_map(event, context) if event.detail.get("id") == "a-1" else event.detail["missing"]

    report = contract(tmp_path, leaky).run()
    assert any(v.check == "hostile_inputs" and "unclassified failure" in v.message for v in report.violations)


def test_non_deterministic_output_is_a_violation(tmp_path):
    counter = itertools.count()

    def random_ids(event, context):
        data = good_map(event, context)
        return data.model_copy(update={"UID": f"id-{next(counter)}"})

    report = Contract(
        Mapper(name="r", sources=(SOURCE,), map_event=random_ids), fixture_dir(tmp_path, {"id": "a"})
    ).run()
    assert any(v.check == "deterministic" for v in report.violations)


def test_mutating_the_input_is_a_violation(tmp_path):
    def mutating(event, context):
        event.detail["touched"] = True
        return good_map(event, context)

    report = contract(tmp_path, mutating).run()
    assert any("modified its input" in v.message for v in report.violations)


def test_invalid_output_the_service_would_refuse_is_a_violation(tmp_path):
    def wrong_account(event, context):
        return good_map(event, context).model_copy(update={"recipientAccountId": "000000000000"})

    report = contract(tmp_path, wrong_account).run()
    assert any("InvalidRecipient" in v.message for v in report.violations)


def test_a_missing_expected_file_is_a_violation(tmp_path):
    kit = Contract(Mapper(name="c", sources=(SOURCE,), map_event=good_map), fixture_dir(tmp_path, {"id": "a"}))
    assert any(v.check == "matches_expected" for v in kit.run().violations)


def test_a_fixture_for_a_source_the_mapper_does_not_claim_is_a_violation(tmp_path):
    kit = contract(tmp_path, good_map)
    other = Mapper(name="other", sources=("other.app",), map_event=good_map)
    report = Contract(other, kit.events_dir).run()
    assert any(v.check == "source_claimed" for v in report.violations)


def test_the_okta_mapper_passes_every_hostile_variant():
    kit = Contract.for_mapper("okta", OKTA_FIXTURES)
    violations = [
        v for check, fixture in kit.cases() if check == "hostile_inputs" for v in kit.run_case(check, fixture)
    ]
    assert violations == []


@pytest.mark.parametrize("name", ["session_start_success", "admin_privilege_grant"])
def test_expected_files_round_trip(tmp_path, name):
    shutil.copy(OKTA_FIXTURES / f"{name}.json", tmp_path)
    kit = Contract.for_mapper("okta", tmp_path)
    kit.write_expected()
    assert (tmp_path / f"{name}.expected.json").read_bytes() == (OKTA_FIXTURES / f"{name}.expected.json").read_bytes()


# -- kit v2: one broken mapper per class it must catch ------------------------------------------


def broken(tmp_path: Path, map_event, *details: dict, **options) -> Contract:
    """A contract over fixtures whose expected files are written as far as the kit allows."""
    mapper = Mapper(name="broken", sources=(SOURCE,), map_event=map_event)
    kit = Contract(mapper, fixture_dir(tmp_path, *(details or ({"id": "a-1"},))), **options)
    kit.write_expected()
    return kit


def messages(report) -> str:
    return "\n".join(str(v) for v in report.violations)


@pytest.mark.parametrize(
    ("change", "field", "helper"),
    [
        ({"eventTime": "2025-01-01 00:00:00"}, "eventTime", "to_event_time"),
        ({"eventName": ""}, "eventName", ""),
        ({"version": 1}, "version", ""),
        ({"additionalEventData": {"blob": "x" * 40_000}}, "additionalEventData", "fit_object"),
        ({"eventName": "n" * 2000}, "eventName", "clip"),
    ],
    ids=["time-format", "empty-name", "integer-version", "oversized-map", "long-name"],
)
def test_a_mapper_whose_own_output_breaks_the_schema_fails_even_with_write_expected(tmp_path, change, field, helper):
    def sloppy(event, context):
        data = good_map(event, context).model_dump(exclude_none=True)
        data.update(change)
        return EventData(**data)  # pydantic refuses it inside the mapper: a SchemaViolation

    kit = Contract(Mapper(name="sloppy", sources=(SOURCE,), map_event=sloppy), fixture_dir(tmp_path, {"id": "a"}))
    written = kit.write_expected()
    assert written.written == []
    assert written.refused and field in str(written.refused[0]) and helper in str(written.refused[0])
    report = kit.run()
    assert not report.ok
    assert any(v.check == "maps_cleanly" and "own output breaks the schema" in v.message for v in report.violations)
    assert any(v.check == "some_fixture_maps" for v in report.violations)


def test_no_fixture_mapping_is_a_failure(tmp_path):
    def refuses_everything(event, context):
        raise MappingError("not today", field="id")

    report = broken(tmp_path, refuses_everything, {"id": "a"}, {"id": "b"}).run()
    assert [v.check for v in report.violations] == ["some_fixture_maps"]
    assert "none of the 2 fixtures maps" in report.violations[0].message


def test_network_use_while_mapping_is_caught_and_named(tmp_path):
    import socket

    listener = socket.create_server(("127.0.0.1", 0))  # loopback only: nothing leaves the machine
    port = listener.getsockname()[1]

    def phones_home(event, context):
        try:
            with socket.socket() as conn:
                conn.settimeout(1)
                conn.connect(("127.0.0.1", port))
        except OSError:
            pass  # swallowing the refusal does not hide it
        return good_map(event, context)

    try:
        report = broken(tmp_path, phones_home).run()
    finally:
        listener.close()
    found = [v for v in report.violations if "used the network" in v.message]
    assert found
    assert "socket.connect" in found[0].message
    assert "test_contract_kit.py:" in found[0].message  # the mapper's own line


def test_name_lookups_while_mapping_are_caught(tmp_path):
    import socket

    def looks_up(event, context):
        socket.getaddrinfo("localhost", 443)
        return good_map(event, context)

    report = broken(tmp_path, looks_up).run()
    assert any("socket.getaddrinfo" in v.message for v in report.violations)


def test_network_use_at_import_is_caught(tmp_path, monkeypatch):
    package = tmp_path / "modules"
    package.mkdir()
    (package / "chatty_plugin.py").write_text(
        "import socket\ntry:\n    socket.getaddrinfo('localhost', 443)\nexcept OSError:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(package))
    (tmp_path / "f").mkdir()
    report = broken(tmp_path / "f", good_map, modules=("chatty_plugin",)).run()
    found = [v for v in report.violations if v.check == "imports_offline"]
    assert found and "chatty_plugin.py:3" in found[0].message


def test_a_slow_mapper_breaks_the_per_event_budget(tmp_path):
    import time

    def slow(event, context):
        time.sleep(0.3)
        return good_map(event, context)

    report = broken(tmp_path, slow, max_seconds=0.1, hang_seconds=5, hostile_seconds=2).run()
    assert any("the budget is 0.1 s per event" in v.message for v in report.violations)
    assert any(v.check == "median_time" for v in report.violations)


def test_a_mapper_that_never_returns_is_reported_as_a_hang_naming_the_fixture(tmp_path):
    import threading

    release = threading.Event()

    def hangs(event, context):
        if event.detail.get("id") == "stuck":
            release.wait(30)
        return good_map(event, context)

    try:
        kit = Contract(
            Mapper(name="h", sources=(SOURCE,), map_event=hangs),
            fixture_dir(tmp_path, {"id": "fine"}, {"id": "stuck"}),
            hang_seconds=0.5,
        )
        violations = kit.run_case("maps_cleanly", kit.fixtures()[1])
    finally:
        release.set()
    assert len(violations) == 1
    assert violations[0].fixture == "event_1"
    assert "did not return within 0.5 s" in violations[0].message


def test_every_mapper_path_is_attacked(tmp_path):
    """Two event families; the second breaks on hostile input. Once only the first two fixtures were attacked."""

    def two_paths(event, context):
        detail = event.detail
        if detail.get("kind") == "b":
            detail["name"].upper()  # crashes when name is not a string
        return good_map(event, context)

    families = ({"id": "a-1", "kind": "a"}, {"id": "a-2", "kind": "a"}, {"id": "b-1", "kind": "b", "name": "x"})
    kit = broken(tmp_path, two_paths, *families)
    # good_map names every event alike: one path as far as the kit can tell, so one base.
    assert [f.name for f in kit.hostile_bases()] == ["event_0"]

    def named(event, context):
        return two_paths(event, context).model_copy(update={"eventName": f"kind.{event.detail.get('kind')}"})

    kit = broken(tmp_path, named, *families)
    assert [f.name for f in kit.hostile_bases()] == ["event_0", "event_2"]
    report = kit.run()
    assert any(
        v.check == "hostile_inputs" and v.fixture == "event_2" and "unclassified failure" in v.message
        for v in report.violations
    )


def test_an_unclassified_exception_says_where_in_the_plugin_it_came_from(tmp_path):
    def leaky(event, context):
        return event.detail["missing"]

    report = broken(tmp_path, leaky).run()
    found = [v for v in report.violations if "unclassified failure" in v.message]
    assert found
    assert "KeyError at " in found[0].message and "test_contract_kit.py:" in found[0].message
    assert "raise MappingError" in found[0].message  # the hint for the plugin author


def test_fixtures_in_nested_folders_are_found(tmp_path):
    nested = tmp_path / "family" / "deeper"
    nested.mkdir(parents=True)
    event = {"source": SOURCE, "detail-type": "x", "detail": {"id": "n-1"}}
    (nested / "nested.json").write_text(json.dumps(event))
    kit = Contract(Mapper(name="n", sources=(SOURCE,), map_event=good_map), tmp_path)
    assert [f.name for f in kit.fixtures()] == ["family/deeper/nested"]
    kit.write_expected()
    assert (nested / "nested.expected.json").exists()
    assert kit.run().ok


def test_a_misspelt_hook_is_a_clear_error_with_a_suggestion():
    from auditbridge import hookimpl
    from auditbridge.errors import ConfigurationError
    from auditbridge.plugins import PluginManager

    class Misspelt:
        @hookimpl
        def register_mapper(self, register):
            register(Mapper(name="m", sources=(SOURCE,), map_event=good_map))

    with pytest.raises(ConfigurationError) as caught:
        PluginManager().register(Misspelt(), name="misspelt")
    assert caught.value.code == "UnknownHook"
    assert "did you mean 'register_mappers'?" in caught.value.message


def test_a_misspelt_installed_plugin_is_one_line_in_every_subcommand(tmp_path, monkeypatch, capsys):
    """A real distribution on sys.path, found through its entry point as a third party's would be."""
    from auditbridge.cli.main import main
    from auditbridge.plugins import get_mapper_registry, get_plugin_manager

    (tmp_path / "misspelt_plugin.py").write_text(
        "from auditbridge import hookimpl\n\n@hookimpl\ndef register_mapper(register):\n    pass\n"
    )
    info = tmp_path / "misspelt_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: misspelt-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[auditbridge]\nmisspelt = misspelt_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    get_plugin_manager.cache_clear()
    get_mapper_registry.cache_clear()
    try:
        for argv in (["plugins"], ["query", "SELECT 1"], ["map", "-"]):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert "UnknownHook" in err and "did you mean 'register_mappers'?" in err
            assert "Traceback" not in err
    finally:
        get_plugin_manager.cache_clear()
        get_mapper_registry.cache_clear()
