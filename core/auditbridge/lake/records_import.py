"""Reading the records destinations stored (Firehose objects in S3, exported log files) back in.

Each line is one JSON record as :mod:`auditbridge.records` writes it; files may be GZIP. A
line that is not such a record (a destination check's line, a blank line) is skipped and
counted, never guessed at.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from auditbridge.errors import ConfigurationError, MalformedMessageError


@dataclass(slots=True)
class RecordFile:
    name: str
    data: bytes


def read_records(file: RecordFile) -> tuple[list[dict[str, Any]], int]:
    """The records of one file, and how many lines were not records."""
    raw = file.data
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise MalformedMessageError(f"{file.name}: not a readable gzip file ({exc})", field="file") from None
    records: list[dict[str, Any]] = []
    skipped = 0
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            skipped += 1
            continue
        if isinstance(record, dict) and isinstance(record.get("eventData"), dict) and record.get("eventID"):
            records.append(record)
        else:
            skipped += 1
    return records, skipped


def iter_sources(sources: list[str]) -> Iterator[RecordFile]:
    """Files named (folders searched), and every object under ``s3://bucket/prefix``."""
    for source in sources:
        if source.startswith("s3://"):
            yield from _s3_objects(source)
            continue
        path = Path(source)
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file()):
                yield RecordFile(str(found), found.read_bytes())
        elif path.is_file():
            yield RecordFile(str(path), path.read_bytes())
        else:
            raise ConfigurationError(f"{source}: no such file or folder", code="InvalidArgument")


def _s3_objects(url: str) -> Iterator[RecordFile]:
    from botocore.exceptions import BotoCoreError, ClientError

    from auditbridge import aws_clients

    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise ConfigurationError(f"{url}: name a bucket, as s3://bucket/prefix", code="InvalidArgument")
    s3 = aws_clients.client("s3")
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                yield RecordFile(f"s3://{bucket}/{item['Key']}", body)
    except (BotoCoreError, ClientError) as exc:
        explained = aws_clients.explain(exc) or type(exc).__name__
        raise ConfigurationError(f"cannot read {url}: {explained}", code="S3Unreadable") from None
