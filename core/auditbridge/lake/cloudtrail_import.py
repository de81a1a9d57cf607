"""Reading AWS CloudTrail log files as a trail delivers them to S3."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from auditbridge.errors import MalformedMessageError


def read_cloudtrail_file(path: Path) -> list[dict[str, Any]]:
    """The ``Records`` of one log file (``.json`` or ``.json.gz``)."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise MalformedMessageError(f"{path}: not a readable gzip file ({exc})", field="file") from None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedMessageError(f"{path}: not valid JSON ({exc})", field="file") from None
    records = document.get("Records") if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise MalformedMessageError(
            f"{path}: not a CloudTrail log file (no 'Records' list)",
            field="Records",
            hint='CloudTrail delivers files shaped {"Records": [...]}',
        )
    bad = [index for index, record in enumerate(records) if not isinstance(record, dict) or "eventTime" not in record]
    if bad:
        raise MalformedMessageError(
            f"{path}: record {bad[0] + 1} is not a CloudTrail event (no eventTime)", field="eventTime"
        )
    return records


def iter_files(paths: list[str]) -> Iterator[Path]:
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.name.endswith((".json", ".json.gz")))
        else:
            yield path
