"""OAuth 2.0 for an Okta service app: client credentials with a private-key JWT, scope ``okta.logs.read``.

Okta recommends this over API tokens. The client assertion is a JWT signed with RS256 by the
app's private key (``iss`` and ``sub`` the client id, ``aud`` the token endpoint, five minutes
of validity, a fresh ``jti``), exchanged at ``{org}/oauth2/v1/token`` for an access token that
is cached until a minute before it expires. Signing needs ``cryptography``:
``pip install 'auditbridge-okta[oauth]'``. DPoP-bound tokens are not supported.
"""

from __future__ import annotations

import base64
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from auditbridge.errors import ConfigurationError, RetriableError, Stage

SCOPE = "okta.logs.read"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def client_assertion(client_id: str, audience: str, private_key_pem: str, key_id: str | None, now: float) -> str:
    """A signed RS256 JWT asserting the client, for the token endpoint ``audience``."""
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:
        raise ConfigurationError(
            "OAuth needs the cryptography package", code="MissingExtra", hint="pip install 'auditbridge-okta[oauth]'"
        ) from None
    try:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigurationError(
            "the OAuth private key is not an unencrypted PEM key", code="InvalidOAuthKey"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError("the OAuth private key must be an RSA key (RS256)", code="InvalidOAuthKey")
    header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"}
    if key_id:
        header["kid"] = key_id
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": int(now),
        "exp": int(now) + 300,
        "jti": str(uuid.uuid4()),
    }
    signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}".encode()
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{_b64(signature)}"


@dataclass
class OAuthToken:
    """Access tokens for one service app, fetched when needed and cached until near expiry."""

    org: str
    client_id: str
    private_key: Callable[[], str]
    key_id: str | None = None
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def authorization(self) -> str:
        with self._lock:
            if self._token is None or self.clock() > self._expires - 60:
                self._token, lifetime = self._fetch()
                self._expires = self.clock() + lifetime
            return f"Bearer {self._token}"

    def _fetch(self) -> tuple[str, float]:
        endpoint = f"{self.org}/oauth2/v1/token"
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "scope": SCOPE,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": client_assertion(
                    self.client_id, endpoint, self.private_key(), self.key_id, self.clock()
                ),
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - the org's URL, checked by org_url
            endpoint,
            data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                answer = orjson.loads(response.read(1_048_576))
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
            if status >= 500:
                raise RetriableError(f"the Okta token endpoint answered HTTP {status}", stage=Stage.INTAKE) from None
            raise ConfigurationError(
                f"Okta refused the client credentials (HTTP {status})",
                code="OktaUnauthorized",
                hint=f"check the client id, its public key in Okta, and that the app is granted {SCOPE}",
            ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, orjson.JSONDecodeError) as exc:
            raise RetriableError(
                f"the Okta token endpoint did not answer ({type(exc).__name__})", stage=Stage.INTAKE
            ) from None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise RetriableError("the Okta token endpoint answered without an access_token", stage=Stage.INTAKE)
        lifetime = answer.get("expires_in", 3600)
        return token, float(lifetime) if isinstance(lifetime, int | float) else 3600.0
