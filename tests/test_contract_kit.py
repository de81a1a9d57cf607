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
    if not isinstance(detail.get("id"), str):
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
