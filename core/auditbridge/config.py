"""Configuration read from the environment, validated once at start-up."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from auditbridge.errors import ConfigurationError

_CHANNEL_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):cloudtrail:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):channel/(?P<id>[-_A-Za-z0-9]+)$"
)

CHANNEL_ARN_ENV = "AUDITBRIDGE_CHANNEL_ARN"
DLQ_URL_ENV = "AUDITBRIDGE_DLQ_URL"
EXTERNAL_ID_ENV = "AUDITBRIDGE_EXTERNAL_ID"
LOG_PAYLOADS_ENV = "AUDITBRIDGE_LOG_PAYLOADS"
MAX_IN_FLIGHT_ENV = "AUDITBRIDGE_MAX_IN_FLIGHT"


@dataclass(frozen=True, slots=True)
class ChannelArn:
    """A CloudTrail Lake channel ARN: where events go and whose account they must name."""

    arn: str
    partition: str
    region: str
    account_id: str
    channel_id: str

    @classmethod
    def parse(cls, value: str) -> ChannelArn:
        match = _CHANNEL_ARN_RE.match(value.strip())
        if match is None:
            raise ConfigurationError(
                f"{value!r} is not a CloudTrail channel ARN",
                code="InvalidChannelARN",
                hint="expected arn:aws:cloudtrail:<region>:<12-digit account>:channel/<id> "
                "(aws cloudtrail list-channels shows yours)",
            )
        return cls(
            arn=value.strip(),
            partition=match["partition"],
            region=match["region"],
            account_id=match["account"],
            channel_id=match["id"],
        )

    def __str__(self) -> str:
        return self.arn


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class Settings:
    """The Lambda's and the worker's settings."""

    channel: ChannelArn
    dlq_url: str | None = None
    external_id: str | None = None
    log_payloads: bool = False
    #: PutAuditEvents requests one invocation keeps in flight at once.
    max_in_flight: int = 4

    @classmethod
    def from_env(cls) -> Settings:
        arn = os.environ.get(CHANNEL_ARN_ENV, "").strip()
        if not arn:
            raise ConfigurationError(
                f"{CHANNEL_ARN_ENV} is not set",
                code="MissingConfiguration",
                hint="set it to the CloudTrail Lake channel ARN events are sent to",
            )
        external_id = os.environ.get(EXTERNAL_ID_ENV, "").strip() or None
        if external_id is not None and not 2 <= len(external_id) <= 1224:
            raise ConfigurationError(
                f"{EXTERNAL_ID_ENV} must be 2 to 1224 characters long", code="InvalidConfiguration"
            )
        in_flight = os.environ.get(MAX_IN_FLIGHT_ENV, "4").strip()
        if not in_flight.isdigit() or not 1 <= int(in_flight) <= 32:
            raise ConfigurationError(
                f"{MAX_IN_FLIGHT_ENV} must be a whole number from 1 to 32", code="InvalidConfiguration"
            )
        return cls(
            channel=ChannelArn.parse(arn),
            max_in_flight=int(in_flight),
            dlq_url=os.environ.get(DLQ_URL_ENV, "").strip() or None,
            external_id=external_id,
            log_payloads=env_flag(LOG_PAYLOADS_ENV),
        )
