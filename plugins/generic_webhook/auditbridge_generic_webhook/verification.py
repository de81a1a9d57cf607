"""Verifying webhook requests, scheme by scheme, over the raw body bytes.

Every comparison is constant-time. A request whose signature was already seen inside the
tolerance window is a replay (see :class:`ReplayCache` for retries after a failed forward).
Failures raise :class:`Unverified`, which the intake answers with a bare 401; the reason is
only logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from auditbridge_generic_webhook.config import VerificationSpec
from auditbridge_generic_webhook.secrets import resolve_secret


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    method: str
    source: str
    #: Header names lower-cased.
    headers: dict[str, str]
    body: bytes
    received_at: float

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Unverified(Exception):
    """The request is not from who it claims; the reason goes to logs only."""


@dataclass(frozen=True, slots=True)
class Handshake:
    """The source is checking the endpoint: answer with this body, forward nothing."""

    body: dict[str, Any]


@dataclass(slots=True)
class Delivery:
    """One verified delivery, by what its signature covers: which of its items were forwarded."""

    expires: float
    forwarded: set[int] = field(default_factory=set)
    done: bool = False
    in_flight: bool = True


class ReplayCache:
    """Deliveries seen recently, per process (a Lambda instance or a server), keyed by signature.

    A delivery is a replay once it was forwarded whole, or while another copy is being
    forwarded. A delivery whose forwarding failed part-way may come again (the sender's
    retry): it is accepted and only the items not yet forwarded go out.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self._seen: OrderedDict[str, Delivery] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def claim(self, key: str, window: float, now: float) -> Delivery:
        with self._lock:
            while self._seen and next(iter(self._seen.values())).expires < now:
                self._seen.popitem(last=False)
            delivery = self._seen.get(key)
            if delivery is not None and (delivery.done or delivery.in_flight):
                raise Unverified("replayed request")
            if delivery is None:
                delivery = self._seen[key] = Delivery(now + window)
                if len(self._seen) > self._max:
                    self._seen.popitem(last=False)
            delivery.in_flight = True
            return delivery

    def settle(self, delivery: Delivery, *, done: bool) -> None:
        with self._lock:
            delivery.done = done
            delivery.in_flight = False


class ReplayClaim:
    """What a scheme's checker sees of the cache: it claims the one key the signature covers."""

    def __init__(self, cache: ReplayCache) -> None:
        self.cache = cache
        self.delivery: Delivery | None = None

    def check_and_remember(self, key: str, window: float, now: float) -> None:
        self.delivery = self.cache.claim(key, window, now)

    def settle(self, *, done: bool) -> None:
        if self.delivery is not None:
            self.cache.settle(self.delivery, done=done)


def verify(request: WebhookRequest, spec: VerificationSpec, replay: ReplayClaim) -> Handshake | None:
    assert spec.secret is not None
    secret = resolve_secret(spec.secret)
    checker = _SCHEMES[spec.scheme]
    return checker(request, spec, secret, replay)


def _hmac(secret: str, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(secret.encode("utf-8"), message, getattr(hashlib, algorithm)).digest()


def _matches(candidates: list[str], expected: str) -> bool:
    # Check every candidate so timing does not reveal which one matched.
    found = False
    for candidate in candidates:
        found |= hmac.compare_digest(candidate.strip().encode(), expected.encode())
    return found


def _timestamp(request: WebhookRequest, value: str | None, spec: VerificationSpec) -> int:
    if value is None or not value.strip().isdigit():
        raise Unverified("missing or malformed timestamp")
    stamp = int(value.strip())
    if stamp > 10**11:  # milliseconds
        stamp //= 1000
    if abs(request.received_at - stamp) > spec.tolerance_seconds:
        raise Unverified("timestamp outside the tolerance window")
    return stamp


def _require(request: WebhookRequest, name: str) -> str:
    value = request.header(name)
    if not value:
        raise Unverified(f"missing {name}")
    return value


def _github(request: WebhookRequest, spec: VerificationSpec, secret: str, replay: ReplayClaim) -> Handshake | None:
    signature = _require(request, "x-hub-signature-256")
    expected = "sha256=" + _hmac(secret, request.body).hex()
    if not _matches([signature], expected):
        raise Unverified("bad X-Hub-Signature-256")
    # Keyed on what the signature covers (the body), not the unsigned X-GitHub-Delivery: a
    # captured body and signature sent again under a new delivery id is still a replay.
    replay.check_and_remember(f"github:{expected}", 24 * 3600, request.received_at)
    return None


def _stripe(request: WebhookRequest, spec: VerificationSpec, secret: str, replay: ReplayClaim) -> Handshake | None:
    header = _require(request, "stripe-signature")
    parts = [item.split("=", 1) for item in header.split(",") if "=" in item]
    timestamps = [value for key, value in parts if key.strip() == "t"]
    signatures = [value for key, value in parts if key.strip() == "v1"]
    if len(timestamps) != 1 or not signatures:
        raise Unverified("malformed Stripe-Signature")
    stamp = _timestamp(request, timestamps[0], spec)
    expected = _hmac(secret, f"{stamp}.".encode() + request.body).hex()
    if not _matches(signatures, expected):
        raise Unverified("no matching v1 signature")
    replay.check_and_remember(f"stripe:{expected}", spec.tolerance_seconds * 2, request.received_at)
    return None


def _check_v0(
    request: WebhookRequest,
    spec: VerificationSpec,
    secret: str,
    replay: ReplayClaim,
    *,
    timestamp_header: str,
    signature_header: str,
) -> None:
    """Slack's and Zoom's shared scheme: ``v0=<hex HMAC-SHA256("v0:{timestamp}:{body}")>``."""
    raw_stamp = _require(request, timestamp_header)
    _timestamp(request, raw_stamp, spec)
    expected = "v0=" + _hmac(secret, f"v0:{raw_stamp.strip()}:".encode() + request.body).hex()
    if not _matches([_require(request, signature_header)], expected):
        raise Unverified(f"bad {signature_header}")
    replay.check_and_remember(f"{signature_header}:{expected}", spec.tolerance_seconds * 2, request.received_at)


def _slack(request: WebhookRequest, spec: VerificationSpec, secret: str, replay: ReplayClaim) -> Handshake | None:
    _check_v0(
        request,
        spec,
        secret,
        replay,
        timestamp_header="x-slack-request-timestamp",
        signature_header="x-slack-signature",
    )
    challenge = _json_field(request.body, "type") == "url_verification" and _json_field(request.body, "challenge")
    return Handshake({"challenge": challenge}) if isinstance(challenge, str) else None


def _pagerduty(request: WebhookRequest, spec: VerificationSpec, secret: str, replay: ReplayClaim) -> Handshake | None:
    signatures = _require(request, "x-pagerduty-signature").split(",")
    expected = "v1=" + _hmac(secret, request.body).hex()
    if not _matches(signatures, expected):
        raise Unverified("no matching X-PagerDuty-Signature")
    replay.check_and_remember(f"pagerduty:{expected}", 24 * 3600, request.received_at)
    return None


def _zoom(request: WebhookRequest, spec: VerificationSpec, secret: str, replay: ReplayClaim) -> Handshake | None:
    _check_v0(
        request, spec, secret, replay, timestamp_header="x-zm-request-timestamp", signature_header="x-zm-signature"
    )
    if _json_field(request.body, "event") == "endpoint.url_validation":
        payload = _json_field(request.body, "payload")
        token = payload.get("plainToken") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise ValueError("endpoint.url_validation without payload.plainToken")
        return Handshake({"plainToken": token, "encryptedToken": _hmac(secret, token.encode()).hex()})
    return None


def _okta(request: WebhookRequest, spec: VerificationSpec, secret: str, replay: ReplayClaim) -> Handshake | None:
    header = spec.header or "authorization"
    if not _matches([_require(request, header)], secret):
        raise Unverified(f"bad {header}")
    if request.method == "GET":
        challenge = request.header("x-okta-verification-challenge")
        if not challenge:
            raise ValueError("GET without x-okta-verification-challenge")
        return Handshake({"verification": challenge})
    return None


def _shared_secret(
    request: WebhookRequest, spec: VerificationSpec, secret: str, replay: ReplayClaim
) -> Handshake | None:
    header = spec.header or "authorization"
    if not _matches([_require(request, header)], secret):
        raise Unverified(f"bad {header}")
    return None


def _generic_hmac(
    request: WebhookRequest, spec: VerificationSpec, secret: str, replay: ReplayClaim
) -> Handshake | None:
    assert spec.header is not None
    stamp = ""
    if spec.timestamp_header:
        stamp = _require(request, spec.timestamp_header).strip()
        _timestamp(request, stamp, spec)
    before, _, after = spec.signed.partition("{body}")
    message = (
        before.replace("{timestamp}", stamp).encode() + request.body + after.replace("{timestamp}", stamp).encode()
    )
    digest = _hmac(secret, message, spec.algorithm)
    encoded = digest.hex() if spec.encoding == "hex" else base64.b64encode(digest).decode()
    candidates = _require(request, spec.header).split(",")
    if not _matches(candidates, spec.prefix + encoded):
        raise Unverified(f"bad {spec.header}")
    window = spec.tolerance_seconds * 2 if spec.timestamp_header else 24 * 3600
    replay.check_and_remember(f"hmac:{encoded}", window, request.received_at)
    return None


def _json_field(body: bytes, name: str) -> Any:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document.get(name) if isinstance(document, dict) else None


_SCHEMES = {
    "github": _github,
    "stripe": _stripe,
    "slack": _slack,
    "pagerduty": _pagerduty,
    "zoom": _zoom,
    "okta_event_hook": _okta,
    "shared_secret": _shared_secret,
    "hmac": _generic_hmac,
}
