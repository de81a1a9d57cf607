"""Configuration read from the environment, validated once at start-up."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from auditbridge.destinations import Routes, parse_routes, split_addresses
from auditbridge.errors import ConfigurationError

_CHANNEL_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):cloudtrail:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):channel/(?P<id>[-_A-Za-z0-9]+)$"
)

CHANNEL_ARN_ENV = "AUDITBRIDGE_CHANNEL_ARN"
DLQ_URL_ENV = "AUDITBRIDGE_DLQ_URL"
EXTERNAL_ID_ENV = "AUDITBRIDGE_EXTERNAL_ID"
LOG_PAYLOADS_ENV = "AUDITBRIDGE_LOG_PAYLOADS"
MAX_IN_FLIGHT_ENV = "AUDITBRIDGE_MAX_IN_FLIGHT"
DESTINATIONS_ENV = "AUDITBRIDGE_DESTINATIONS"
ROUTES_ENV = "AUDITBRIDGE_ROUTES"
DELIVERED_TABLE_ENV = "AUDITBRIDGE_DELIVERED_TABLE"


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
class Destinations:
    """Where events go: the addresses, the routes between sources and them, the delivered set."""

    addresses: tuple[str, ...]
    routes: Routes
    delivered_table: str | None = None

    @classmethod
    def resolve(
        cls,
        destinations: Sequence[str] = (),
        *,
        channel_arn: str | None = None,
        routes: str | None = None,
        delivered_table: str | None = None,
    ) -> Destinations:
        """``destinations`` (addresses), plus ``channel_arn`` as a CloudTrail Lake destination when it is
        not among them, routed by the ``routes`` file (a path or ``ssm:/name``) or all to all."""
        listed = list(dict.fromkeys(destinations))
        if channel_arn:
            address = f"cloudtrail-lake:{ChannelArn.parse(channel_arn).arn}"
            if not any(a.split("?", 1)[0] == address for a in listed):
                listed.append(address)
        if routes:
            table = parse_routes(read_reference(routes), routes)
            if "*" not in table.table and listed:
                table.table["*"] = tuple(listed)  # what no route names goes to the listed destinations
        elif listed:
            table = Routes.everything_to(listed)
        else:
            raise ConfigurationError(
                f"no destination: set {DESTINATIONS_ENV} (or {CHANNEL_ARN_ENV}, or {ROUTES_ENV})",
                code="MissingConfiguration",
                hint="for example cloudwatch-logs:/audit/events or firehose:audit-stream (docs/operations.md)",
            )
        return cls(tuple(table.addresses), table, delivered_table or None)

    def recipient_account_id(self) -> str | None:
        """The account every eventData must name: the CloudTrail Lake channels' (one account only),
        or None, and then each event's own EventBridge ``account``."""
        accounts = {
            ChannelArn.parse(address.split(":", 1)[1].split("?", 1)[0]).account_id
            for address in self.addresses
            if address.startswith("cloudtrail-lake:")
        }
        if len(accounts) > 1:
            raise ConfigurationError(
                f"CloudTrail Lake destinations of several accounts ({', '.join(sorted(accounts))}): eventData "
                "names one recipient account",
                code="InvalidDestination",
                hint="run one deployment per account",
            )
        return accounts.pop() if accounts else None


def read_reference(reference: str) -> str:
    """A small configuration file's text: a path, or ``ssm:/parameter/name``."""
    if reference.startswith("ssm:"):
        from botocore.exceptions import BotoCoreError, ClientError

        from auditbridge import aws_clients

        try:
            answer = aws_clients.client("ssm").get_parameter(Name=reference[4:], WithDecryption=True)
        except (BotoCoreError, ClientError) as exc:
            raise ConfigurationError(
                f"cannot read {reference}: {type(exc).__name__}", code="MissingConfiguration"
            ) from None
        return str(answer["Parameter"]["Value"])
    try:
        with open(reference, encoding="utf-8") as handle:
            return handle.read(1_048_576)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {reference}: {exc.strerror}", code="MissingConfiguration") from None


@dataclass(frozen=True, slots=True)
class Settings:
    """The Lambda's and the worker's settings."""

    destinations: Destinations
    channel: ChannelArn | None = None
    dlq_url: str | None = None
    external_id: str | None = None
    log_payloads: bool = False
    #: Requests one invocation keeps in flight at once, per destination.
    max_in_flight: int = 4

    @classmethod
    def from_env(cls) -> Settings:
        arn = os.environ.get(CHANNEL_ARN_ENV, "").strip()
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
        destinations = Destinations.resolve(
            split_addresses(os.environ.get(DESTINATIONS_ENV, "")),
            channel_arn=arn or None,
            routes=os.environ.get(ROUTES_ENV, "").strip() or None,
            delivered_table=os.environ.get(DELIVERED_TABLE_ENV, "").strip() or None,
        )
        return cls(
            destinations=destinations,
            channel=ChannelArn.parse(arn) if arn else None,
            max_in_flight=int(in_flight),
            dlq_url=os.environ.get(DLQ_URL_ENV, "").strip() or None,
            external_id=external_id,
            log_payloads=env_flag(LOG_PAYLOADS_ENV),
        )
