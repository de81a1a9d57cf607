"""The signed-webhook intake: every scheme, its vendors' published vectors, and hostile requests.

Events really go through EventBridge (a moto server) to an SQS queue, where the tests read them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from auditbridge_generic_webhook import lambda_handler
from auditbridge_generic_webhook.config import parse_config, presets_config
from auditbridge_generic_webhook.intake import EventBridgeForwarder, Intake
from auditbridge_generic_webhook.secrets import clear_cache
from auditbridge_generic_webhook.server import WebhookServer

CORPUS = Path(__file__).parents[4] / "shared" / "corpus" / "webhook"
NOW = 1_726_305_005.0
SECRETS = {
    "GH_SECRET": "gh-webhook-secret-1",
    "STRIPE_SECRET": "whsec_test_secret",
    "SLACK_SECRET": "slack-signing-secret",
    "PD_SECRET": "pd-secret-value",
    "ZOOM_SECRET": "zoom-secret-token",
    "OKTA_SECRET": "Bearer okta-hook-shared-key",
    "AUTH0_SECRET": "auth0-stream-token",
    "ACME_SECRET": "acme-hmac-secret",
}
CONFIG = {
    "sources": {
        "github": {"preset": "github", "verification": {"scheme": "github", "secret": "env:GH_SECRET"}},
        "stripe": {"preset": "stripe", "verification": {"scheme": "stripe", "secret": "env:STRIPE_SECRET"}},
        "slack": {"preset": "slack_audit", "verification": {"scheme": "slack", "secret": "env:SLACK_SECRET"}},
        "pagerduty": {"preset": "pagerduty", "verification": {"scheme": "pagerduty", "secret": "env:PD_SECRET"}},
        "zoom": {"preset": "zoom", "verification": {"scheme": "zoom", "secret": "env:ZOOM_SECRET"}},
        "okta": {
            "preset": "okta_event_hook",
            "verification": {"scheme": "okta_event_hook", "secret": "env:OKTA_SECRET"},
        },
        "auth0": {"preset": "auth0", "verification": {"scheme": "shared_secret", "secret": "env:AUTH0_SECRET"}},
        "acme": {
            "verification": {
                "scheme": "hmac",
                "header": "X-Acme-Signature",
                "prefix": "sha512=",
                "algorithm": "sha512",
                "encoding": "base64",
                "signed": "{timestamp}.{body}",
                "timestamp_header": "X-Acme-Time",
                "secret": "env:ACME_SECRET",
            },
            "max_body_bytes": 2048,
            "mapping": {"id": "payload.id", "eventName": "payload.action"},
        },
        "unverified": {"preset": "github", "verification": None},
    }
}


@pytest.fixture
def bus(auditbridge_aws, monkeypatch):
    """A custom bus whose rule feeds a queue: what the stack builds, made directly."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    clear_cache()
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name="webhooks")
    queue = sqs.create_queue(QueueName="ingest")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="to-queue", EventBusName="webhooks", EventPattern=json.dumps({"source": [{"prefix": "webhook."}]})
    )
    events.put_targets(Rule="to-queue", EventBusName="webhooks", Targets=[{"Id": "q", "Arn": arn}])
    yield queue
    clear_cache()


def received(queue: str) -> list[dict]:
    sqs = boto3.client("sqs")
    found: list[dict] = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        found.extend(json.loads(m["Body"]) for m in batch)
        sqs.delete_message_batch(
            QueueUrl=queue, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    return found


@pytest.fixture
def intake(bus) -> Intake:
    config = parse_config(CONFIG)
    return Intake(config, EventBridgeForwarder("webhooks"), clock=lambda: NOW)


def sign(secret: str, message: bytes, algorithm=hashlib.sha256) -> str:
    return hmac.new(secret.encode(), message, algorithm).hexdigest()


def github_request(body: bytes, secret: str = SECRETS["GH_SECRET"], delivery: str = "d-1") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": "repository",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": "sha256=" + sign(secret, body),
    }


BODY = json.dumps({"action": "deleted", "repository": {"full_name": "acme/app"}, "sender": {"login": "octo"}}).encode()


# -- published vectors ------------------------------------------------------------------------


def test_github_published_vector():
    # GitHub Docs, "Validating webhook deliveries": secret and body below give this signature.
    expected = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign("It's a Secret to Everybody", b"Hello, World!") == expected


def test_slack_published_vector(bus):
    # Slack's "Verifying requests from Slack" example (via python-slack-sdk's tests).
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
        b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
        b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    config = parse_config(
        {
            "sources": {
                "slack": {
                    "preset": "slack_audit",
                    "content_types": ["application/x-www-form-urlencoded"],
                    "verification": {"scheme": "slack", "secret": "env:SLACK_VECTOR"},
                }
            }
        }
    )
    import os

    os.environ["SLACK_VECTOR"] = "8f742231b10e8888abcd99yyyzzz85a5"
    try:
        gate = Intake(config, EventBridgeForwarder("webhooks"), clock=lambda: 1531420618)
        headers = {
            "X-Slack-Request-Timestamp": "1531420618",
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        }
        # Verified, then refused as not JSON: a slash command is not an audit event.
        assert gate.handle("POST", "/slack", headers, body).status == 400
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
        assert gate.handle("POST", "/slack", headers, body).status == 401
    finally:
        del os.environ["SLACK_VECTOR"]


def test_pagerduty_published_vector(bus):
    path = CORPUS / "pagerduty__incident.priority_updated.json"
    if not path.exists():
        pytest.skip("the shared corpus is not beside this checkout")
    vector = next(v for v in json.loads((CORPUS / "signature_vectors.json").read_text()) if v["vendor"] == "pagerduty")
    body = path.read_bytes()
    assert "v1=" + sign(vector["secret"], body) == vector["expected_header_value"]
    assert "v1=" + sign(vector["secret"], body) != vector["negative_vector"]


# -- each scheme: accepted, forged, expired, replayed ---------------------------------------


def test_github_signed_delivery_is_forwarded_with_the_headers_the_mapping_needs(intake, bus):
    response = intake.handle("POST", "/github", github_request(BODY), BODY)
    assert (response.status, response.body) == (200, {"accepted": 1})
    [event] = received(bus)
    assert event["source"] == "webhook.github" and event["detail-type"] == "Webhook"
    assert event["detail"]["payload"]["action"] == "deleted"
    assert event["detail"]["headers"] == {"x-github-event": "repository", "x-github-delivery": "d-1"}
    assert "x-hub-signature-256" not in json.dumps(event)  # signatures are never forwarded
    assert event["detail"]["receivedAt"].startswith("2024-09-14T09:10:05")


@pytest.mark.parametrize("case", ["forged", "no signature", "other secret", "body changed"])
def test_github_forgeries_get_a_bare_401_and_nothing_is_forwarded(intake, bus, case):
    headers = github_request(BODY)
    body = BODY
    if case == "forged":
        headers["X-Hub-Signature-256"] = "sha256=" + "0" * 64
    elif case == "no signature":
        del headers["X-Hub-Signature-256"]
    elif case == "other secret":
        headers = github_request(BODY, secret="not-the-secret")
    else:
        body = BODY.replace(b"deleted", b"created")
    response = intake.handle("POST", "/github", headers, body)
    assert (response.status, response.body) == (401, {})
    assert received(bus) == []


def test_a_replayed_delivery_is_refused(intake, bus):
    assert intake.handle("POST", "/github", github_request(BODY), BODY).status == 200
    assert intake.handle("POST", "/github", github_request(BODY), BODY).status == 401
    assert len(received(bus)) == 1


def stripe_headers(body: bytes, timestamp: int, secrets=(SECRETS["STRIPE_SECRET"],)) -> dict[str, str]:
    signatures = ",".join(f"v1={sign(s, f'{timestamp}.'.encode() + body)}" for s in secrets)
    return {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": f"t={timestamp},{signatures}"}


def test_stripe_accepts_any_v1_signature_within_tolerance(intake, bus):
    body = json.dumps({"id": "evt_1", "type": "payout.failed", "created": 1726305000}).encode()
    headers = stripe_headers(body, int(NOW), secrets=("whsec_old", SECRETS["STRIPE_SECRET"]))
    assert intake.handle("POST", "/stripe", headers, body).status == 200
    assert [e["detail"]["payload"]["id"] for e in received(bus)] == ["evt_1"]


@pytest.mark.parametrize("skew", [-301, 301, -86400])
def test_stripe_outside_tolerance_is_refused(intake, bus, skew):
    body = json.dumps({"id": "evt_2", "type": "x"}).encode()
    assert intake.handle("POST", "/stripe", stripe_headers(body, int(NOW) + skew), body).status == 401


@pytest.mark.parametrize("header", ["t=abc,v1=00", "v1=00", "t=1726305005", ""])
def test_stripe_malformed_signature_header(intake, header):
    assert (
        intake.handle("POST", "/stripe", {"Stripe-Signature": header, "Content-Type": "application/json"}, b"{}").status
        == 401
    )


def slack_headers(body: bytes, timestamp: int) -> dict[str, str]:
    signature = "v0=" + sign(SECRETS["SLACK_SECRET"], f"v0:{timestamp}:".encode() + body)
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature,
        "Content-Type": "application/json",
    }


def test_slack_url_verification_is_answered_and_not_forwarded(intake, bus):
    body = json.dumps(
        {"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "token": "x"}
    ).encode()
    response = intake.handle("POST", "/slack", slack_headers(body, int(NOW)), body)
    assert (response.status, response.body) == (
        200,
        {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"},
    )
    assert received(bus) == []


def test_slack_audit_page_is_split_into_events(intake, bus):
    entries = [{"id": f"e{i}", "action": "user_login", "date_create": 1726305000 + i} for i in range(3)]
    body = json.dumps({"entries": entries, "response_metadata": {"next_cursor": ""}}).encode()
    assert intake.handle("POST", "/slack", slack_headers(body, int(NOW)), body).body == {"accepted": 3}
    assert sorted(e["detail"]["payload"]["id"] for e in received(bus)) == ["e0", "e1", "e2"]


def test_slack_old_timestamp_is_refused(intake):
    body = b'{"entries": []}'
    assert intake.handle("POST", "/slack", slack_headers(body, int(NOW) - 600), body).status == 401


def test_pagerduty_accepts_any_of_several_signatures_during_rotation(intake, bus):
    body = json.dumps({"event": {"id": "01ABC", "event_type": "incident.triggered"}}).encode()
    header = f"v1={sign('old-secret', body)},v1={sign(SECRETS['PD_SECRET'], body)}"
    headers = {"X-PagerDuty-Signature": header, "Content-Type": "application/json"}
    assert intake.handle("POST", "/pagerduty", headers, body).status == 200
    headers["X-PagerDuty-Signature"] = f"v1={sign('old-secret', body)}"
    assert intake.handle("POST", "/pagerduty", headers, b'{"event": {}}').status == 401


def zoom_headers(body: bytes, timestamp: int) -> dict[str, str]:
    return {
        "x-zm-request-timestamp": str(timestamp),
        "Content-Type": "application/json",
        "x-zm-request-id": "req-1",
        "x-zm-signature": "v0=" + sign(SECRETS["ZOOM_SECRET"], f"v0:{timestamp}:".encode() + body),
    }


def test_zoom_url_validation_returns_the_encrypted_token(intake, bus):
    body = json.dumps(
        {
            "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
            "event_ts": 1654503849680,
            "event": "endpoint.url_validation",
        }
    ).encode()
    response = intake.handle("POST", "/zoom", zoom_headers(body, int(NOW)), body)
    assert response.status == 200
    assert response.body == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": sign(SECRETS["ZOOM_SECRET"], b"qgg8vlvZRS6UYooatFL8Aw"),
    }
    assert received(bus) == []


def test_zoom_event_is_forwarded_with_its_request_id(intake, bus):
    body = json.dumps(
        {"event": "user.signed_in", "event_ts": 1726305005000, "payload": {"object": {"id": "u1"}}}
    ).encode()
    assert intake.handle("POST", "/zoom", zoom_headers(body, int(NOW) * 1000), body).status == 200  # ms timestamps too
    assert received(bus)[0]["detail"]["headers"] == {"x-zm-request-id": "req-1"}


def test_okta_event_hook_verification_get_and_batched_delivery(intake, bus):
    challenge = {"Authorization": SECRETS["OKTA_SECRET"], "x-okta-verification-challenge": "X8fD0r2W0bpqjP"}
    response = intake.handle("GET", "/okta", challenge, b"")
    assert (response.status, response.body) == (200, {"verification": "X8fD0r2W0bpqjP"})
    assert intake.handle("GET", "/okta", {**challenge, "Authorization": "Bearer wrong"}, b"").status == 401
    body = json.dumps(
        {
            "eventType": "com.okta.event_hook",
            "data": {
                "events": [
                    {"uuid": "u-1", "eventType": "user.session.start", "published": "2025-09-14T09:30:05.000Z"},
                    {"uuid": "u-2", "eventType": "user.account.lock", "published": "2025-09-14T09:30:06.000Z"},
                ]
            },
        }
    ).encode()
    headers = {"Authorization": SECRETS["OKTA_SECRET"], "Content-Type": "application/json"}
    assert intake.handle("POST", "/okta", headers, body).body == {"accepted": 2}
    assert [e["detail"]["payload"]["uuid"] for e in received(bus)] == ["u-1", "u-2"]


def test_auth0_json_lines_become_one_event_each(intake, bus):
    lines = b"\n".join(json.dumps({"log_id": f"l{i}", "data": {"type": "s"}}).encode() for i in range(3))
    headers = {"Authorization": SECRETS["AUTH0_SECRET"], "Content-Type": "application/x-ndjson"}
    assert intake.handle("POST", "/auth0", headers, lines).body == {"accepted": 3}
    array = json.dumps([{"log_id": "a1", "data": {}}, {"log_id": "a2", "data": {}}]).encode()
    assert intake.handle("POST", "/auth0", {**headers, "Content-Type": "application/json"}, array).body == {
        "accepted": 2
    }
    assert len(received(bus)) == 5


def acme_headers(body: bytes, timestamp: int, secret: str = SECRETS["ACME_SECRET"]) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha512).digest()
    return {
        "X-Acme-Signature": "sha512=" + base64.b64encode(digest).decode(),
        "X-Acme-Time": str(timestamp),
        "Content-Type": "application/json",
    }


def test_generic_hmac_with_base64_sha512_over_timestamp_and_body(intake, bus):
    body = b'{"id": "a-1", "action": "export"}'
    assert intake.handle("POST", "/acme", acme_headers(body, int(NOW)), body).status == 200
    assert intake.handle("POST", "/acme", acme_headers(body, int(NOW) - 3600), body).status == 401
    assert (
        intake.handle("POST", "/acme", acme_headers(b'{"id": "a-2"}', int(NOW), "wrong"), b'{"id": "a-2"}').status
        == 401
    )
    assert len(received(bus)) == 1


# -- malformed and hostile requests ---------------------------------------------------------


def test_oversized_bodies_are_refused_before_verification(intake, bus):
    body = b'{"id": "' + b"x" * 4000 + b'"}'
    assert intake.handle("POST", "/acme", acme_headers(body, int(NOW)), body).status == 413
    assert received(bus) == []


@pytest.mark.parametrize("body", [b'{"action": "deleted"', b"", b"[1, 2]", b'"text"', b"[]"])
def test_truncated_or_non_object_bodies_are_400_after_verification(intake, bus, body):
    assert intake.handle("POST", "/github", github_request(body, delivery=str(hash(body))), body).status == 400
    assert received(bus) == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_wrong_content_type_is_415(intake, bus, content_type):
    headers = {**github_request(BODY, delivery=content_type or "none"), "Content-Type": content_type}
    assert intake.handle("POST", "/github", headers, BODY).status == 415
    assert received(bus) == []


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/nope", 404),
        ("POST", "/", 404),
        ("POST", "/unverified", 404),
        ("GET", "/github", 405),
        ("PUT", "/stripe", 405),
        ("DELETE", "/okta", 405),
    ],
)
def test_unknown_sources_and_methods(intake, method, path, status):
    assert intake.handle(method, path, {}, b"").status == status


def test_a_missing_secret_is_our_fault_503_and_logged_without_the_value(intake, bus, monkeypatch, caplog):
    monkeypatch.delenv("GH_SECRET")
    clear_cache()
    assert intake.handle("POST", "/github", github_request(BODY), BODY).status == 503
    assert "GH_SECRET" in caplog.text and SECRETS["GH_SECRET"] not in caplog.text


def test_secrets_never_appear_in_logs(intake, bus, caplog):
    caplog.set_level("DEBUG", logger="auditbridge_generic_webhook")
    intake.handle("POST", "/github", github_request(BODY), BODY)
    intake.handle("POST", "/github", {**github_request(BODY), "X-Hub-Signature-256": "sha256=00"}, BODY)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("auditbridge"))
    assert "forwarded 1 events" in ours and "answered 401" in ours
    assert all(secret not in ours for secret in SECRETS.values())
    assert "deleted" not in ours  # nor payloads


@pytest.mark.parametrize("store", ["ssm", "secretsmanager"])
def test_secrets_from_ssm_and_secrets_manager(bus, store):
    if store == "ssm":
        boto3.client("ssm").put_parameter(Name="/auditbridge/webhook/github", Value="from-ssm", Type="SecureString")
        reference = "ssm:/auditbridge/webhook/github"
        secret = "from-ssm"
    else:
        boto3.client("secretsmanager").create_secret(Name="auditbridge/webhook/github", SecretString="from-sm")
        reference = "secretsmanager:auditbridge/webhook/github"
        secret = "from-sm"
    config = parse_config(
        {"sources": {"github": {"preset": "github", "verification": {"scheme": "github", "secret": reference}}}}
    )
    gate = Intake(config, EventBridgeForwarder("webhooks"), clock=lambda: NOW)
    assert gate.handle("POST", "/github", github_request(BODY, secret=secret), BODY).status == 200
    assert gate.handle("POST", "/github", github_request(BODY, secret="nope", delivery="d-2"), BODY).status == 401


def test_the_bus_refusing_is_a_503_so_the_sender_retries(bus):
    gate = Intake(parse_config(CONFIG), EventBridgeForwarder("no-such-bus"), clock=lambda: NOW)
    assert gate.handle("POST", "/github", github_request(BODY), BODY).status == 503


def test_over_http_with_webhook_serve_code(intake, bus):
    with WebhookServer(intake) as server:
        request = urllib.request.Request(server.url + "/github", data=BODY, headers=github_request(BODY), method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read()) == {"accepted": 1}
        big = b"x" * 2_000_000
        refused = urllib.request.Request(
            server.url + "/github", data=big, headers={"Content-Type": "application/json"}, method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(refused, timeout=10)
        assert info.value.code == 413
    assert len(received(bus)) == 1


@pytest.fixture
def lambda_intake(bus, monkeypatch, tmp_path):
    """The function URL handler's environment: a sources file with GitHub, the stack's bus."""
    config = tmp_path / "sources.yaml"
    config.write_text(
        "sources:\n  github:\n    preset: github\n    verification: {scheme: github, secret: 'env:GH_SECRET'}\n"
    )
    monkeypatch.setenv("AUDITBRIDGE_WEBHOOK_CONFIG", str(config))
    monkeypatch.setenv("AUDITBRIDGE_WEBHOOK_BUS", "webhooks")
    from auditbridge_generic_webhook import config as config_module

    config_module.active_config.cache_clear()
    lambda_handler.intake.cache_clear()
    yield
    config_module.active_config.cache_clear()
    lambda_handler.intake.cache_clear()


def test_the_lambda_function_url_handler(lambda_intake):
    headers = {k.lower(): v for k, v in github_request(BODY, delivery=f"lambda-{time.time()}").items()}
    event = {
        "rawPath": "/github",
        "requestContext": {"http": {"method": "POST"}},
        "headers": headers,
        "body": base64.b64encode(BODY).decode(),
        "isBase64Encoded": True,
    }
    result = lambda_handler.handler(event, None)
    assert result["statusCode"] == 200 and json.loads(result["body"]) == {"accepted": 1}
    forged = {**event, "headers": {**headers, "x-hub-signature-256": "sha256=00"}}
    assert lambda_handler.handler(forged, None) == {
        "statusCode": 401,
        "headers": {"content-type": "application/json"},
        "body": "{}",
    }


def test_presets_need_a_verification_before_the_intake_serves_them(bus):
    gate = Intake(presets_config(), EventBridgeForwarder("webhooks"), clock=lambda: NOW)
    assert gate.handle("POST", "/github", github_request(BODY), BODY).status == 404


# -- hostile deliveries -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"action": NaN}',
        b'{"action": Infinity}',
        b'{"amount": 1e400}',
        b'{"a": ' * 100 + b"1" + b"}" * 100,
        b'{"a": ' * 2000 + b"1" + b"}" * 2000,
    ],
    ids=["nan", "infinity", "1e400", "100-deep", "2000-deep"],
)
def test_non_json_numbers_and_deep_nesting_are_400_and_not_forwarded(intake, bus, body):
    assert intake.handle("POST", "/github", github_request(body), body).status == 400
    assert received(bus) == []


def test_the_lambda_intake_answers_400_to_deep_json(lambda_intake):
    body = b"[" * 5000 + b"]" * 5000
    event = {
        "rawPath": "/github",
        "requestContext": {"http": {"method": "POST"}},
        "headers": {k.lower(): v for k, v in github_request(body).items()},
        "body": body.decode(),
    }
    assert lambda_handler.handler(event, None)["statusCode"] == 400
    assert lambda_handler.handler({**event, "body": "!!", "isBase64Encoded": True}, None)["statusCode"] == 400


def test_a_captured_github_delivery_under_a_new_delivery_id_is_a_replay(intake, bus):
    assert intake.handle("POST", "/github", github_request(BODY, delivery="d-1"), BODY).status == 200
    replayed = {**github_request(BODY, delivery="d-2"), "X-GitHub-Event": "member"}
    assert intake.handle("POST", "/github", replayed, BODY).status == 401
    assert len(received(bus)) == 1


class FlakyForwarder:
    """The real EventBridge forwarder, but the bus refuses everything after ``fail_after`` items once."""

    def __init__(self, fail_after: int) -> None:
        from auditbridge_generic_webhook.intake import ForwardingFailed

        self.real = EventBridgeForwarder("webhooks")
        self.fail_after = fail_after
        self.failed = False
        self.error = ForwardingFailed

    def forward(self, source, details):
        if not self.failed and len(details) > self.fail_after:
            self.failed = True
            self.real.forward(source, details[: self.fail_after])
            raise self.error("PutEvents refused entries: InternalFailure", set(range(self.fail_after)))
        self.real.forward(source, details)


def test_a_retry_after_a_partial_forward_sends_only_what_is_missing(bus):
    gate = Intake(parse_config(CONFIG), FlakyForwarder(fail_after=10), clock=lambda: NOW)
    lines = b"\n".join(json.dumps({"log_id": f"l{i}", "data": {"type": "s"}}).encode() for i in range(25))
    headers = {"Content-Type": "application/x-ndjson", "Authorization": SECRETS["AUTH0_SECRET"]}
    assert gate.handle("POST", "/auth0", headers, lines).status == 503
    assert gate.handle("POST", "/auth0", headers, lines).status == 200  # the sender's retry
    assert gate.handle("POST", "/auth0", headers, lines).status == 401  # now a replay
    ids = sorted(event["detail"]["payload"]["log_id"] for event in received(bus))
    assert ids == sorted(f"l{i}" for i in range(25))


def test_webhook_serve_refuses_other_methods_and_chunked_bodies(intake, bus):
    import socket

    with WebhookServer(intake) as server:
        host, port = server.url.removeprefix("http://").split(":")
        for request in (
            b"HEAD /github HTTP/1.1\r\nHost: x\r\n\r\n",
            b"OPTIONS /github HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST /github HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ):
            with socket.create_connection((host, int(port)), timeout=5) as conn:
                conn.sendall(request)
                answer = b""
                while chunk := conn.recv(65536):
                    answer += chunk
            assert answer.split(b" ")[1] in (b"405", b"411")
    assert received(bus) == []
