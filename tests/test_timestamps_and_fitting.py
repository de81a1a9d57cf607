from __future__ import annotations

import json
from datetime import datetime

import pytest
from auditbridge.errors import MappingError
from auditbridge.fitting import TRIMMED_MARKER, clip, fit_object
from auditbridge.timestamps import _parse_event_time, epoch_to_event_time, to_event_time
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-01-31T22:23:12.345Z", "2023-01-31T22:23:12Z"),
        ("2023-01-31T22:23:12Z", "2023-01-31T22:23:12Z"),
        ("2023-01-31T22:23:12", "2023-01-31T22:23:12Z"),
        ("2023-01-31 22:23:12.345", "2023-01-31T22:23:12Z"),
        ("2023-01-31 22:23:12.345000000", "2023-01-31T22:23:12Z"),
        ("2023-01-31T22:23:12.999999+00:00", "2023-01-31T22:23:12Z"),
        ("2023-02-01T00:23:12+02:00", "2023-01-31T22:23:12Z"),
        ("2023-01-31T17:23:12-0500", "2023-01-31T22:23:12Z"),
        ("2023-01-31T22:23:12 UTC", "2023-01-31T22:23:12Z"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"),
    ],
)
def test_timestamps_are_normalised_to_utc_seconds(value, expected):
    assert to_event_time(value) == expected


@pytest.mark.parametrize(
    "value", ["2017-09-31T22:23:07.777Z", "2023-02-29T00:00:00Z", "2023-01-31T24:00:00Z", "2023-01-31T22:60:00Z"]
)
def test_impossible_dates_are_a_clear_rejection(value):
    with pytest.raises(MappingError, match="not a real date") as info:
        to_event_time(value, field="published")
    assert info.value.code == "InvalidTimestamp"
    assert info.value.field == "published"


@pytest.mark.parametrize("value", ["redacted", "", "1685456278", "31/01/2023 22:23", "2023-01-31T22:23:12+25:00"])
def test_non_timestamps_are_rejected(value):
    with pytest.raises(MappingError):
        to_event_time(value)


def test_epoch_seconds_and_milliseconds():
    assert epoch_to_event_time(1675203792) == "2023-01-31T22:23:12Z"
    assert epoch_to_event_time(1675203792999, milliseconds=True) == "2023-01-31T22:23:12Z"
    with pytest.raises(MappingError):
        epoch_to_event_time(1e20)


def test_clip_marks_what_it_cut():
    assert clip("short", 10) == "short"
    clipped = clip("x" * 100, 40)
    assert len(clipped) == 40
    assert clipped.endswith("…[truncated]")


def size(value) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def test_fit_object_leaves_small_objects_alone():
    data = {"a": "1"}
    assert fit_object(data, 100) is data


def test_fit_object_drops_listed_paths_first_then_largest_and_marks_it():
    data = {
        "debug": {"big": "x" * 500, "small": "y" * 10},
        "request": {"chain": "z" * 300},
        "severity": "INFO",
        "other": "o" * 200,
    }
    fitted = fit_object(data, 700, drop_first=("debug.*", "request.chain"))
    assert size(fitted) <= 700
    assert fitted[TRIMMED_MARKER] == "debug.big"
    assert fitted["request"] == {"chain": "z" * 300}
    assert fitted["other"] == "o" * 200
    assert data["debug"]["big"] == "x" * 500  # the input is not modified

    tighter = fit_object(data, 300, drop_first=("debug.*", "request.chain"))
    assert size(tighter) <= 300
    assert tighter[TRIMMED_MARKER].split(",")[:3] == ["debug.big", "debug.small", "request.chain"]


def test_fit_object_is_deterministic_and_always_fits():
    data = {f"k{i}": "v" * (i * 37 % 500) for i in range(200)}
    first, second = fit_object(data, 2000), fit_object(dict(reversed(list(data.items()))), 2000)
    assert first == second
    assert size(first) <= 2000
    assert size(fit_object(data, 20)) <= 20


@given(
    st.one_of(
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
            lambda moment: (
                moment.strftime("%Y-%m-%dT%H:%M:%S")
                + ("Z" if moment.microsecond % 2 else f".{moment.microsecond // 1000:03d}Z")
            )
        ),
        st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z\Z"),
        st.from_regex(r"\A.{4}-.{2}-.{2}T.{2}:.{2}:.{2}(..{3})?Z\Z"),
        # Real times in digits of other scripts: the pattern's \d takes them, and the answer must be ASCII.
        st.tuples(
            st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
            st.sampled_from(["٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９", "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗"]),
            st.booleans(),
        ).map(
            lambda t: (t[0].strftime("%Y-%m-%dT%H:%M:%S") + (".123Z" if t[2] else "Z")).translate(
                str.maketrans("0123456789", t[1])
            )
        ),
        st.text(min_size=20, max_size=24),
    )
)
def test_the_plain_utc_shortcut_answers_as_the_full_parse(value):
    """Timestamps in the common shapes skip the pattern; their answer (or error) must be its own."""

    def outcome(parse) -> tuple[str, str]:
        try:
            return ("ok", parse(value))
        except MappingError as exc:
            return (exc.code, str(exc))

    assert outcome(to_event_time) == outcome(lambda text: _parse_event_time(text, "eventTime"))
