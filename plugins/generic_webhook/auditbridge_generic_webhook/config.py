"""The sources file: how each webhook source is verified, split and mapped. Validated on load.

```yaml
sources:
  github:                       # POST /github, EventBridge source webhook.github
    preset: github              # start from a shipped preset (optional)
    verification:
      scheme: github
      secret: env:GITHUB_WEBHOOK_SECRET      # or ssm:/path, secretsmanager:name
  acme:
    verification: {scheme: hmac, header: X-Acme-Signature, prefix: "sha256=", secret: env:ACME_SECRET}
    split: payload.events       # a batched delivery becomes one event per item
    mapping:
      id: payload.id
      eventName: payload.action
      eventTime: {path: payload.ts, time: epoch_millis}
      userIdentity: {type: {const: AcmeUser}, principalId: [payload.actor.id, payload.actor.email]}
```

A field is a JMESPath expression over ``{"payload", "headers", "receivedAt"}``, a list of
expressions (the first non-null wins), or an object with ``path``, ``const``, ``default`` and,
for times, ``time`` (``iso``, ``epoch_seconds``, ``epoch_millis`` or ``auto``).
"""

from __future__ import annotations

import os
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import jmespath
import yaml
from auditbridge.errors import ConfigurationError
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_ENV = "AUDITBRIDGE_WEBHOOK_CONFIG"
SOURCE_PREFIX = "webhook."
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_SECRET_RE = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|ssm:/[\w./-]+|secretsmanager:[\w/+=.@:-]+)$")
Scheme = Literal["github", "stripe", "slack", "pagerduty", "zoom", "okta_event_hook", "hmac", "shared_secret"]
TimeFormat = Literal["iso", "epoch_seconds", "epoch_millis", "auto"]


def _compile(expression: str) -> Any:
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ValueError(f"invalid JMESPath expression {expression!r}: {str(exc).splitlines()[0]}") from None


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldSpec(_Model):
    """How one eventData field is derived."""

    paths: tuple[str, ...] = ()
    const: str | None = None
    default: str | None = None
    time: TimeFormat | None = None

    @field_validator("paths")
    @classmethod
    def _valid_paths(cls, paths: tuple[str, ...]) -> tuple[str, ...]:
        for path in paths:
            _compile(path)
        return paths

    @model_validator(mode="after")
    def _something(self) -> FieldSpec:
        if not self.paths and self.const is None and self.default is None:
            raise ValueError("needs a path, a const or a default")
        return self

    def compiled(self) -> list[Any]:
        return [_cached_compile(path) for path in self.paths]


def _field(value: Any) -> Any:
    if isinstance(value, str):
        return {"paths": (value,)}
    if isinstance(value, list):
        return {"paths": tuple(value)}
    if isinstance(value, dict) and "path" in value:
        value = dict(value)
        path = value.pop("path")
        value["paths"] = (path,) if isinstance(path, str) else tuple(path)
    return value


Field_ = Annotated[FieldSpec, BeforeValidator(_field)]


class UserIdentitySpec(_Model):
    type: Field_ = FieldSpec(const="Unknown")
    principalId: Field_ = FieldSpec(const="unknown")
    details: dict[str, Field_] = Field(default_factory=dict)


class MappingSpec(_Model):
    id: Field_ | None = None
    eventName: Field_
    eventTime: Field_ = FieldSpec(paths=("receivedAt",), time="iso")
    eventSource: Field_ | None = None
    version: Field_ = FieldSpec(const="1")
    userIdentity: UserIdentitySpec = UserIdentitySpec()
    userAgent: Field_ | None = None
    sourceIPAddress: Field_ | None = None
    errorCode: Field_ | None = None
    errorMessage: Field_ | None = None
    requestParameters: dict[str, Field_] = Field(default_factory=dict)
    responseElements: dict[str, Field_] = Field(default_factory=dict)
    #: The payload itself by default, trimmed to 28 kB if needed; set to a path to narrow it.
    additionalEventData: str | None = "payload"

    @field_validator("additionalEventData")
    @classmethod
    def _valid_path(cls, value: str | None) -> str | None:
        if value is not None:
            _compile(value)
        return value


class VerificationSpec(_Model):
    scheme: Scheme
    secret: str | None = None
    #: hmac / shared_secret: the header carrying the signature or the secret.
    header: str | None = None
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = ""
    #: hmac: what is signed; ``{body}`` and ``{timestamp}`` are replaced.
    signed: str = "{body}"
    timestamp_header: str | None = None
    tolerance_seconds: int = Field(default=300, ge=1, le=3600)

    @field_validator("secret")
    @classmethod
    def _secret_reference(cls, value: str | None) -> str | None:
        if value is not None and not _SECRET_RE.match(value):
            raise ValueError("must be env:NAME, ssm:/parameter/name or secretsmanager:secret-name (never the secret)")
        return value

    @model_validator(mode="after")
    def _complete(self) -> VerificationSpec:
        if self.secret is None:
            raise ValueError(f"scheme {self.scheme} needs a secret reference")
        if self.scheme == "hmac" and not self.header:
            raise ValueError("scheme hmac needs the signature header")
        if "{timestamp}" in self.signed and not self.timestamp_header:
            raise ValueError("signing {timestamp} needs timestamp_header")
        if "{body}" not in self.signed:
            raise ValueError("signed must include {body}")
        return self


class SourceSpec(_Model):
    name: str
    description: str = ""
    verification: VerificationSpec | None = None
    #: JMESPath over the request body giving the list of items; None: auto (array, JSON lines, object).
    split: str | None = None
    forward_headers: tuple[str, ...] = ()
    max_body_bytes: int = Field(default=1_048_576, ge=1, le=6_291_456)
    content_types: tuple[str, ...] = ("application/json",)
    mapping: MappingSpec

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("must be lower-case letters, digits, '-' or '_', starting with a letter or digit")
        return value

    @field_validator("split")
    @classmethod
    def _valid_split(cls, value: str | None) -> str | None:
        if value is not None:
            _compile(value)
        return value

    @field_validator("forward_headers")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        secret_like = {
            "authorization",
            "x-hub-signature",
            "x-hub-signature-256",
            "stripe-signature",
            "x-slack-signature",
            "x-pagerduty-signature",
            "x-zm-signature",
            "cookie",
        }
        lowered = tuple(h.lower() for h in value)
        leaked = sorted(set(lowered) & secret_like)
        if leaked:
            raise ValueError(f"must not forward credentials or signatures: {', '.join(leaked)}")
        return lowered

    @property
    def event_source(self) -> str:
        return SOURCE_PREFIX + self.name


class WebhookConfig(_Model):
    sources: dict[str, SourceSpec]

    def source(self, name: str) -> SourceSpec | None:
        return self.sources.get(name)


@cache
def _cached_compile(expression: str) -> Any:
    return jmespath.compile(expression)


def preset_names() -> list[str]:
    folder = resources.files("auditbridge_generic_webhook") / "presets"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


@cache
def _preset_document(name: str) -> dict[str, Any]:
    path = resources.files("auditbridge_generic_webhook") / "presets" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigurationError(
            f"no preset {name!r}; presets: {', '.join(preset_names())}", code="InvalidWebhookConfig"
        )
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    return document


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "verification":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_config(document: Any, origin: str = "the webhook config") -> WebhookConfig:
    """Validate a sources document; errors name the source, the field and the problem."""
    if not isinstance(document, dict) or not isinstance(document.get("sources"), dict):
        raise ConfigurationError(f"{origin} must be a mapping with a 'sources' mapping", code="InvalidWebhookConfig")
    sources: dict[str, SourceSpec] = {}
    for name, raw in document["sources"].items():
        if not isinstance(raw, dict):
            raise ConfigurationError(f"{origin}: source {name!r} must be a mapping", code="InvalidWebhookConfig")
        body = dict(raw)
        preset = body.pop("preset", None)
        if preset is not None:
            preset_body = {k: v for k, v in _preset_document(str(preset)).items() if k != "name"}
            body = _merge(preset_body, body)
        try:
            sources[name] = SourceSpec.model_validate({**body, "name": name})
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            location = ".".join(str(part) for part in error["loc"]) or "(source)"
            raise ConfigurationError(
                f"{origin}: source {name!r}, field {location}: {error['msg'].removeprefix('Value error, ')}",
                code="InvalidWebhookConfig",
                field=location,
            ) from None
    return WebhookConfig(sources=sources)


def load_config(reference: str) -> WebhookConfig:
    """From a file path (YAML or JSON) or ``ssm:/parameter/name``."""
    if reference.startswith("ssm:"):
        from auditbridge_generic_webhook.secrets import read_ssm_parameter

        text, origin = read_ssm_parameter(reference.removeprefix("ssm:")), reference
    else:
        path = Path(reference)
        try:
            text, origin = path.read_text(), str(path)
        except OSError as exc:
            raise ConfigurationError(f"cannot read {path}: {exc.strerror}", code="InvalidWebhookConfig") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{origin} is not valid YAML or JSON: {exc}", code="InvalidWebhookConfig") from None
    return parse_config(document, origin)


def presets_config() -> WebhookConfig:
    """Every shipped preset as a source of the same name, without verification (mapping only)."""
    document = {"sources": {name: {"preset": name, "verification": None} for name in preset_names()}}
    return parse_config(document, "the shipped presets")


@cache
def active_config() -> WebhookConfig:
    """``AUDITBRIDGE_WEBHOOK_CONFIG`` merged over the presets; loaded once per process."""
    presets = presets_config()
    reference = os.environ.get(CONFIG_ENV, "").strip()
    if not reference:
        return presets
    configured = load_config(reference)
    return WebhookConfig(sources={**presets.sources, **configured.sources})
