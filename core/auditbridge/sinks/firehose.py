"""Amazon Data Firehose: ``PutRecordBatch`` onto a delivery stream, one JSON line per event.

Address: ``firehose:<stream name or ARN>``. Each record is the event as a CloudTrail Lake row
(:mod:`auditbridge.records`) ending in a newline, since Firehose adds no delimiter; the stream
delivers them to S3 (GZIP JSON lines, or Parquet through record format conversion) where Athena
queries them with the SQL written for CloudTrail Lake. Limits: 500 records and 4 MiB per call,
1,000 KiB per record. ``FailedPutCount`` and each record's ``ErrorCode`` mean only the failed
records are sent again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from auditbridge import aws_clients
from auditbridge.errors import ConfigurationError
from auditbridge.models import AuditEvent
from auditbridge.records import EntryCache, record_bytes, record_event_id
from auditbridge.sinks import EntryFailure, PutResult, SinkLimits, aws_errors

LIMITS = SinkLimits(max_records=500, max_request_bytes=4 * 1024 * 1024, max_record_bytes=1_000 * 1024)
_STREAM_ARN_RE = re.compile(r"^arn:aws[a-z-]*:firehose:([a-z0-9-]+):\d{12}:deliverystream/([a-zA-Z0-9_.-]{1,64})$")
_STREAM_NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")
CONFIGURATION_ERRORS = {
    "ResourceNotFoundException": "the delivery stream does not exist in this account and Region",
    "InvalidKMSResourceException": "the stream's KMS key cannot be used",
    "KMSAccessDeniedException": "the stream's KMS key cannot be used",
    "ResourceInUseException": "the delivery stream is not active yet",
}
HINT = "check the stream name, the Region and the role's firehose:PutRecordBatch permission"


class FirehoseSink:
    name = "firehose"
    limits = LIMITS

    def __init__(
        self, stream: str, settings: Mapping[str, str] | None = None, *, client: Any = None, region: str | None = None
    ) -> None:
        settings = dict(settings or {})
        arn = _STREAM_ARN_RE.match(stream)
        if arn is not None:
            region, name = arn.group(1), arn.group(2)
        elif _STREAM_NAME_RE.match(stream):
            name = stream
        else:
            raise ConfigurationError(
                f"firehose:{stream}: not a delivery stream name (1-64 of [a-zA-Z0-9_.-]) or ARN",
                code="InvalidDestination",
            )
        if set(settings) - {"region"}:
            raise ConfigurationError(f"firehose:{stream}: the only setting is region=", code="InvalidDestination")
        self.stream = name
        self.region = settings.get("region") or region
        self.address = f"firehose:{stream}"
        self._client = client
        self._records: EntryCache[bytes] = EntryCache()

    client = aws_clients.LazyClient("firehose", read_timeout=30, retries={"total_max_attempts": 1})

    def _record(self, entry: AuditEvent) -> bytes:
        return self._records.get(entry, lambda e: record_bytes(e, destination=self.address, region=self.region))

    def record_size(self, entry: AuditEvent) -> int:
        return len(self._record(entry))

    def put_audit_events(self, entries: Sequence[AuditEvent]) -> PutResult:
        records = [{"Data": self._record(entry)} for entry in entries]
        with aws_errors.classified(
            operation="PutRecordBatch", service="Firehose", configuration=CONFIGURATION_ERRORS, hint=HINT
        ):
            response = self.client.put_record_batch(DeliveryStreamName=self.stream, Records=records)
        result = PutResult()
        # Index-aligned with the records sent; a missing answer leaves the entry unanswered (retried).
        for entry, answer in zip(entries, response.get("RequestResponses", []), strict=False):
            if answer.get("ErrorCode"):
                code = str(answer["ErrorCode"])
                result.failed.append(EntryFailure(entry.id, code, str(answer.get("ErrorMessage", ""))))
            elif answer.get("RecordId"):
                result.successful[entry.id] = record_event_id(entry)
                self._records.forget(entry)
        return result

    def check(self, dry_run: bool) -> str:
        with aws_errors.classified(
            operation="Firehose", service="Firehose", configuration=CONFIGURATION_ERRORS, hint=HINT
        ):
            described = self.client.describe_delivery_stream(DeliveryStreamName=self.stream)
            status = described["DeliveryStreamDescription"]["DeliveryStreamStatus"]
            if dry_run:
                return f"delivery stream {self.stream} is {status}; nothing sent"
            self.client.put_record(DeliveryStreamName=self.stream, Record={"Data": b'{"auditbridgeCheck":true}\n'})
        return f"delivery stream {self.stream} is {status}; wrote one check record"
