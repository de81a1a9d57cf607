"""``EventData.build`` and ``UserIdentity.build`` are the models themselves, only faster.

The pydantic models stay the one definition of the schema. The fast path restates their rules
in plain Python for the common case and hands everything else to the model, so for any input
the two must give the same instance (equal fields, equal bytes) or the same error.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from auditbridge.errors import SchemaViolation
from auditbridge.mappers import entry_id_for
from auditbridge.models import AuditEvent, EventData, UserIdentity
from auditbridge.preparation import to_entry
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

BASE: dict[str, Any] = {
    "version": "0",
    "eventSource": "okta.system-log-events",
    "eventName": "user.session.start",
    "eventTime": "2025-06-01T08:00:00Z",
    "UID": "uid-1",
    "recipientAccountId": "123456789012",
}


class Text(str):
    """A str subclass: the model's business, never the fast path's."""


def texts(limit: int) -> st.SearchStrategy[Any]:
    """Strings around the limit, empty ones, subclasses and other types."""
    return st.one_of(
        st.text(min_size=0, max_size=8),
        st.integers(min_value=limit - 2, max_value=limit + 2).map(lambda n: "x" * max(n, 0)),
        st.integers(min_value=limit - 1, max_value=limit + 1).map(lambda n: "é" * max(n, 0)),
        st.just(Text("subclass")),
        st.none(),
        st.integers(),
        st.binary(max_size=4),
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=12,
)


def _deep(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


DEEP = _deep(300)  # deeper than orjson encodes


def objects(limit: int) -> st.SearchStrategy[Any]:
    """JSON objects of any size around the limit, odd keys and values, and non-objects."""
    return st.one_of(
        st.none(),
        st.dictionaries(st.text(max_size=5), json_values, max_size=4),
        st.integers(min_value=limit - 12, max_value=limit - 4).map(lambda n: {"k": "v" * n}),
        st.just({1: "non-string key"}),
        st.just({"set": {1, 2}}),
        st.just({"deep": DEEP}),
        st.just([1, 2]),
        st.just("{}"),
    )


times = st.one_of(
    st.datetimes().map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ")),
    st.sampled_from(
        [
            "2025-02-29T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "2025-06-01T08:00:00Z\n",
            "2025-06-01T08:00:00",
            "2025-06-01 08:00:00Z",
            "２０２５-06-01T08:00:00Z",
            "2025-06-01T24:00:00Z",
        ]
    ),
    st.text(max_size=24),
    st.integers(),
)
addresses = st.one_of(
    st.none(),
    st.ip_addresses().map(str),
    st.sampled_from(["::ffff:192.0.2.1", "192.0.2.1 ", "1.2.3", "fe80::1%eth0", "0x7f.1", "", "::"]),
    st.text(max_size=12),
    st.integers(),
)
accounts = st.one_of(
    st.text(alphabet="0123456789", min_size=11, max_size=13),
    st.sampled_from(["١٢٣٤٥٦٧٨٩٠١٢", "12345678901²", "12345678901\n"]),
    st.integers(),
)
identities = st.builds(
    lambda kind, principal, details: {"type": kind, "principalId": principal, "details": details},
    texts(128),
    texts(1024),
    st.one_of(st.none(), st.dictionaries(st.text(max_size=4), json_values, max_size=3), st.just({2: "x"}), st.just([])),
)


def same(fast: Any, slow: Any) -> None:
    """Both calls give equal instances with equal bytes, or both raise the same kind of error."""
    try:
        expected = slow()
    except Exception as exc:  # the model's own verdict, whatever it is
        with pytest.raises(type(exc)):
            fast()
        return
    built = fast()
    assert built == expected
    assert type(built) is type(expected)
    if isinstance(built, EventData):
        try:
            wanted = expected.to_json_bytes()
        except (TypeError, ValueError) as exc:
            with pytest.raises(type(exc)):
                built.to_json_bytes()
        else:
            assert built.to_json_bytes() == wanted
            assert built.model_dump() == expected.model_dump()


@given(identities)
def test_user_identity_build_is_the_model(values):
    same(lambda: UserIdentity.build(**values), lambda: UserIdentity(**values))


@given(
    version=texts(256),
    event_name=texts(1024),
    uid=texts(1024),
    user_agent=texts(1024),
    error_code=texts(256),
    error_message=texts(256),
    event_time=times,
    address=addresses,
    account=accounts,
    request_parameters=objects(100_000),
    response_elements=objects(100_000),
    additional=objects(28_000),
    identity=identities,
)
@example(  # every object just under its limit: the whole is larger than the smallest limit
    version="0",
    event_name="e",
    uid="u",
    user_agent=None,
    error_code=None,
    error_message=None,
    event_time="2025-06-01T08:00:00Z",
    address=None,
    account="123456789012",
    request_parameters={"k": "v" * 99_990},
    response_elements={"k": "v" * 99_990},
    additional={"k": "v" * 27_990},
    identity={"type": "t", "principalId": "p", "details": None},
)
@example(  # one object over its limit, the others small
    version="0",
    event_name="e",
    uid="u",
    user_agent=None,
    error_code=None,
    error_message=None,
    event_time="2025-06-01T08:00:00Z",
    address=None,
    account="123456789012",
    request_parameters=None,
    response_elements={"k": "v" * 5},
    additional={"k": "v" * 28_000},
    identity={"type": "t", "principalId": "p", "details": None},
)
def test_event_data_build_is_the_model(
    version,
    event_name,
    uid,
    user_agent,
    error_code,
    error_message,
    event_time,
    address,
    account,
    request_parameters,
    response_elements,
    additional,
    identity,
):
    try:
        who: Any = UserIdentity(**identity)
    except (ValidationError, TypeError):
        who = identity  # a dict where the model is expected: the model's business
    values = {
        **BASE,
        "version": version,
        "eventName": event_name,
        "UID": uid,
        "userAgent": user_agent,
        "errorCode": error_code,
        "errorMessage": error_message,
        "eventTime": event_time,
        "sourceIPAddress": address,
        "recipientAccountId": account,
        "requestParameters": request_parameters,
        "responseElements": response_elements,
        "additionalEventData": additional,
        "userIdentity": who,
    }
    same(lambda: EventData.build(**values), lambda: EventData(**values))


FIELDS = {
    "version": texts(256),
    "eventName": texts(1024),
    "eventSource": texts(1024),
    "UID": texts(1024),
    "userAgent": texts(1024),
    "errorCode": texts(256),
    "errorMessage": texts(256),
    "eventTime": times,
    "sourceIPAddress": addresses,
    "recipientAccountId": accounts,
    "requestParameters": objects(100_000),
    "responseElements": objects(100_000),
    "additionalEventData": objects(28_000),
}


@pytest.mark.parametrize("name", sorted(FIELDS))
@given(data=st.data())
def test_each_field_alone_builds_as_the_model_does(name, data):
    """One field varies, the rest are valid: every boundary of that field is reached."""
    values = {**BASE, "userIdentity": UserIdentity(type="User", principalId="00u1"), name: data.draw(FIELDS[name])}
    same(lambda: EventData.build(**values), lambda: EventData(**values))


def test_the_fast_path_is_taken_for_what_mappers_produce():
    built = EventData.build(**BASE, userIdentity=UserIdentity.build(type="User", principalId="00u1"))
    # Encoded once, while building: the bytes are already there.
    assert "encoded" in built.__dict__
    assert (
        built.to_json_bytes() == EventData(**BASE, userIdentity=UserIdentity(type="User", principalId="00u1")).encoded
    )


def test_anything_else_gets_the_models_own_error():
    with pytest.raises(ValidationError) as info:
        EventData.build(
            **{**BASE, "eventTime": "2025-06-01T08:00:00Z\n"},
            userIdentity=UserIdentity.build(type="U", principalId="p"),
        )
    assert info.value.errors()[0]["loc"] == ("eventTime",)


def test_ids_and_times_with_a_trailing_newline_are_not_taken_as_valid():
    # Python's `$` matches before a final newline; the patterns must not let one through.
    assert entry_id_for("abc\n") != "abc\n"
    assert entry_id_for("abc\n").startswith("sha256-")
    with pytest.raises(ValidationError):
        EventData(
            **{**BASE, "eventTime": "2025-06-01T08:00:00Z\n"}, userIdentity=UserIdentity(type="U", principalId="p")
        )
    data = EventData(**{**BASE, "UID": "abc\n"}, userIdentity=UserIdentity(type="U", principalId="p"))
    assert to_entry(data, source="s").id == entry_id_for("abc\n")


@given(
    details=st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    uid=st.text(min_size=1, max_size=200),
)
def test_an_entrys_request_encoding_is_what_orjson_makes_of_it(details, uid):
    """The request body is joined from each entry's bytes: they must be orjson's, to the byte."""
    import orjson

    try:
        data = EventData.build(
            **{**BASE, "UID": uid}, userIdentity=UserIdentity.build(type="U", principalId="p", details=details)
        )
        entry = to_entry(data, source="s")
    except (ValidationError, SchemaViolation):
        return  # integers beyond 64 bits: refused before any entry exists
    assert entry.request_json == orjson.dumps(entry.to_request_entry())
    # The size estimate counts botocore's ASCII escapes: never below what it writes.
    body = json.dumps({"auditEvents": [entry.to_request_entry()]}, separators=(",", ":"))
    assert entry.wire_size + 32 >= len(body.encode())
    fresh = AuditEvent(id=entry.id, eventData=entry.eventData, eventDataChecksum=entry.eventDataChecksum)
    assert fresh.wire_size == entry.wire_size
    assert fresh.request_json == entry.request_json


def test_unencodable_details_are_a_schema_violation_not_an_internal_error():
    # The model takes any JSON object in details; orjson refuses integers beyond 64 bits with a TypeError.
    data = EventData.build(**BASE, userIdentity=UserIdentity.build(type="U", principalId="p", details={"n": 2**70}))
    with pytest.raises(SchemaViolation, match="cannot be encoded as JSON"):
        to_entry(data, source="s")
