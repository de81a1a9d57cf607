"""Okta System Log LogEvent -> CloudTrail Lake eventData.

The field mapping (see ``docs/okta.md``):

==========================  ==========================================================
eventData                   LogEvent
==========================  ==========================================================
eventSource                 ``okta.system-log-events`` (configurable)
eventName                   ``eventType``
UID, entry id               ``uuid``
eventTime                   ``published`` in UTC to the second; EventBridge ``time`` if absent
version                     ``version`` as a string (``"0"`` if absent)
userIdentity.type           ``actor.type`` (``Unknown`` if absent)
userIdentity.principalId    ``actor.id``, else ``actor.alternateId``, else ``unknown``
userIdentity.details        ``alternateId``, ``displayName`` (strings), ``detailEntry`` as JSON
userAgent                   ``client.userAgent.rawUserAgent``
sourceIPAddress             ``client.ipAddress`` when it is a real IP address
errorCode / errorMessage    ``outcome.result`` / ``outcome.reason`` unless SUCCESS or ALLOW
responseElements            ``result`` and ``reason`` of ``outcome``
requestParameters           targets, flat: ``target.<n>.id|type|alternateId|displayName|detailEntry``
recipientAccountId          the channel's account
additionalEventData         every other LogEvent member, trimmed to 28 kB if needed
==========================  ==========================================================
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from auditbridge import EventBridgeEvent, EventData, MappingContext, MappingError, UserIdentity
from auditbridge.fitting import clip, fit_object
from auditbridge.models import ADDITIONAL_EVENT_DATA_MAX_BYTES, REQUEST_PARAMETERS_MAX_BYTES, normalize_ip_address
from auditbridge.timestamps import to_event_time

DEFAULT_EVENT_SOURCE: Final = "okta.system-log-events"
OKTA_SOURCES: Final = ("aws.partner/okta.com/*",)

#: Outcomes that are not errors.
SUCCESS_RESULTS: Final = frozenset({"SUCCESS", "ALLOW"})
#: LogEvent members mapped to their own eventData fields; the rest go to additionalEventData.
MAPPED_MEMBERS: Final = frozenset({"uuid", "published", "eventType", "version", "actor", "outcome", "target"})
#: What goes first when additionalEventData is over 28 kB: least useful for an audit first.
TRIM_ORDER: Final = (
    "debugContext.debugData.*",
    "request.ipChain",
    "securityContext",
    "client.geographicalContext",
    "authenticationContext",
    "transaction.detail",
    "device",
)
TARGET_MEMBERS: Final = ("id", "type", "alternateId", "displayName")
#: ``outcome.result`` and ``outcome.reason`` are short in practice; a longer one is clipped.
OUTCOME_MAX_CHARS: Final = 8_192


def map_log_event(
    event: EventBridgeEvent, context: MappingContext, *, event_source: str = DEFAULT_EVENT_SOURCE
) -> EventData:
    log_event = event.detail
    uuid = log_event.get("uuid")
    if not isinstance(uuid, str) or not uuid:
        raise MappingError("the LogEvent has no 'uuid' string", code="MissingField", field="uuid")
    event_type = log_event.get("eventType")
    if not isinstance(event_type, str) or not event_type:
        raise MappingError(
            "the LogEvent has no 'eventType' string", code="MissingField", field="eventType", event_id=uuid
        )
    client = _object(log_event, "client", uuid)
    outcome = _object(log_event, "outcome", uuid)
    result = _text(outcome.get("result"))
    reason = _text(outcome.get("reason"))
    failed = result is not None and result.upper() not in SUCCESS_RESULTS

    return EventData.build(
        version=_version(log_event.get("version")),
        userIdentity=_user_identity(log_event.get("actor"), uuid),
        userAgent=_user_agent(client),
        eventSource=event_source,
        eventName=clip(event_type, 1024),
        eventTime=_event_time(log_event.get("published"), event, uuid),
        UID=uuid,
        requestParameters=_targets(log_event.get("target"), uuid),
        responseElements=_outcome(result, reason),
        errorCode=clip(result, 256) if failed and result else None,
        errorMessage=clip(reason, 256) if failed and reason else None,
        sourceIPAddress=normalize_ip_address(client.get("ipAddress")),
        recipientAccountId=context.recipient_account_id,
        additionalEventData=_additional(log_event),
    )


def _object(log_event: dict[str, Any], name: str, uuid: str) -> dict[str, Any]:
    value = log_event.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingError(
            f"'{name}' must be a JSON object or null, got {type(value).__name__}",
            code="InvalidField",
            field=name,
            event_id=uuid,
        )
    return value


def _text(value: Any) -> str | None:
    """A non-empty string, or None for null, empty and the literal string 'null'."""
    if isinstance(value, str):
        return value if value and value != "null" else None
    if isinstance(value, bool) or value is None:
        return None if value is None else str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return None


def _version(value: Any) -> str:
    text = _text(value)
    return clip(text, 256) if text is not None else "0"


def _user_identity(actor: Any, uuid: str) -> UserIdentity:
    if actor is None:
        # Documented fallback: some system events carry no actor at all.
        return UserIdentity.build(type="Unknown", principalId="unknown")
    if not isinstance(actor, dict):
        raise MappingError(
            f"'actor' must be a JSON object or null, got {type(actor).__name__}",
            code="InvalidField",
            field="actor",
            event_id=uuid,
        )
    alternate_id = _text(actor.get("alternateId"))
    display_name = _text(actor.get("displayName"))
    details: dict[str, Any] = {}
    if alternate_id:
        details["alternateId"] = clip(alternate_id, 1024)
    if display_name:
        details["displayName"] = clip(display_name, 1024)
    detail_entry = actor.get("detailEntry")
    if detail_entry not in (None, {}):
        details["detailEntry"] = clip(orjson.dumps(detail_entry, option=orjson.OPT_SORT_KEYS).decode(), 4096)
    principal = _text(actor.get("id")) or alternate_id or display_name or "unknown"
    return UserIdentity.build(
        type=clip(_text(actor.get("type")) or "Unknown", 128),
        principalId=clip(principal, 1024),
        details=details or None,
    )


def _user_agent(client: dict[str, Any]) -> str | None:
    user_agent = client.get("userAgent")
    if not isinstance(user_agent, dict):
        return None
    raw = _text(user_agent.get("rawUserAgent"))
    return clip(raw, 1024) if raw else None


def _event_time(published: Any, event: EventBridgeEvent, uuid: str) -> str:
    if published is None or published == "":
        if event.time is None:
            raise MappingError(
                "the LogEvent has no 'published' time and the EventBridge event no 'time'",
                code="MissingField",
                field="published",
                event_id=uuid,
            )
        try:
            return to_event_time(event.time, field="time")
        except MappingError as exc:
            raise exc.with_context(event_id=uuid) from None
    if not isinstance(published, str):
        raise MappingError(
            f"'published' must be an ISO 8601 string, got {type(published).__name__}",
            code="InvalidTimestamp",
            field="published",
            event_id=uuid,
        )
    try:
        return to_event_time(published, field="published")
    except MappingError as exc:
        raise exc.with_context(event_id=uuid) from None


def _targets(targets: Any, uuid: str) -> dict[str, Any] | None:
    if targets is None or targets == []:
        return None
    if isinstance(targets, dict):
        targets = [targets]
    if not isinstance(targets, list):
        raise MappingError(
            f"'target' must be a JSON array or null, got {type(targets).__name__}",
            code="InvalidField",
            field="target",
            event_id=uuid,
        )
    flat: dict[str, Any] = {"targetCount": str(len(targets))}
    for index, target in enumerate(targets):
        if not isinstance(target, dict):
            continue
        for member in TARGET_MEMBERS:
            text = _text(target.get(member))
            if text is not None:
                flat[f"target.{index}.{member}"] = text
        detail_entry = target.get("detailEntry")
        if detail_entry not in (None, {}):
            flat[f"target.{index}.detailEntry"] = orjson.dumps(detail_entry, option=orjson.OPT_SORT_KEYS).decode()
    return fit_object(flat, REQUEST_PARAMETERS_MAX_BYTES)


def _additional(log_event: dict[str, Any]) -> dict[str, Any] | None:
    rest = {key: value for key, value in log_event.items() if key not in MAPPED_MEMBERS and value is not None}
    if not rest:
        return None
    return fit_object(rest, ADDITIONAL_EVENT_DATA_MAX_BYTES, TRIM_ORDER)


def _outcome(result: str | None, reason: str | None) -> dict[str, Any] | None:
    outcome: dict[str, Any] = {}
    if result:
        outcome["result"] = clip(result, OUTCOME_MAX_CHARS)
    if reason:
        outcome["reason"] = clip(reason, OUTCOME_MAX_CHARS)
    return outcome or None
