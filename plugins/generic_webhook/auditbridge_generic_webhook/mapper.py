"""The generic mapper: eventData from a source's configured JMESPath mapping.

The document the expressions read is the EventBridge ``detail`` the intake built:
``{"payload": <one item>, "headers": {<forwarded headers>}, "receivedAt": "<ISO time>"}``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from auditbridge import EventBridgeEvent, EventData, MappingContext, MappingError, UserIdentity
from auditbridge.fitting import clip, fit_object
from auditbridge.models import (
    ADDITIONAL_EVENT_DATA_MAX_BYTES,
    REQUEST_PARAMETERS_MAX_BYTES,
    RESPONSE_ELEMENTS_MAX_BYTES,
    normalize_ip_address,
)
from auditbridge.timestamps import epoch_to_event_time, to_event_time
from jmespath.exceptions import JMESPathError

from auditbridge_generic_webhook.config import SOURCE_PREFIX, FieldSpec, MappingSpec, _cached_compile, active_config

SOURCES = (SOURCE_PREFIX + "*",)
DETAILS_MAX_BYTES = 16_000


def map_webhook_event(event: EventBridgeEvent, context: MappingContext) -> EventData:
    name = event.source.removeprefix(SOURCE_PREFIX)
    spec = active_config().source(name)
    if spec is None:
        raise MappingError(
            f"no webhook source {name!r} is configured",
            code="UnknownWebhookSource",
            field="source",
            hint="add it to AUDITBRIDGE_WEBHOOK_CONFIG (or use a preset name), then redrive",
        )
    return build_event_data(spec.mapping, event.detail, context, default_source=event.source)


def build_event_data(
    mapping: MappingSpec, document: dict[str, Any], context: MappingContext, *, default_source: str
) -> EventData:
    payload = document.get("payload")
    if not isinstance(payload, dict):
        raise MappingError("the webhook event has no 'payload' object", code="MissingField", field="payload")
    uid = _text(mapping.id, document) if mapping.id else None
    uid = (
        uid
        or "sha256-"
        + hashlib.sha256(
            json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        ).hexdigest()
    )
    event_name = _text(mapping.eventName, document)
    if not event_name:
        raise MappingError(
            "the mapping found no eventName in the payload", code="MissingField", field="eventName", event_id=uid
        )
    identity = mapping.userIdentity
    return EventData(
        version=clip(_text(mapping.version, document) or "1", 256),
        userIdentity=UserIdentity(
            type=clip(_text(identity.type, document) or "Unknown", 128),
            principalId=clip(_text(identity.principalId, document) or "unknown", 1024),
            # userIdentity.details has no limit of its own; keep it well inside one request.
            details=_strings(identity.details, document, DETAILS_MAX_BYTES) or None,
        ),
        userAgent=_clipped(mapping.userAgent, document, 1024),
        eventSource=clip(
            (_text(mapping.eventSource, document) if mapping.eventSource else None) or default_source, 1024
        ),
        eventName=clip(event_name, 1024),
        eventTime=_time(mapping.eventTime, document, uid),
        UID=uid,
        requestParameters=_strings(mapping.requestParameters, document, REQUEST_PARAMETERS_MAX_BYTES),
        responseElements=_strings(mapping.responseElements, document, RESPONSE_ELEMENTS_MAX_BYTES),
        errorCode=_clipped(mapping.errorCode, document, 256),
        errorMessage=_clipped(mapping.errorMessage, document, 256),
        sourceIPAddress=normalize_ip_address(_text(mapping.sourceIPAddress, document))
        if mapping.sourceIPAddress
        else None,
        recipientAccountId=context.recipient_account_id,
        additionalEventData=_additional(mapping.additionalEventData, document),
    )


def _value(spec: FieldSpec, document: dict[str, Any]) -> Any:
    for expression in spec.compiled():
        try:
            value = expression.search(document)
        except JMESPathError:  # a function met the wrong type, e.g. starts_with(42, 'f'): no value
            continue
        if value not in (None, "", [], {}):
            return value
    if spec.const is not None:
        return spec.const
    return spec.default


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _text(spec: FieldSpec | None, document: dict[str, Any]) -> str | None:
    return None if spec is None else _as_text(_value(spec, document))


def _clipped(spec: FieldSpec | None, document: dict[str, Any], limit: int) -> str | None:
    text = _text(spec, document)
    return clip(text, limit) if text else None


def _strings(specs: dict[str, FieldSpec], document: dict[str, Any], limit: int | None) -> dict[str, Any] | None:
    values = {key: _as_text(_value(spec, document)) for key, spec in specs.items()}
    flat = {key: value for key, value in values.items() if value is not None}
    if not flat:
        return None
    return fit_object(flat, limit) if limit else flat


def _time(spec: FieldSpec, document: dict[str, Any], uid: str) -> str:
    value = _value(spec, document)
    if value is None:
        value = document.get("receivedAt")
    if value is None:
        raise MappingError(
            "no event time in the payload and no receivedAt", code="MissingField", field="eventTime", event_id=uid
        )
    form = spec.time or "auto"
    try:
        if isinstance(value, bool):
            raise MappingError("eventTime is a boolean, not a time", code="InvalidTimestamp", field="eventTime")
        if form == "epoch_millis" or (form == "auto" and isinstance(value, int | float) and value > 10**11):
            return epoch_to_event_time(float(value), milliseconds=True)
        if form == "epoch_seconds" or (form == "auto" and isinstance(value, int | float)):
            return epoch_to_event_time(float(value))
        text = str(value)
        if form == "auto" and text.replace(".", "", 1).isdigit():
            number = float(text)
            return epoch_to_event_time(number, milliseconds=number > 10**11)
        return to_event_time(text)
    except (MappingError, ValueError) as exc:
        error = exc if isinstance(exc, MappingError) else MappingError(str(exc), code="InvalidTimestamp")
        error.field = "eventTime"
        raise error.with_context(event_id=uid) from None


def _additional(path: str | None, document: dict[str, Any]) -> dict[str, Any] | None:
    if path is None:
        return None
    value = _cached_compile(path).search(document)
    if value in (None, {}, []):
        return None
    data = value if isinstance(value, dict) else {"value": value}
    return fit_object(data, ADDITIONAL_EVENT_DATA_MAX_BYTES)
