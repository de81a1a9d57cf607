"""Our SigV4 signer gives the very headers botocore's SigV4Auth gives for the same request."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from auditbridge.sinks.sigv4 import CredentialSource, Signer, StaticCredentials
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

CHANNEL = "arn:aws:cloudtrail:eu-west-1:123456789012:channel/4f0e8c1a-1b2c-4d3e-8f90-0123456789ab"


def botocore_headers(url: str, body: bytes, credentials: StaticCredentials, now: datetime, monkeypatch) -> dict:
    import botocore.auth

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now.replace(tzinfo=None))
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"Content-Type": "application/json", "User-Agent": "auditbridge"}
    )
    SigV4Auth(Credentials(*credentials), "cloudtrail-data", "eu-west-1").add_auth(request)
    return {name: value for name, value in request.headers.items() if name != "User-Agent"}


@pytest.mark.parametrize(
    "endpoint",
    ["https://cloudtrail-data.eu-west-1.amazonaws.com", "http://127.0.0.1:4510", "https://example.com:443"],
)
@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzEJr//////////wEaDO+token/with+symbols="])
@pytest.mark.parametrize("external_id", [None, "ext:id/with=chars~"])
def test_the_headers_are_botocores(endpoint, token, external_id, monkeypatch):
    query = f"channelArn={quote(CHANNEL, safe='')}" + (
        f"&externalId={quote(external_id, safe='')}" if external_id else ""
    )
    url = f"{endpoint}/PutAuditEvents?{query}"
    credentials = StaticCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    now = datetime(2026, 11, 29, 23, 59, 58, tzinfo=UTC)
    body = b'{"auditEvents":[{"id":"a","eventData":"{}"}]}'
    ours = Signer(url, "cloudtrail-data", "eu-west-1").headers(body, credentials, now)
    theirs = botocore_headers(url, body, credentials, now, monkeypatch)
    assert {k.lower(): v for k, v in ours.items() if k != "Host"} == {k.lower(): v for k, v in theirs.items()}


@given(body=st.binary(max_size=2000), secret=st.text(min_size=1, max_size=40).filter(str.isprintable))
def test_any_body_and_secret_sign_as_botocore_signs_them(body, secret):
    import botocore.auth

    credentials = StaticCredentials("AKID", secret, None)
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    url = f"https://cloudtrail-data.eu-west-1.amazonaws.com/PutAuditEvents?channelArn={quote(CHANNEL, safe='')}"
    ours = Signer(url, "cloudtrail-data", "eu-west-1").headers(body, credentials, now)
    original = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: now.replace(tzinfo=None)
    try:
        request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
        SigV4Auth(Credentials(*credentials), "cloudtrail-data", "eu-west-1").add_auth(request)
    finally:
        botocore.auth.get_current_datetime = original
    assert ours["Authorization"] == request.headers["Authorization"]


def test_credentials_come_from_the_environment_else_botocores_chain(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
    assert CredentialSource().current() == StaticCredentials("AKIDENV", "secret", "token")
    # Expiring credentials are botocore's to refresh; so are profiles.
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", "2099-01-01T00:00:00Z")
    refreshed = CredentialSource().current()
    assert refreshed is not None and refreshed.access_key == "AKIDENV"
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION"):
        monkeypatch.delenv(name)
    config = tmp_path / "credentials"
    config.write_text("[bench]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "bench")
    from_profile = CredentialSource().current()
    assert from_profile is not None and from_profile.access_key == "AKIDPROFILE"
