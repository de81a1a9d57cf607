"""A loopback fake of the Okta System Log API, written from its reference, for tests and benchmarks.

``GET /api/v1/logs`` with ``since``, ``until``, ``limit`` (default 100, at most 1,000), ``after``
and ``sortOrder``; a ``Link: <...>; rel="next"`` header (always when polling, while events remain
when bounded); ``X-Rate-Limit-Limit``, ``-Remaining`` and ``-Reset`` on every response from a
per-window budget on the fake's clock, and ``429`` once it is spent; ``Authorization: SSWS
<token>`` checked. Faults on demand: ``500``, a dropped connection, a page that is not JSON, a
page that is not an array. Time is the caller's clock, so tests measure waits without sleeping.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson
from auditbridge.loopback import BackgroundServer, LoopbackServer, Reply, Request, json_reply


@dataclass
class FakeSystemLog:
    token: str = "fake-token"  # noqa: S105 - a fake's test credential
    #: Requests allowed per rate-limit window, and the window's length in seconds.
    rate_limit: int = 1_000_000
    window_seconds: float = 60.0
    clock: Callable[[], float] = time.time
    #: Real seconds each page takes to serve (to interrupt a run mid-way in tests).
    delay: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    #: (clock time, status) of every request.
    requests: list[tuple[float, int]] = field(default_factory=list)
    #: OAuth service apps: client id -> (public key PEM, granted scopes); access token -> scopes.
    clients: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    access_tokens: dict[str, frozenset[str]] = field(default_factory=dict)
    _window_start: float = 0.0
    _used: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            self.events.extend(events)
            self.events.sort(key=lambda event: (str(event.get("published")), str(event.get("uuid"))))

    def fail_next(self, *kinds: str) -> None:
        """Queue faults for the next requests: ``500``, ``drop``, ``malformed``, ``not-array``."""
        with self._lock:
            self.faults.extend(kinds)

    def register_client(self, client_id: str, public_key_pem: str, scopes: frozenset[str]) -> None:
        self.clients[client_id] = (public_key_pem, scopes)

    def __call__(self, request: Request) -> Reply:
        if request.path == "/oauth2/v1/token" and request.method == "POST":
            return self._token(request)
        if request.path != "/api/v1/logs" or request.method != "GET":
            return json_reply(404, {"errorCode": "E0000022", "errorSummary": "The endpoint does not exist."})
        authorization = request.headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            scopes = self.access_tokens.get(authorization.removeprefix("Bearer "))
            if scopes is None:
                return self._answer(401, {"errorCode": "E0000011", "errorSummary": "Invalid token provided"})
            if "okta.logs.read" not in scopes:
                return self._answer(403, {"errorCode": "E0000006", "errorSummary": "You do not have permission"})
        elif authorization != f"SSWS {self.token}":
            return self._answer(401, {"errorCode": "E0000011", "errorSummary": "Invalid token provided"})
        with self._lock:
            fault = self.faults.pop(0) if self.faults else None
        if self.delay:
            time.sleep(self.delay)
        now = self.clock()
        headers = self._rate(now)
        if headers is None:
            return self._answer(429, {"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit"}, now)
        if fault == "500":
            return self._answer(500, {"errorCode": "E0000009", "errorSummary": "Internal Server Error"}, now)
        if fault == "drop":
            self.requests.append((now, 0))
            return Reply(0, drop_connection=True)
        query = {k: v[0] for k, v in parse_qs(request.query).items()}
        limit = int(query.get("limit", "100"))
        if not 1 <= limit <= 1000:
            return self._answer(400, {"errorCode": "E0000001", "errorSummary": "limit must be 1-1000"}, now)
        since, until = query.get("since"), query.get("until")
        start = self._decode(query["after"]) if "after" in query else 0
        with self._lock:
            window = [
                e
                for e in self.events
                if (since is None or str(e["published"]) >= since) and (until is None or str(e["published"]) < until)
            ]
        page = window[start : start + limit]
        following = start + len(page)
        if fault == "malformed":
            body: bytes = b'[{"uuid": "trunc'
        elif fault == "not-array":
            body = b'{"errorCode": "E0000000"}'
        else:
            body = orjson.dumps(page)
        if until is None or following < len(window):
            params = {k: v for k, v in query.items() if k != "after"}
            params["after"] = self._encode(following)
            link = f"http://{request.headers.get('host', '127.0.0.1')}/api/v1/logs?{urlencode(params)}"
            headers["Link"] = f'<{link}>; rel="next"'
        self.requests.append((now, 200))
        return Reply(200, body, headers)

    def _token(self, request: Request) -> Reply:
        """Client credentials with a private-key JWT: the signature, claims and scopes checked."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        refused = json_reply(401, {"error": "invalid_client"})
        assertion = form.get("client_assertion", "")
        if form.get("grant_type") != "client_credentials" or assertion.count(".") != 2:
            return json_reply(400, {"error": "invalid_request"})
        header_b64, claims_b64, signature_b64 = assertion.split(".")
        try:
            claims = orjson.loads(base64.urlsafe_b64decode(claims_b64 + "=" * (-len(claims_b64) % 4)))
            signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
        except (ValueError, orjson.JSONDecodeError):
            return refused
        client = self.clients.get(str(claims.get("iss")))
        audience = f"http://{request.headers.get('host', '')}/oauth2/v1/token"
        if client is None or claims.get("sub") != claims.get("iss") or claims.get("aud") != audience:
            return refused
        if not claims.get("exp") or float(claims["exp"]) < self.clock():
            return refused
        key = serialization.load_pem_public_key(client[0].encode())
        assert isinstance(key, rsa.RSAPublicKey)
        try:
            key.verify(signature, f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return refused
        wanted = frozenset(form.get("scope", "").split())
        if not wanted <= client[1]:
            return json_reply(400, {"error": "invalid_scope"})
        token = base64.urlsafe_b64encode(os.urandom(24)).decode()
        self.access_tokens[token] = wanted
        return json_reply(
            200, {"token_type": "Bearer", "access_token": token, "expires_in": 3600, "scope": " ".join(wanted)}
        )

    def _rate(self, now: float) -> dict[str, str] | None:
        with self._lock:
            if now >= self._window_start + self.window_seconds:
                self._window_start, self._used = now, 0
            reset = self._window_start + self.window_seconds
            if self._used >= self.rate_limit:
                return None
            self._used += 1
            return {
                "X-Rate-Limit-Limit": str(self.rate_limit),
                "X-Rate-Limit-Remaining": str(self.rate_limit - self._used),
                "X-Rate-Limit-Reset": str(int(reset)),
            }

    def _answer(self, status: int, body: dict[str, Any], now: float | None = None) -> Reply:
        headers: dict[str, str] = {}
        if now is not None:
            self.requests.append((now, status))
            headers = {
                "X-Rate-Limit-Limit": str(self.rate_limit),
                "X-Rate-Limit-Remaining": "0" if status == 429 else str(max(0, self.rate_limit - self._used)),
                "X-Rate-Limit-Reset": str(int(self._window_start + self.window_seconds)),
            }
        return Reply(status, orjson.dumps(body), headers)

    @staticmethod
    def _encode(index: int) -> str:
        return base64.urlsafe_b64encode(f"cursor:{index}".encode()).decode().rstrip("=")

    @staticmethod
    def _decode(cursor: str) -> int:
        try:
            return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":", 1)[1])
        except (ValueError, IndexError):
            return 0


class FakeOktaServer(BackgroundServer):
    """The fake on loopback: ``with FakeOktaServer(api) as server: server.url``."""

    def __init__(self, api: FakeSystemLog, host: str = "127.0.0.1", port: int = 0) -> None:
        self.api = api
        super().__init__(LoopbackServer((host, port), api, name="fake-okta", methods=("GET", "POST")))


def log_events(count: int, *, start: datetime, step_seconds: float = 1.0, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` LogEvents, ``step_seconds`` apart from ``start`` (synthetic, as samples.py makes them)."""
    from auditbridge_okta.samples import synthetic_log_events

    events = list(synthetic_log_events(count, seed=seed))
    for index, event in enumerate(events):
        moment = datetime.fromtimestamp(start.timestamp() + index * step_seconds, UTC)
        event["published"] = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return events
