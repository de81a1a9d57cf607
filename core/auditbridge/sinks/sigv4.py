"""AWS Signature Version 4 for one kind of request: a JSON POST to a fixed URL.

botocore's ``SigV4Auth`` signs any request, and importing it (with ``botocore.credentials``)
is most of a cold start's first PutAuditEvents call. This signs what the direct sender sends,
with the same algorithm (``tests/test_sigv4.py`` checks the headers against ``SigV4Auth``'s,
byte for byte), from credentials in the environment, as Lambda gives them. Anything else --
credentials that refresh, profiles, containers -- goes through botocore's provider chain.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit


class Credentials(Protocol):
    @property
    def access_key(self) -> str: ...
    @property
    def secret_key(self) -> str: ...
    @property
    def token(self) -> str | None: ...


class StaticCredentials(NamedTuple):
    access_key: str
    secret_key: str
    token: str | None = None


class CredentialSource:
    """The credentials to sign with: the environment's when complete and static, else botocore's chain."""

    def __init__(self) -> None:
        self._chain: Any = None
        self._static: StaticCredentials | None = None
        key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        # With an expiry, botocore's environment provider refreshes them: leave those to it.
        if key and secret and not os.environ.get("AWS_CREDENTIAL_EXPIRATION"):
            self._static = StaticCredentials(key, secret, os.environ.get("AWS_SESSION_TOKEN") or None)

    def current(self) -> Credentials | None:
        if self._static is not None:
            return self._static
        if self._chain is None:
            import botocore.session

            self._chain = botocore.session.get_session().get_credentials()
            if self._chain is None:
                return None
        frozen: Credentials = self._chain.get_frozen_credentials()  # refreshed when they near expiry
        return frozen


class Signer:
    """Signs JSON POSTs to ``url`` for ``service`` in ``region``."""

    def __init__(self, url: str, service: str, region: str) -> None:
        parts = urlsplit(url)
        self.service, self.region = service, region
        default_port = {"https": 443, "http": 80}.get(parts.scheme)
        self.host = (parts.hostname or "") if parts.port in (None, default_port) else parts.netloc
        self.path = parts.path or "/"
        # The query is already percent-encoded by the sender (RFC 3986, as SigV4 wants).
        self.query = "&".join(sorted(parts.query.split("&"))) if parts.query else ""
        self._keys: dict[tuple[str, str], bytes] = {}

    def headers(self, body: bytes, credentials: Credentials, now: datetime | None = None) -> dict[str, str]:
        """The request's headers, Authorization included."""
        moment = now or datetime.now(UTC)
        stamp = moment.strftime("%Y%m%dT%H%M%SZ")
        day = stamp[:8]
        headers = {"Content-Type": "application/json", "Host": self.host, "X-Amz-Date": stamp}
        if credentials.token:
            headers["X-Amz-Security-Token"] = credentials.token
        signed = sorted((name.lower(), value.strip()) for name, value in headers.items())
        signed_names = ";".join(name for name, _ in signed)
        canonical = "\n".join(
            (
                "POST",
                self.path,
                self.query,
                "".join(f"{name}:{value}\n" for name, value in signed),
                signed_names,
                hashlib.sha256(body).hexdigest(),
            )
        )
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self._key(credentials.secret_key, day), to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )
        return headers

    def _key(self, secret: str, day: str) -> bytes:
        cached = self._keys.get((secret, day))
        if cached is None:
            key = ("AWS4" + secret).encode()
            for part in (day, self.region, self.service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {(secret, day): key}  # one day's key at a time
            cached = key
        return cached
