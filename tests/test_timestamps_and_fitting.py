from __future__ import annotations

import json

import pytest
from auditbridge.errors import MappingError
from auditbridge.fitting import TRIMMED_MARKER, clip, fit_object
from auditbridge.timestamps import epoch_to_event_time, to_event_time


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
