"""Intake, dispatch, map and validate: one queue message to one valid PutAuditEvents entry."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from auditbridge.envelope import EventBridgeEvent
from auditbridge.errors import (
    AuditBridgeError,
    ConfigurationError,
    MappingError,
    SchemaViolation,
    Stage,
    internal_error,
    raised_at,
)
from auditbridge.mappers import MappingContext, entry_id_for
from auditbridge.messages import InboundMessage
from auditbridge.models import AuditEvent, EventData
from auditbridge.plugins import MapperRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message that mapped to a valid entry."""

    message: InboundMessage
    source: str
    entry: AuditEvent


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that failed before sending; ``error`` says why and what to do."""

    message: InboundMessage
    error: AuditBridgeError

    @property
    def source(self) -> str | None:
        return self.error.source


class EventPreparer:
    """Everything before sending; needs no destination, so ``auditbridge map`` uses it alone."""

    def __init__(
        self, registry: MapperRegistry, *, recipient_account_id: str | None, channel_arn: str | None = None
    ) -> None:
        self.registry = registry
        self.recipient_account_id = recipient_account_id
        self.channel_arn = channel_arn
        self._contexts: dict[str | None, MappingContext] = {}

    def prepare(self, message: InboundMessage) -> Prepared | Rejected:
        """Take one message as far as a valid entry, or say why it cannot get there.

        Never raises: whatever a record holds, its failure stays its own. An exception that
        is not an :class:`AuditBridgeError` is a bug; it becomes a parked ``InternalError``.
        """
        try:
            event = EventBridgeEvent.from_json(message.body)
        except AuditBridgeError as exc:
            return Rejected(message, exc)
        except Exception as exc:
            log.error("internal error at intake, message %s: %s", message.message_id, type(exc).__name__)
            return Rejected(message, internal_error(exc, Stage.INTAKE))
        try:
            return Prepared(message, event.source, self.map_event(event))
        except AuditBridgeError as exc:
            return Rejected(message, exc.with_context(source=event.source, event_id=event.id))
        except Exception as exc:
            error = internal_error(exc, Stage.VALIDATE, source=event.source).with_context(event_id=event.id)
            log.error("internal error, message %s: %s", message.message_id, error.describe())
            return Rejected(message, error)

    def map_event(self, event: EventBridgeEvent) -> AuditEvent:
        """Dispatch, map and validate one event; raises an :class:`AuditBridgeError`."""
        mapper = self.registry.resolve(event.source).mapper
        context = self._context_for(event)
        try:
            event_data = mapper.map_event(event, context)
        except AuditBridgeError:
            raise
        except ValidationError as exc:
            raise schema_violation(exc, event) from None
        except (RecursionError, orjson.JSONEncodeError) as exc:
            raise MappingError(
                f"the event cannot be encoded as JSON ({exc or 'nested too deeply'})",
                code="UnencodableEvent",
                source=event.source,
                hint="the producer sent structures deeper than 254 levels or integers beyond 64 bits",
            ) from None
        except Exception as exc:
            # The exception's text is left out: it may quote the event (personal data).
            where = raised_at(exc, _folder_of(mapper.map_event))
            raise MappingError(
                f"mapper {mapper.name!r} failed unexpectedly: {type(exc).__name__}{where}",
                code="MapperFailed",
                hint="a bug in the mapper. Operators: report it with the parked message, then redrive after "
                "upgrading. Plugin authors: raise MappingError(message, field=...) for input you cannot map",
            ) from exc
        if not isinstance(event_data, EventData):
            raise MappingError(
                f"mapper {mapper.name!r} returned {type(event_data).__name__}, not EventData",
                code="MapperFailed",
            )
        return to_entry(event_data, source=event.source)

    def _context_for(self, event: EventBridgeEvent) -> MappingContext:
        # Without a channel (the CLI's map command) events name the account they came from.
        account = self.recipient_account_id or event.account
        try:
            return self._contexts[account]
        except KeyError:
            if account is None or not (len(account) == 12 and account.isdigit()):
                raise ConfigurationError(
                    "no 12-digit recipient account: no channel ARN is configured and the event names none",
                    code="MissingConfiguration",
                    field="account",
                    hint="pass --channel-arn or set AUDITBRIDGE_CHANNEL_ARN",
                ) from None
            context = self._contexts[account] = MappingContext(account, self.channel_arn)
            return context


@functools.cache
def _folder_of(function: Callable[..., object]) -> str | None:
    """The folder of the module defining ``function``: where a plugin's own frames live."""
    module = sys.modules.get(getattr(function, "__module__", "") or "")
    filename = getattr(module, "__file__", None)
    return os.path.dirname(filename) + os.sep if filename else None


def to_entry(event_data: EventData, *, source: str) -> AuditEvent:
    """Turn validated eventData into the PutAuditEvents entry, id derived from ``UID``."""
    try:
        return AuditEvent.from_event_data(entry_id_for(event_data.UID), event_data)
    except (TypeError, ValueError) as exc:  # orjson refuses, e.g., integers beyond 64 bits (a TypeError)
        raise SchemaViolation(
            f"eventData cannot be encoded as JSON: {exc}", source=source, event_id=event_data.UID
        ) from None


def schema_violation(exc: ValidationError, event: EventBridgeEvent) -> SchemaViolation:
    """Name the first offending field and its limit; the rest are counted."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    location = ".".join(str(part) for part in first["loc"]) or "eventData"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return SchemaViolation(
        f"eventData.{location} {first['msg'].removeprefix('Value error, ')}{more}",
        code="FieldTooLong" if first["type"] in {"string_too_long"} else "SchemaViolation",
        source=event.source,
        event_id=event.id,
        field=location,
        stage=Stage.VALIDATE,
        hint="the mapper must produce schema-valid output; fix the mapper and redrive",
    )
