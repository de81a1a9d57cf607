"""One exception hierarchy, split by what the pipeline does with the error.

* :class:`RetriableError` -- try again (backoff inside the invocation, then hand the
  message back to SQS as a batch item failure).
* :class:`PermanentError` -- the event can never succeed as it is: park the original
  message in the dead-letter queue with the reason attached, and acknowledge it.
* :class:`ConfigurationError` -- nothing will succeed until an operator acts: fail
  every record that has not been delivered and say so loudly, once.

Every error carries the context an operator needs: the stage, the EventBridge source,
the event id and the field, and a hint on what to do.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """Where in the pipeline an event was when it failed."""

    INTAKE = "intake"
    DISPATCH = "dispatch"
    MAP = "map"
    VALIDATE = "validate"
    SEND = "send"
    PARK = "park"


class AuditBridgeError(Exception):
    """Base of every error the framework raises on purpose."""

    #: Short machine-readable code, e.g. ``UnknownSource`` or ``FieldTooLong``.
    default_code = "AuditBridgeError"
    default_stage: Stage = Stage.MAP

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        stage: Stage | None = None,
        source: str | None = None,
        event_id: str | None = None,
        field: str | None = None,
        hint: str | None = None,
        destination: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.stage = stage or self.default_stage
        self.source = source
        self.event_id = event_id
        self.field = field
        self.hint = hint
        #: The destination address that answered with this error, when one did.
        self.destination = destination

    def with_context(
        self, *, source: str | None = None, event_id: str | None = None, destination: str | None = None
    ) -> AuditBridgeError:
        """Fill in the event's identity (and the destination) where the raiser did not know them."""
        if self.source is None:
            self.source = source
        if self.event_id is None:
            self.event_id = event_id
        if self.destination is None:
            self.destination = destination
        return self

    def describe(self) -> str:
        """One line: what failed, for which event, and what to do."""
        where = [f"stage={self.stage.value}"]
        if self.source:
            where.append(f"source={self.source}")
        if self.event_id:
            where.append(f"id={self.event_id}")
        if self.field:
            where.append(f"field={self.field}")
        if self.destination:
            where.append(f"destination={self.destination}")
        text = f"{self.code}: {self.message} ({', '.join(where)})"
        if self.hint:
            text += f"; {self.hint}"
        return text

    def __str__(self) -> str:
        return self.describe()


class RetriableError(AuditBridgeError):
    """A transient failure (throttling, 5xx, network): the same request may succeed later."""

    default_code = "Retriable"
    default_stage = Stage.SEND


class PermanentError(AuditBridgeError):
    """The event will never succeed as it is; it is parked with this reason."""

    default_code = "Permanent"


class MalformedMessageError(PermanentError):
    """The SQS body is not a usable EventBridge event (bad JSON, missing envelope fields)."""

    default_code = "MalformedMessage"
    default_stage = Stage.INTAKE


class UnknownSourceError(PermanentError):
    """No installed mapper claims the event's EventBridge ``source``."""

    default_code = "UnknownSource"
    default_stage = Stage.DISPATCH


class MappingError(PermanentError):
    """A mapper cannot turn this event into a CloudTrail Lake event.

    Mapper authors raise this (or a subclass) for input they reject; pass ``field``
    with the path of the offending input field.
    """

    default_code = "MappingFailed"
    default_stage = Stage.MAP


class SchemaViolation(PermanentError):
    """The mapped event breaks the CloudTrail Lake integration schema or one of its limits."""

    default_code = "SchemaViolation"
    default_stage = Stage.VALIDATE


class RejectedByDestination(PermanentError):
    """The destination refused the entry for a reason that will not change on retry."""

    default_code = "InvalidData"
    default_stage = Stage.SEND


class ConfigurationError(AuditBridgeError):
    """Nothing can succeed until an operator fixes configuration (channel, permissions, plugins)."""

    default_code = "ConfigurationError"
    default_stage = Stage.SEND


class PluginConflictError(ConfigurationError):
    """Two plugins claim the same thing (a source pattern, a mapper or sink name)."""

    default_code = "PluginConflict"
    default_stage = Stage.DISPATCH


class InternalError(PermanentError):
    """Last resort: something unexpected went wrong with one record (a bug, ours or a plugin's).

    The record is parked with the exception's type and where it was raised, so the rest of
    the batch proceeds; the bug still shows in logs and in the ``Parked`` metric by code.
    """

    default_code = "InternalError"


def internal_error(exc: BaseException, stage: Stage, *, source: str | None = None) -> InternalError:
    """An :class:`InternalError` naming the exception type and the innermost frame it came from.

    The exception's own text is left out: it may quote the record (personal data).
    """
    return InternalError(
        f"unexpected {type(exc).__name__}{raised_at(exc)}",
        stage=stage,
        source=source,
        hint="this is a bug in auditbridge or a plugin; report it with the parked message, "
        "then redrive the dead-letter queue after upgrading",
    )


def raised_at(exc: BaseException, within: str | None = None) -> str:
    """`` at file:line`` of the innermost frame of ``exc``'s traceback, or nothing.

    With ``within`` (a folder), the innermost frame inside it wins: the plugin's own line
    rather than the library it called.
    """
    tb = exc.__traceback__
    innermost = preferred = None
    while tb is not None:
        innermost = tb
        if within is not None and tb.tb_frame.f_code.co_filename.startswith(within):
            preferred = tb
        tb = tb.tb_next
    chosen = preferred or innermost
    return "" if chosen is None else f" at {chosen.tb_frame.f_code.co_filename}:{chosen.tb_lineno}"
