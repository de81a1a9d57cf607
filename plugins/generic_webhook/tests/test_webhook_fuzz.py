"""Hostile webhook payloads through every preset: each maps, or is refused with a reason; never a crash.

Events are the presets' own fixtures with values replaced (by any JSON, of any type) or removed
at random depths, and wholly random documents under each preset's source. A mapper bug shows
as ``MapperFailed`` or ``InternalError``: the preparer's last-resort codes for exceptions that
are not the framework's own.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
from auditbridge.messages import InboundMessage
from auditbridge.plugins import get_mapper_registry
from auditbridge.preparation import EventPreparer, Prepared, Rejected
from auditbridge_generic_webhook.config import SOURCE_PREFIX, preset_names
from hypothesis import given
from hypothesis import strategies as st

FIXTURES = Path(__file__).parent / "fixtures"
EVENTS = [
    json.loads(path.read_text())
    for path in sorted(FIXTURES.glob("*/*.json"))
    if not path.name.endswith(".expected.json")
]
BUGS = {"MapperFailed", "InternalError"}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["", "null", "2025-09-14T09:30:05Z", "1726306205", "192.0.2.1", "not-a-time"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)

other_types = st.sampled_from([0, 42, -1.5, True, False, [], ["x", 1], {}, {"a": 1}, "", "x"])


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> dict[str, Any]:
    event = copy.deepcopy(draw(st.sampled_from(EVENTS)))
    for _ in range(draw(st.integers(1, 5))):
        node: Any = event["detail"]
        for _ in range(draw(st.integers(0, 4))):  # down to a random object inside the detail
            inner = sorted(key for key, value in node.items() if isinstance(value, dict))
            if not inner:
                break
            node = node[draw(st.sampled_from(inner))]
        # Mostly a member the mapping reads, with a value of another type: what breaks expressions.
        key = draw(st.sampled_from(sorted(node)) | st.text(max_size=8)) if node else draw(st.text(max_size=8))
        if draw(st.integers(0, 3)) == 0:
            node.pop(key, None)
        else:
            node[key] = copy.deepcopy(draw(other_types | json_values))  # sampled values are shared objects
    return event


random_documents = st.builds(
    lambda name, detail: {"version": "0", "id": "fuzz", "source": SOURCE_PREFIX + name, "detail": detail},
    st.sampled_from(preset_names()),
    st.fixed_dictionaries({}, optional={"payload": json_values, "headers": json_values, "receivedAt": json_values}),
)

preparer = EventPreparer(get_mapper_registry(), recipient_account_id="123456789012")


def prepare(event: dict[str, Any]) -> Prepared | Rejected:
    return preparer.prepare(InboundMessage("fuzz", orjson.dumps(event).decode()))


def test_the_fixtures_themselves_are_mapped_or_refused_as_their_expectations_say():
    results = [prepare(event) for event in EVENTS]
    assert len(results) >= len(preset_names())
    assert not [r.error.describe() for r in results if isinstance(r, Rejected) and r.error.code in BUGS]


@given(mutated_fixtures() | random_documents)
def test_any_webhook_document_maps_or_is_refused_with_a_reason(event):
    result = prepare(event)
    if isinstance(result, Rejected):
        assert result.error.code not in BUGS, result.error.describe()
        assert result.error.message
    else:
        assert result.entry.id and json.loads(result.entry.eventData)["recipientAccountId"] == "123456789012"
