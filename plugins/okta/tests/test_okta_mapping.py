"""How the Okta mapper reads LogEvents, field by field, including the messy ones."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from auditbridge import EventBridgeEvent, MappingContext, MappingError
from auditbridge.fitting import TRIMMED_MARKER
from auditbridge.models import ADDITIONAL_EVENT_DATA_MAX_BYTES
from auditbridge_okta import map_log_event

CONTEXT = MappingContext(recipient_account_id="123456789012")
LOG_EVENT: dict[str, Any] = {
    "uuid": "9a8b7c6d-0000-4000-8000-00000000abcd",
    "published": "2025-07-01T12:34:56.789Z",
    "eventType": "user.session.start",
    "version": "0",
    "severity": "INFO",
    "displayMessage": "User login to Okta",
    "actor": {"id": "00uA", "type": "User", "alternateId": "lee@example.com", "displayName": "Lee Park"},
    "client": {"userAgent": {"rawUserAgent": "curl/8.5"}, "ipAddress": "203.0.113.9"},
    "outcome": {"result": "SUCCESS", "reason": None},
    "target": None,
}


def mapped(time: str | None = "2025-07-01T12:35:00Z", **changes: Any) -> dict[str, Any]:
    detail = copy.deepcopy(LOG_EVENT)
    for key, value in changes.items():
        if value is ...:
            detail.pop(key)
        else:
            detail[key] = value
    event = EventBridgeEvent(source="aws.partner/okta.com/org/stream", detail=detail, time=time)
    return json.loads(map_log_event(event, CONTEXT).to_json_bytes())


def test_the_blog_contract_holds():
    data = mapped()
    assert data["eventSource"] == "okta.system-log-events"
    assert data["eventName"] == "user.session.start"
    assert data["UID"] == LOG_EVENT["uuid"]
    assert data["eventTime"] == "2025-07-01T12:34:56Z"
    assert data["userIdentity"] == {
        "type": "User",
        "principalId": "00uA",
        "details": {"alternateId": "lee@example.com", "displayName": "Lee Park"},
    }
    assert data["userAgent"] == "curl/8.5"
    assert data["sourceIPAddress"] == "203.0.113.9"
    assert data["recipientAccountId"] == "123456789012"
    assert data["responseElements"] == {"result": "SUCCESS"}
    assert "errorCode" not in data
    assert "requestParameters" not in data


def test_the_event_source_is_configurable():
    event = EventBridgeEvent(source="aws.partner/okta.com/o/s", detail=copy.deepcopy(LOG_EVENT))
    assert map_log_event(event, CONTEXT, event_source="okta.prod").eventSource == "okta.prod"


def test_the_plugin_reads_the_event_source_from_the_environment(monkeypatch):
    from auditbridge.plugins import PluginManager

    monkeypatch.setenv("AUDITBRIDGE_OKTA_EVENT_SOURCE", "okta.custom")
    manager = PluginManager()
    manager.load_entry_points(only=["okta"])
    mapper = manager.mapper_registry().get("okta").mapper
    event = EventBridgeEvent(source="aws.partner/okta.com/o/s", detail=copy.deepcopy(LOG_EVENT))
    assert mapper.map_event(event, CONTEXT).eventSource == "okta.custom"


@pytest.mark.parametrize(
    ("result", "reason"), [("FAILURE", "INVALID_CREDENTIALS"), ("DENY", None), ("CHALLENGE", "MFA")]
)
def test_unsuccessful_outcomes_become_error_code_and_message(result, reason):
    data = mapped(outcome={"result": result, "reason": reason})
    assert data["errorCode"] == result
    assert data.get("errorMessage") == reason
    assert data["responseElements"]["result"] == result


@pytest.mark.parametrize("result", ["SUCCESS", "ALLOW"])
def test_success_and_allow_are_not_errors(result):
    data = mapped(outcome={"result": result, "reason": "Sign-on policy evaluation resulted in ALLOW"})
    assert "errorCode" not in data
    assert "errorMessage" not in data


def test_long_reasons_are_clipped_to_the_limit():
    data = mapped(outcome={"result": "FAILURE", "reason": "r" * 600})
    assert len(data["errorMessage"]) == 256
    assert data["errorMessage"].endswith("[truncated]")


@pytest.mark.parametrize(
    "client",
    [
        {},
        None,
        {"ipAddress": "null"},
        {"ipAddress": None},
        {"ipAddress": "unknown"},
        {"ipAddress": 12},
        {"userAgent": None},
        {"userAgent": "flat string"},
    ],
)
def test_messy_clients_omit_what_is_unknown(client):
    data = mapped(client=client)
    assert "sourceIPAddress" not in data
    assert "userAgent" not in data


def test_ipv6_addresses_are_kept():
    assert mapped(client={"ipAddress": "2001:db8::1"})["sourceIPAddress"] == "2001:db8::1"


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ("2025-07-01T12:34:56Z", "2025-07-01T12:34:56Z"),
        ("2025-07-01 12:34:56.789", "2025-07-01T12:34:56Z"),
        ("2025-07-01T14:34:56.789+02:00", "2025-07-01T12:34:56Z"),
    ],
)
def test_published_forms(published, expected):
    assert mapped(published=published)["eventTime"] == expected


def test_missing_published_falls_back_to_the_eventbridge_time():
    assert mapped(published=...)["eventTime"] == "2025-07-01T12:35:00Z"
    assert mapped(published=None)["eventTime"] == "2025-07-01T12:35:00Z"


def test_missing_published_and_time_is_rejected():
    with pytest.raises(MappingError, match="no 'published' time") as info:
        mapped(time=None, published=...)
    assert info.value.field == "published"


@pytest.mark.parametrize("published", ["2017-09-31T22:23:07.777Z", "redacted", 1685456278])
def test_bad_published_is_a_clear_rejection(published):
    with pytest.raises(MappingError) as info:
        mapped(published=published)
    assert info.value.code == "InvalidTimestamp"
    assert info.value.event_id == LOG_EVENT["uuid"]


def test_integer_version_becomes_a_string():
    assert mapped(version=0)["version"] == "0"
    assert mapped(version=...)["version"] == "0"


@pytest.mark.parametrize(
    ("actor", "identity"),
    [
        (None, {"type": "Unknown", "principalId": "unknown"}),
        ({}, {"type": "Unknown", "principalId": "unknown"}),
        (
            {"type": "SystemPrincipal", "alternateId": "system@okta.com"},
            {
                "type": "SystemPrincipal",
                "principalId": "system@okta.com",
                "details": {"alternateId": "system@okta.com"},
            },
        ),
        (
            {"id": "00uB", "type": "User", "displayName": 42},
            {"type": "User", "principalId": "00uB", "details": {"displayName": "42"}},
        ),
    ],
)
def test_actor_fallbacks(actor, identity):
    assert mapped(actor=actor)["userIdentity"] == identity


@pytest.mark.parametrize("field", ["actor", "client", "outcome", "target"])
def test_wrong_types_are_rejected_naming_the_field(field):
    with pytest.raises(MappingError) as info:
        mapped(**{field: "a string"})
    assert info.value.field == field


@pytest.mark.parametrize("field", ["uuid", "eventType"])
def test_missing_identity_fields_are_rejected(field):
    with pytest.raises(MappingError) as info:
        mapped(**{field: ...})
    assert info.value.code == "MissingField"
    assert info.value.field == field


def test_targets_are_flat_and_queryable():
    targets = [
        {"id": "00uT", "type": "User", "alternateId": "t@example.com", "displayName": "Tee", "detailEntry": None},
        {
            "id": "0oaA",
            "type": "AppInstance",
            "alternateId": None,
            "displayName": "HR",
            "detailEntry": {"mode": "SAML"},
        },
    ]
    params = mapped(target=targets)["requestParameters"]
    assert params == {
        "targetCount": "2",
        "target.0.id": "00uT",
        "target.0.type": "User",
        "target.0.alternateId": "t@example.com",
        "target.0.displayName": "Tee",
        "target.1.id": "0oaA",
        "target.1.type": "AppInstance",
        "target.1.displayName": "HR",
        "target.1.detailEntry": '{"mode":"SAML"}',
    }
    assert all(isinstance(value, str) for value in params.values())


def test_the_rest_of_the_log_event_is_kept_in_additional_event_data():
    data = mapped(debugContext={"debugData": {"requestUri": "/x", "risk": '{"level":"LOW"}'}})
    extra = data["additionalEventData"]
    assert extra["severity"] == "INFO"
    assert extra["displayMessage"] == "User login to Okta"
    assert extra["debugContext"]["debugData"]["risk"] == '{"level":"LOW"}'
    assert extra["client"]["userAgent"]["rawUserAgent"] == "curl/8.5"
    assert not {"uuid", "published", "eventType", "actor", "outcome", "target"} & set(extra)


def test_oversized_events_are_trimmed_least_useful_first_with_a_marker():
    debug = {"huge": "x" * 40_000, "requestUri": "/api/v1/authn"}
    data = mapped(debugContext={"debugData": debug}, request={"ipChain": [{"ip": "203.0.113.9"}] * 10})
    extra = data["additionalEventData"]
    assert extra[TRIMMED_MARKER] == "debugContext.debugData.huge"
    assert extra["debugContext"]["debugData"] == {"requestUri": "/api/v1/authn"}
    assert extra["request"]["ipChain"][0] == {"ip": "203.0.113.9"}
    assert len(json.dumps(extra, separators=(",", ":")).encode()) <= ADDITIONAL_EVENT_DATA_MAX_BYTES


def test_trimming_is_deterministic():
    changes = {"debugContext": {"debugData": {f"k{i}": "v" * 1000 for i in range(60)}}}
    assert mapped(**changes) == mapped(**changes)


def test_the_input_is_not_modified():
    detail = copy.deepcopy(LOG_EVENT)
    detail["debugContext"] = {"debugData": {"huge": "x" * 40_000}}
    before = copy.deepcopy(detail)
    map_log_event(EventBridgeEvent(source="aws.partner/okta.com/o/s", detail=detail), CONTEXT)
    assert detail == before
