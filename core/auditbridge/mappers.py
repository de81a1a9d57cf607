"""What a mapper is: a name, the EventBridge sources it claims, and a mapping function.

A mapper turns one EventBridge event into one CloudTrail Lake :class:`EventData`, or
raises an :class:`~auditbridge.errors.AuditBridgeError` subclass saying why it cannot
(usually :class:`~auditbridge.errors.MappingError`). Anything else it raises is caught
and classified as a permanent ``MapperFailed`` rejection.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from auditbridge.envelope import EventBridgeEvent
from auditbridge.models import ENTRY_ID_PATTERN, EventData

_ENTRY_ID_RE = re.compile(ENTRY_ID_PATTERN)
_SOURCE_PATTERN_RE = re.compile(r"^[^*\s]+\*?$")


@dataclass(frozen=True, slots=True)
class MappingContext:
    """What a mapper needs to know about the destination."""

    #: The 12-digit account that owns the channel; every eventData must carry it.
    recipient_account_id: str
    channel_arn: str | None = None


MapFunction = Callable[[EventBridgeEvent, MappingContext], EventData]


@dataclass(frozen=True, slots=True)
class Mapper:
    """A mapper plugin's registration.

    ``sources`` are exact EventBridge ``source`` values or ``prefix*`` patterns, such as
    ``aws.partner/okta.com/*``.
    """

    name: str
    sources: tuple[str, ...]
    map_event: MapFunction
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("-", "_").isidentifier():
            raise ValueError(f"mapper name {self.name!r} must be a short identifier such as 'okta'")
        sources: object = self.sources
        if not isinstance(sources, tuple) or not sources:
            raise ValueError(f"mapper {self.name!r}: sources must be a non-empty tuple of names or patterns")
        for pattern in self.sources:
            if not isinstance(pattern, str) or not _SOURCE_PATTERN_RE.match(pattern):
                raise ValueError(
                    f"mapper {self.name!r}: source {pattern!r} must be an exact name or end in a single '*'"
                )


def entry_id_for(uid: str) -> str:
    """The PutAuditEvents entry ``id`` for an event whose source id is ``uid``.

    The source's own id when the service accepts it as is; otherwise a stable digest of it,
    so that a re-delivered event always gets the same id (and never a random one).
    """
    if len(uid) <= 128 and _ENTRY_ID_RE.fullmatch(uid):
        return uid
    return "sha256-" + hashlib.sha256(uid.encode("utf-8")).hexdigest()
