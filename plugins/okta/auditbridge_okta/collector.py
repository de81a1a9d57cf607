"""The Okta System Log API as a pull source: backfill a window, or poll from now on.

``GET {org}/api/v1/logs`` with ``since``, ``until`` (bounded) or none (polling), ``limit`` and
``sortOrder=ASCENDING``; the ``Link`` header's ``rel="next"`` is followed as given (on the org's
own host only), and its ``after`` cursor is the checkpoint. A bounded request ends when there is
no next link; a polling one always has one, and an empty page means: wait, then follow it.

Settings (``--setting key=value``, or the command's options):

* ``org`` -- ``https://<your org>.okta.com`` (``http://127.0.0.1:<port>`` is accepted for local fakes);
* ``token`` -- a secret reference for an API token (``env:OKTA_API_TOKEN`` by default, or
  ``ssm:/name``, ``secretsmanager:name``), sent as ``Authorization: SSWS <token>``;
* or, for an OAuth 2.0 service app (:mod:`auditbridge_okta.oauth`): ``client_id``, ``private_key``
  (a secret reference to its PEM key) and optionally ``key_id``: ``Authorization: Bearer <access token>``;
* ``poll_seconds`` -- the wait after an empty page while polling (default 15);
* ``limit`` -- events per page (default and at most 1,000);
* ``slowdown_below`` -- when ``X-Rate-Limit-Remaining`` falls to this, wait for ``X-Rate-Limit-Reset``
  before the next request (default 2).
"""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson
from auditbridge.collectors import Collector, FetchRequest, Page, RateLimited
from auditbridge.errors import ConfigurationError, PermanentError, RetriableError, Stage
from auditbridge.secrets import resolve_secret

from auditbridge_okta.oauth import OAuthToken

#: The EventBridge source pulled events carry: the Okta mapper claims ``aws.partner/okta.com/*``.
PULL_SOURCE: Final = "aws.partner/okta.com/system-log-api/pull"
MAX_LIMIT: Final = 1000
RETENTION_DAYS: Final = 90
#: A bounded window whose last page was delivered: nothing more to fetch.
COMPLETE: Final = "#complete"
MAX_PAGE_BYTES: Final = 64 * 1024 * 1024
_LINK_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def org_url(text: str) -> str:
    """The org's base URL; https only (plain http on loopback, for local fakes)."""
    parts = urlsplit(text.strip())
    host = parts.hostname or ""
    loopback = parts.scheme == "http" and host in _LOOPBACK
    if (parts.scheme != "https" and not loopback) or not host or parts.path not in ("", "/") or parts.query:
        raise ConfigurationError(
            f"--org {text[:100]!r} is not an Okta org URL",
            code="InvalidArgument",
            hint="give https://<your org>.okta.com, without a path",
        )
    return f"{parts.scheme}://{parts.netloc}"


def check_window(since: datetime | None, until: datetime | None, now: datetime) -> None:
    """Refuse windows Okta cannot serve: backwards, or reaching beyond its 90 days."""
    if since is not None and until is not None and since >= until:
        raise ConfigurationError("--since must be before --until", code="InvalidArgument")
    if since is not None and since < now - timedelta(days=RETENTION_DAYS):
        raise ConfigurationError(
            f"--since is more than {RETENTION_DAYS} days back; Okta keeps the System Log for {RETENTION_DAYS} days",
            code="InvalidArgument",
        )
    if until is not None and until > now + timedelta(minutes=5):
        raise ConfigurationError("--until is in the future; leave it out to poll", code="InvalidArgument")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def fetch(request: FetchRequest) -> Iterator[Page]:
    if request.checkpoint == COMPLETE:
        return
    settings = request.settings
    base = org_url(settings.get("org", ""))
    authorization = _authorization(settings, base, request)
    limit = _int_setting(settings, "limit", MAX_LIMIT, 1, MAX_LIMIT)
    poll_seconds = _int_setting(settings, "poll_seconds", 15, 1, 3600)
    slowdown_below = _int_setting(settings, "slowdown_below", 2, 0, 10_000)
    query: dict[str, Any] = {"limit": limit, "sortOrder": "ASCENDING"}
    if request.since is not None:
        query["since"] = _iso(request.since)
    if request.until is not None:
        query["until"] = _iso(request.until)
    if request.checkpoint:
        query["after"] = request.checkpoint
    url = f"{base}/api/v1/logs?{urlencode(query)}"
    number = 0
    cursor = request.checkpoint
    while True:
        number += 1
        headers, body = _get(url, authorization())
        events = _events(body, number, cursor)
        following = _next_link(headers.get("Link", ""), base)
        if following is not None:
            cursor = parse_qs(urlsplit(following).query).get("after", [cursor])[0]
        pause_until, reason = _rate_pause(headers, slowdown_below, request.now())
        if not events and request.until is None:
            pause_until = max(pause_until or 0.0, request.now() + poll_seconds)
            reason = "polling"
        if following is None:
            yield Page(events, COMPLETE if request.until is not None else cursor, pause_until, reason)
            return
        yield Page(events, cursor, pause_until, reason)
        url = following


def _int_setting(settings: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = str(settings.get(name, default))
    if not text.isdigit() or not low <= int(text) <= high:
        raise ConfigurationError(
            f"okta setting {name} must be a whole number from {low} to {high}", code="InvalidArgument"
        )
    return int(text)


_OAUTH_TOKENS: dict[tuple[str, str], OAuthToken] = {}


def _authorization(settings: Mapping[str, str], base: str, request: FetchRequest) -> Callable[[], str]:
    """The Authorization header's value, per request: an API token, or a service app's access token."""
    client_id = settings.get("client_id")
    if client_id:
        key_reference = settings.get("private_key")
        if not key_reference:
            raise ConfigurationError("okta: client_id needs private_key (a secret reference)", code="InvalidArgument")
        oauth = _OAUTH_TOKENS.get((base, client_id))
        if oauth is None:  # one per app and process: tokens are reused until near expiry
            oauth = _OAUTH_TOKENS[(base, client_id)] = OAuthToken(
                base, client_id, lambda: resolve_secret(key_reference), settings.get("key_id"), request.now
            )
        return oauth.authorization
    token = resolve_secret(settings.get("token") or "env:OKTA_API_TOKEN")
    return lambda: f"SSWS {token}"


def _get(url: str, authorization: str) -> tuple[Mapping[str, str], bytes]:
    request = urllib.request.Request(  # noqa: S310 - the URL is the org's, checked by org_url
        url, headers={"Authorization": authorization, "Accept": "application/json", "User-Agent": "auditbridge"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            body = response.read(MAX_PAGE_BYTES + 1)
            return dict(response.headers.items()), body
    except urllib.error.HTTPError as exc:
        headers = dict(exc.headers.items()) if exc.headers else {}
        exc.close()
        raise _classify(exc.code, headers) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        raise RetriableError(
            f"the Okta System Log API did not answer ({type(exc).__name__})", code="NetworkError", stage=Stage.INTAKE
        ) from None


def _classify(status: int, headers: Mapping[str, str]) -> Exception:
    if status == 429:
        reset = _number(headers.get("X-Rate-Limit-Reset"))
        return RateLimited("Okta answered 429: rate limit reached", retry_at=reset or 0.0, code="RateLimited")
    if status in (401, 403):
        return ConfigurationError(
            f"Okta refused the request (HTTP {status})",
            code="OktaUnauthorized",
            hint="check the token (an API token for SSWS) and that it may read the System Log (okta.logs.read)",
        )
    if status >= 500:
        return RetriableError(f"Okta answered HTTP {status}", code="OktaUnavailable", stage=Stage.INTAKE)
    return ConfigurationError(f"Okta answered HTTP {status} to the request", code="OktaRequestRefused")


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _events(body: bytes, number: int, cursor: str | None) -> list[dict[str, Any]]:
    where = f"page {number} (after={cursor or 'the start'})"
    if len(body) > MAX_PAGE_BYTES:
        raise PermanentError(f"{where} is over {MAX_PAGE_BYTES:,} bytes", code="MalformedPage", stage=Stage.INTAKE)
    try:
        events = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise PermanentError(
            f"{where} is not JSON; the checkpoint stays before it",
            code="MalformedPage",
            stage=Stage.INTAKE,
            hint="run the same command again later; report it to Okta if it persists",
        ) from None
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise PermanentError(
            f"{where} is not a JSON array of LogEvents; the checkpoint stays before it",
            code="MalformedPage",
            stage=Stage.INTAKE,
        )
    return events


def _next_link(header: str, base: str) -> str | None:
    for match in _LINK_RE.finditer(header):
        link = match.group(1)
        if not link.startswith(base + "/"):
            # Never send the token anywhere but the org.
            raise PermanentError("the next link leaves the org's host", code="MalformedPage", stage=Stage.INTAKE)
        return link
    return None


def _rate_pause(headers: Mapping[str, str], slowdown_below: int, now: float) -> tuple[float | None, str]:
    remaining = _number(headers.get("X-Rate-Limit-Remaining"))
    reset = _number(headers.get("X-Rate-Limit-Reset"))
    if remaining is not None and reset is not None and remaining <= slowdown_below and reset > now:
        return reset, "rate limit"
    return None, ""


OKTA_COLLECTOR = Collector(
    name="okta",
    source=PULL_SOURCE,
    fetch=fetch,
    detail_type="SystemLog",
    time_member="published",
    id_member="uuid",
    description="Okta System Log API: backfill and polling",
)
