"""AWS CloudTrail Lake: ``cloudtrail-data:PutAuditEvents`` on a channel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from auditbridge import aws_clients
from auditbridge.config import ChannelArn
from auditbridge.models import AuditEvent
from auditbridge.sinks import PUT_AUDIT_EVENTS_LIMITS, EntryFailure, PutResult, aws_errors
from auditbridge.sinks.cloudtrail_data_http import AnswerError, DirectPutAuditEvents

if TYPE_CHECKING:
    from mypy_boto3_cloudtrail_data import CloudTrailDataServiceClient

#: Whole-request errors that no retry fixes: an operator has to act.
CONFIGURATION_ERRORS = {
    "ChannelNotFound": "the channel does not exist in this account and Region",
    "InvalidChannelARN": "the channel ARN is not valid",
    "ChannelInsufficientPermission": "the caller may not put events on this channel",
    "ChannelUnsupportedSchema": "the channel does not accept this event schema",
    "UnsupportedOperationException": "CloudTrail Lake does not support this operation in this account or Region",
    "AccessDeniedException": "the function's role lacks cloudtrail-data:PutAuditEvents on the channel",
    "UnrecognizedClientException": "the AWS credentials are not valid",
    "InvalidSignatureException": "the AWS credentials are not valid",
    "ExpiredTokenException": "the AWS credentials have expired",
    "AccountNotSubscribed": "the account is not subscribed to CloudTrail Lake",
}
CONFIGURATION_HINT = (
    "check AUDITBRIDGE_CHANNEL_ARN, the channel's event data store, AUDITBRIDGE_EXTERNAL_ID and the "
    "function role; events stay in the queue until this is fixed"
)


class CloudTrailLakeSink:
    """Sends entries to a CloudTrail Lake channel: signed requests over one pooled session.

    The Region comes from the channel ARN; ``AWS_ENDPOINT_URL_CLOUDTRAIL_DATA`` (or
    ``AWS_ENDPOINT_URL``) points it elsewhere, for the loopback endpoint in tests. Nothing
    retries below the pipeline, which retries only what failed, so an entry that succeeded is
    never sent twice. Given a boto3 ``client``, it sends through that instead (same answers).
    """

    name = "cloudtrail-lake"
    limits = PUT_AUDIT_EVENTS_LIMITS

    def __init__(
        self,
        channel: ChannelArn,
        external_id: str | None = None,
        client: CloudTrailDataServiceClient | None = None,
    ) -> None:
        self.channel = channel
        self.external_id = external_id
        self._client = client
        self.address = f"cloudtrail-lake:{channel.arn}"
        self._direct: DirectPutAuditEvents | None = None

    @property
    def client(self) -> CloudTrailDataServiceClient:
        if self._client is None:
            self._client = aws_clients.client(
                "cloudtrail-data",
                region=self.channel.region,
                read_timeout=30,
                retries={"total_max_attempts": 1},
                # The models have checked every limit, including the ones botocore does not know.
                parameter_validation=False,
                tcp_keepalive=True,
                user_agent_extra="auditbridge",
            )
        return self._client

    def put_audit_events(self, entries: Sequence[AuditEvent]) -> PutResult:
        """Below botocore's client unless one was given (:mod:`auditbridge.sinks.cloudtrail_data_http`)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if self._client is not None:
                kwargs: dict[str, Any] = {
                    "channelArn": self.channel.arn,
                    "auditEvents": [entry.to_request_entry() for entry in entries],
                }
                if self.external_id:
                    kwargs["externalId"] = self.external_id
                response: dict[str, Any] = dict(self._client.put_audit_events(**kwargs))
            else:
                if self._direct is None:
                    self._direct = DirectPutAuditEvents(self.channel, self.external_id)
                response = self._direct.send(entries)
        except (ClientError, AnswerError) as exc:
            raise classify_client_error(exc) from exc
        except BotoCoreError as exc:
            raise classify_botocore_error(exc) from exc
        return PutResult(
            successful={item["id"]: item["eventID"] for item in response.get("successful", [])},
            failed=[
                EntryFailure(item["id"], item["errorCode"], item.get("errorMessage", ""))
                for item in response.get("failed", [])
            ],
        )


def classify_client_error(exc: Any) -> Exception:
    return aws_errors.classify_client_error(
        exc, operation="PutAuditEvents", configuration=CONFIGURATION_ERRORS, hint=CONFIGURATION_HINT
    )


def classify_botocore_error(exc: Exception) -> Exception:
    return aws_errors.classify_botocore_error(exc, service="CloudTrail Data")
