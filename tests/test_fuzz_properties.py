"""Property tests of everything that parses or trims: always terminates, always fits, deterministic.

``make test`` runs the default hypothesis profile; ``make fuzz`` the long one (``fuzz``).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from auditbridge.bounds import MAX_DEPTH
from auditbridge.envelope import EventBridgeEvent
from auditbridge.errors import AuditBridgeError, MalformedMessageError, MappingError
from auditbridge.fitting import TRIMMED_MARKER, _Plan, clip, fit_object
from auditbridge.mappers import MappingContext
from auditbridge.models import EventData
from auditbridge.timestamps import to_event_time
from auditbridge_okta.mapper import map_log_event
from events import OKTA_SOURCE, okta_log_event
from hypothesis import example, given
from hypothesis import strategies as st

keys = st.text(max_size=12) | st.sampled_from(["a.b", "target.0.displayName", ".", "", TRIMMED_MARKER, "x.*"])
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(keys, children, max_size=6),
    max_leaves=40,
)
objects = st.dictionaries(keys, json_values, max_size=12)
drop_paths = st.lists(st.sampled_from(["a.*", "a.b", "a.b.*", "x.*", "target.0.displayName", "*", "."]), max_size=4)


def size(value: Any) -> int:
    return len(orjson.dumps(value))


@given(objects, st.integers(0, 2_000), drop_paths)
@example({"a.k": "x" * 200, "b": "y"}, 100, [])  # once looped forever: a dotted top-level key
def test_fit_object_always_fits_is_deterministic_and_leaves_the_input_alone(data, limit, drop_first):
    before = orjson.dumps(data)
    fitted = fit_object(data, limit, drop_first)
    assert size(fitted) <= limit or fitted == {}
    assert fit_object(data, limit, drop_first) == fitted
    assert orjson.dumps(data) == before
    if size(data) <= limit:
        assert fitted is data
    elif fitted not in ({}, {TRIMMED_MARKER: "*"}):
        assert TRIMMED_MARKER in fitted


@given(objects, st.floats(0, 0.99), drop_paths)
def test_fit_object_size_arithmetic_is_exact(data, share, drop_first):
    """The planned size is the encoded size: the guard in fit_object never has to act."""
    limit = int(size(data) * share)
    plan = _Plan(data, limit)
    if TRIMMED_MARKER in data:
        plan.remove((TRIMMED_MARKER,))
    for path in drop_first:
        parts = tuple(path.split("."))
        if (parts[-1] == "*" and plan.remove_members_of(parts[:-1])) or (parts[-1] != "*" and plan.remove(parts)):
            break
    else:
        plan.remove_members_of(())
    if plan.fits():
        assert size(plan.build()) == plan.size + plan.marker_size()


def test_fit_object_on_20000_members_keeps_what_matters_and_bounds_its_marker():
    data = {
        "debugContext": {"debugData": {f"k{i:05d}": "v" for i in range(20_000)}},
        "displayMessage": "User login to Okta",
        "severity": "INFO",
    }
    fitted = fit_object(data, 28_000, ("debugContext.debugData.*",))
    assert size(fitted) <= 28_000
    assert fitted["displayMessage"] == "User login to Okta"
    assert fitted["severity"] == "INFO"
    assert len(fitted[TRIMMED_MARKER]) < 1_100
    assert re.search(r",\+\d+ more$", fitted[TRIMMED_MARKER])


@given(st.text(), st.integers(0, 300))
def test_clip_fits_and_keeps_short_text(text, limit):
    clipped = clip(text, limit)
    assert len(clipped) <= max(limit, len("…[truncated]"))
    if len(text) <= limit:
        assert clipped == text


@given(st.text(max_size=300) | st.from_regex(r"\s*\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?\s*(Z|[+-]\d\d:?\d\d)?\s*"))
@example(" " * 40_000 + "2025-06-01T08:00:00Z")
@example("0001-01-01T00:00:00+01:00")
@example("9999-12-31T23:59:59-01:00")
def test_to_event_time_returns_the_service_form_or_a_mapping_error(value):
    try:
        result = to_event_time(value)
    except MappingError as exc:
        assert exc.code == "InvalidTimestamp"
        # Never quotes the value (a short one may occur in the fixed text by chance).
        assert len(value.strip()) < 6 or value.strip()[:20] not in exc.message
        return
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", result)
    assert to_event_time(value) == result


@given(
    st.binary(max_size=300)
    | st.text(max_size=300)
    | json_values.map(lambda v: orjson.dumps({"source": "s", "detail": v}))
)
def test_the_envelope_parser_accepts_or_says_malformed(body):
    try:
        event = EventBridgeEvent.from_json(body)
    except MalformedMessageError as exc:
        assert exc.code in {"MalformedMessage", "TooDeep", "TooLarge", "InvalidSource"}
        return
    assert isinstance(event.detail, dict)
    assert event.source


def test_the_envelope_parser_refuses_deep_nesting_anywhere():
    deep: Any = "x"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    body = orjson.dumps({"source": "s", "detail": {"a": deep}})
    with pytest.raises(MalformedMessageError) as caught:
        EventBridgeEvent.from_json(body)
    assert caught.value.code == "TooDeep"
    assert caught.value.field.startswith("detail.a[0]")


context = MappingContext("123456789012")
long_texts = st.sampled_from([10, 300, 150_000]).map("r".__mul__)
log_event_members = st.fixed_dictionaries(
    {},
    optional={
        "published": st.text(max_size=40) | st.just("2025-06-01T08:00:00.123Z") | json_values,
        "eventType": st.text(max_size=20) | json_values,
        "actor": json_values
        | st.fixed_dictionaries(
            {}, optional=dict.fromkeys(("id", "type", "alternateId", "displayName", "detailEntry"), json_values)
        ),
        "client": json_values
        | st.fixed_dictionaries(
            {}, optional={"ipAddress": st.text(max_size=45) | json_values, "userAgent": json_values}
        ),
        "outcome": json_values | st.fixed_dictionaries({}, optional={"result": json_values, "reason": long_texts}),
        "target": json_values
        | st.lists(
            st.dictionaries(st.sampled_from(["id", "type", "displayName", "detailEntry"]), json_values), max_size=4
        ),
        "debugContext": json_values,
        "version": json_values,
    },
)


@given(log_event_members)
def test_the_okta_mapper_maps_or_raises_a_classified_error(changes):
    detail = okta_log_event(**changes)
    event = EventBridgeEvent(source=OKTA_SOURCE, detail=detail, time="2025-06-01T08:00:01Z")
    before = orjson.dumps(detail)
    try:
        first = map_log_event(event, context)
    except AuditBridgeError:
        assert orjson.dumps(detail) == before
        return
    assert isinstance(first, EventData)
    assert map_log_event(event, context) == first
    assert orjson.dumps(detail) == before
