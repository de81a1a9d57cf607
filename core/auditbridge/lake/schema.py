"""The local lake's tables, shaped like CloudTrail Lake's rows.

Partner (integration) events: top-level ``eventTime`` (a timestamp), ``eventData`` with the fields
sent (its maps readable as ``map<string,string>``), and what CloudTrail adds: ``eventID``,
``eventCategory`` = ``ActivityAuditLog``, ``eventType`` = ``ActivityLog``, ``eventVersion``,
``awsRegion`` and ``metadata`` (``ingestionTime``, ``channelARN``).

AWS CloudTrail events imported from trail log files keep CloudTrail's own top-level columns.
"""

from __future__ import annotations

import re
from typing import Any, Final

import orjson

from auditbridge.models import json_bytes
from auditbridge.records import added_by_cloudtrail, as_string_map, integration_row, sql_time

MAP: Final = "MAP(VARCHAR, VARCHAR)"
EVENT_DATA_TYPE: Final = (
    "STRUCT(version VARCHAR, userIdentity STRUCT(type VARCHAR, principalId VARCHAR, details "
    f"{MAP}), userAgent VARCHAR, eventSource VARCHAR, eventName VARCHAR, eventTime VARCHAR, UID VARCHAR, "
    f"requestParameters {MAP}, responseElements {MAP}, errorCode VARCHAR, errorMessage VARCHAR, "
    f"sourceIPAddress VARCHAR, recipientAccountId VARCHAR, additionalEventData {MAP})"
)
METADATA_TYPE: Final = "STRUCT(ingestionTime TIMESTAMP, channelARN VARCHAR)"

#: column -> DuckDB type, in table order
PARTNER_COLUMNS: Final = {
    "store_id": "VARCHAR",
    "eventVersion": "VARCHAR",
    "eventCategory": "VARCHAR",
    "eventType": "VARCHAR",
    "eventID": "VARCHAR",
    "eventTime": "TIMESTAMP",
    "awsRegion": "VARCHAR",
    "eventData": EVENT_DATA_TYPE,
    "metadata": METADATA_TYPE,
}

USER_IDENTITY_TYPE: Final = (
    "STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR, accessKeyId VARCHAR, "
    "userName VARCHAR, invokedBy VARCHAR)"
)
CLOUDTRAIL_COLUMNS: Final = {
    "store_id": "VARCHAR",
    "eventVersion": "VARCHAR",
    "eventTime": "TIMESTAMP",
    "eventSource": "VARCHAR",
    "eventName": "VARCHAR",
    "awsRegion": "VARCHAR",
    "sourceIPAddress": "VARCHAR",
    "userAgent": "VARCHAR",
    "userIdentity": USER_IDENTITY_TYPE,
    "requestParameters": MAP,
    "responseElements": MAP,
    "additionalEventData": MAP,
    "errorCode": "VARCHAR",
    "errorMessage": "VARCHAR",
    "requestID": "VARCHAR",
    "eventID": "VARCHAR",
    "eventType": "VARCHAR",
    "eventCategory": "VARCHAR",
    "readOnly": "BOOLEAN",
    "managementEvent": "BOOLEAN",
    "recipientAccountId": "VARCHAR",
    "sharedEventID": "VARCHAR",
    "vpcEndpointId": "VARCHAR",
    "resources": "VARCHAR",
    "tlsDetails": "VARCHAR",
}


def partner_row(
    *,
    store_id: str,
    event_id: str,
    event_data: str,
    channel_arn: str,
    ingestion_time: str,
) -> dict[str, Any]:
    """One stored integration event as a row of ``partner_events``."""
    row = integration_row(
        orjson.loads(event_data),
        event_id=event_id,
        channel_arn=channel_arn,
        ingestion_time=ingestion_time,
        region=channel_arn.split(":")[3] if channel_arn.count(":") >= 5 else None,
    )
    return {"store_id": store_id, **row}


def partner_line(
    *,
    store_id: str,
    event_id: str,
    event_data: str,
    channel_arn: str,
    ingestion_time: str,
    data: dict[str, Any] | None = None,
) -> bytes:
    """:func:`partner_row` as the JSON line DuckDB reads, with ``eventData``'s own text in it.

    DuckDB turns each JSON object into a ``MAP(VARCHAR, VARCHAR)`` as :func:`as_string_map`
    does (strings as they are, anything else as compact JSON), so the event's text needs no
    reading and re-encoding here. Only for the canonical text our own encoding writes, and
    only where DuckDB reads it alike (see below); anything else takes :func:`partner_row`'s way.
    ``tests/test_lake.py`` holds the two together.
    """
    data = data if data is not None else orjson.loads(event_data)
    region = channel_arn.split(":")[3] if channel_arn.count(":") >= 5 else None
    text = event_data.encode("utf-8")
    # Only text as our own encoding writes it (another client may send integers beyond 64 bits,
    # which orjson reads as floats and DuckDB keeps as digits), without \\u escapes (DuckDB writes
    # control characters' hex in upper case), and where DuckDB reads the maps alike.
    if b"\\u" in text or json_bytes(data) != text or not _read_alike(data, text):
        row = integration_row(
            data, event_id=event_id, channel_arn=channel_arn, ingestion_time=ingestion_time, region=region
        )
        return orjson.dumps({"store_id": store_id, **row})
    head = orjson.dumps({"store_id": store_id, **added_by_cloudtrail(data, event_id=event_id, region=region)})
    metadata = orjson.dumps({"ingestionTime": sql_time(ingestion_time), "channelARN": channel_arn})
    return b"".join((head[:-1], b',"eventData":', text, b',"metadata":', metadata, b"}"))


#: Numbers DuckDB writes in another form than orjson: with an exponent (orjson: ``1e+16``,
#: ``1e-7``) or below 1e-4 (orjson: ``0.000015``, DuckDB ``1.5e-05``). Looked for only where
#: these markers occur (an exponent's sign after ``e`` or ``E``, or ``0.0000``); a match inside a
#: string only sends the event the slower way.
_EXPONENTS = (re.compile(rb"e[-+]"), re.compile(rb"E[-+]"))  # two passes cost half of one with a class
_SMALL = b"0.0000"
#: What precedes a marker when it is part of a number: the number's start (after ``:``, ``,``
#: or ``[``), an optional sign, and its digits.
_NUMBER_BEFORE = re.compile(rb"[:,\[]-?[0-9]*\.?[0-9]*\Z")


def _otherwise_written_number(text: bytes) -> bool:
    for exponent in _EXPONENTS:
        for found in exponent.finditer(text):
            at = found.start()
            if _NUMBER_BEFORE.search(text, max(0, at - 40), at):
                return True
    at = text.find(_SMALL)
    while at != -1:
        if _NUMBER_BEFORE.search(text, max(0, at - 40), at + 1):  # the number includes the first 0
            return True
        at = text.find(_SMALL, at + 1)
    return False


def _read_alike(data: dict[str, Any], text: bytes) -> bool:
    """Whether DuckDB reads the maps of ``data`` (encoded as ``text``) as :func:`as_string_map` makes them.

    It does, except for a null directly in a map (NULL, not 'null') and numbers it writes in
    its own form (:data:`_MARKERS`).
    """
    identity = data.get("userIdentity")
    details = identity.get("details") if isinstance(identity, dict) else None
    for value in (
        data.get("requestParameters"),
        data.get("responseElements"),
        data.get("additionalEventData"),
        details,
    ):
        if isinstance(value, dict) and None in value.values():
            return False
    return not _otherwise_written_number(text)


def record_row(store_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """A record a destination stored (``auditbridge.records``) as a row of ``partner_events``."""
    data = _object(record.get("eventData"))
    metadata = _object(record.get("metadata"))
    row = integration_row(
        data,
        event_id=str(record.get("eventID") or ""),
        channel_arn=str(metadata.get("channelARN") or ""),
        ingestion_time=str(metadata.get("ingestionTime") or ""),
        region=record.get("awsRegion") if isinstance(record.get("awsRegion"), str) else None,
    )
    return {"store_id": store_id, **row}


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def cloudtrail_row(store_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """One AWS CloudTrail record (as a trail delivers it) as a row of ``cloudtrail_events``."""
    raw_identity = record.get("userIdentity")
    identity: dict[str, Any] = raw_identity if isinstance(raw_identity, dict) else {}
    row: dict[str, Any] = {"store_id": store_id}
    for name, kind in CLOUDTRAIL_COLUMNS.items():
        if name == "store_id":
            continue
        value = record.get(name)
        if name == "eventTime":
            value = str(value or "").rstrip("Z").replace("T", " ") or None
        elif name == "userIdentity":
            value = {
                key: _text(identity.get(key))
                for key in ("type", "principalId", "arn", "accountId", "accessKeyId", "userName", "invokedBy")
            }
        elif kind == MAP:
            value = as_string_map(value)
        elif kind == "BOOLEAN":
            value = value if isinstance(value, bool) else None
        elif value is not None and not isinstance(value, str):
            value = orjson.dumps(value).decode()
        row[name] = value
    return row


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def columns_spec(columns: dict[str, str]) -> str:
    """The ``columns={...}`` argument of DuckDB's ``read_json`` for a table."""
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"
