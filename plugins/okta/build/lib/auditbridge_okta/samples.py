"""Synthetic but realistic Okta System Log traffic, for demos and benchmarks.

Everything here is made up (users, IPs from the documentation ranges, ids); nothing is
copied from real logs. The output is deterministic for a given seed.

    python -m auditbridge_okta.samples --count 200 > events.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

USERS = [
    ("00u1aliceJ8Kq2Lp5", "alice.johnson@example.com", "Alice Johnson"),
    ("00u1bobMw3Rt6Yz1", "bob.martinez@example.com", "Bob Martinez"),
    ("00u1chenXa9Df4Gh", "chen.li@example.com", "Chen Li"),
    ("00u1dianaQe2Ws5E", "diana.okoro@example.com", "Diana Okoro"),
    ("00u1erikRt7Yu8Io", "erik.svensson@example.com", "Erik Svensson"),
    ("00u1fatimaZx3Cv4", "fatima.haddad@example.com", "Fatima Haddad"),
]
ADMIN = ("00u1adminPl0Ok9Ij", "it-admin@example.com", "IT Admin")
NETWORKS = [
    ("198.51.100.", "Lisbon", "Portugal", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15"),
    ("203.0.113.", "Toronto", "Canada", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36"),
    ("192.0.2.", "Berlin", "Germany", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
]
ATTACKER = ("203.0.113.250", "Unknown", "Unknown", "python-requests/2.32.3")
APPS = [("0oa1slackAPP00001", "Slack"), ("0oa1githubAPP0001", "GitHub Enterprise"), ("0oa1awsAPP0000001", "AWS SSO")]
GROUPS = [("00g1engGROUP00001", "Engineering"), ("00g1finGROUP00001", "Finance"), ("00g1admGROUP00001", "Admins")]

#: (weight, event kind)
KINDS = [
    (30, "login_success"),
    (10, "login_failure"),
    (18, "mfa"),
    (14, "sso"),
    (8, "logout"),
    (5, "policy"),
    (3, "lock"),
    (3, "group_add"),
    (2, "app_assign"),
    (2, "privilege_grant"),
    (2, "api_token"),
    (1, "mfa_deactivate"),
    (2, "threat"),
]


def synthetic_log_events(count: int, seed: int = 7, start: datetime | None = None) -> Iterator[dict[str, Any]]:
    """``count`` LogEvents, a few seconds apart, deterministic for ``seed``."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    moment = start or datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    weights = [weight for weight, _ in KINDS]
    kinds = [kind for _, kind in KINDS]
    for _ in range(count):
        moment += timedelta(seconds=rng.randint(1, 90), milliseconds=rng.randint(0, 999))
        kind = rng.choices(kinds, weights)[0]
        yield _event(rng, kind, moment)


def eventbridge_envelope(log_event: dict[str, Any], source: str, account: str = "123456789012") -> dict[str, Any]:
    """Wrap a LogEvent as Okta's EventBridge log stream delivers it."""
    published = str(log_event.get("published", ""))[:19] + "Z"
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "eventbridge:" + str(log_event["uuid"]))),
        "detail-type": "SystemLog",
        "source": source,
        "account": account,
        "time": published,
        "region": "us-east-1",
        "resources": [],
        "detail": log_event,
    }


def _event(rng: random.Random, kind: str, moment: datetime) -> dict[str, Any]:
    user = rng.choice(USERS)
    prefix, city, country, agent = rng.choice(NETWORKS)
    ip = prefix + str(rng.randint(2, 240))
    actor = _actor(user)
    outcome: dict[str, Any] = {"result": "SUCCESS", "reason": None}
    targets: list[dict[str, Any]] | None = None
    severity = "INFO"
    debug: dict[str, Any] = {"requestId": _request_id(rng), "requestUri": "/idp/idx/identify"}
    event_type, message = "user.session.start", "User login to Okta"
    legacy: str | None = "core.user_auth.login_success"

    if kind == "login_failure":
        outcome = {"result": "FAILURE", "reason": rng.choice(["INVALID_CREDENTIALS", "VERIFICATION_ERROR"])}
        severity, legacy = "WARN", "core.user_auth.login_failed"
        if rng.random() < 0.4:
            ip, city, country, agent = ATTACKER
    elif kind == "mfa":
        event_type, message, legacy = "user.authentication.auth_via_mfa", "Authentication of user via MFA", None
        factor = rng.choice(["OKTA_VERIFY_PUSH", "FIDO_WEBAUTHN", "OKTA_VERIFY_TOTP"])
        debug.update({"factor": factor, "factorIntent": "AUTHENTICATION", "requestUri": "/idp/idx/challenge/answer"})
        if rng.random() < 0.15:
            outcome = {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"}
            severity = "WARN"
    elif kind == "sso":
        app = rng.choice(APPS)
        event_type, message, legacy = "user.authentication.sso", "User single sign on to app", "app.auth.sso"
        targets = [_target(app[0], "AppInstance", app[1], app[1], {"signOnModeType": "SAML_2_0"})]
    elif kind == "logout":
        event_type, message, legacy = "user.session.end", "User logout from Okta", "core.user_auth.logout_success"
    elif kind == "policy":
        event_type, message, legacy = "policy.evaluate_sign_on", "Evaluation of sign-on policy", None
        outcome = {"result": "ALLOW", "reason": "Sign-on policy evaluation resulted in ALLOW"}
        targets = [
            _target("00p1signonPOLICY1", "PolicyEntity", "unknown", "Default Policy", {"policyType": "OktaSignOn"}),
            _target("0pr1catchallRULE1", "PolicyRule", "00p1signonPOLICY1", "Catch-all Rule", None),
        ]
    elif kind == "lock":
        event_type, message = "user.account.lock", "Max sign in attempts exceeded"
        legacy, severity = "core.user.account.locked", "WARN"
        outcome = {"result": "FAILURE", "reason": "LOCKED_OUT"}
    elif kind in {"group_add", "app_assign", "privilege_grant", "api_token", "mfa_deactivate"}:
        actor = _actor(ADMIN)
        ip, agent = "198.51.100.10", NETWORKS[0][3]
        target_user = _target(user[0], "User", user[1], user[2], None)
        if kind == "group_add":
            group = rng.choice(GROUPS)
            event_type, message, legacy = "group.user_membership.add", "Add user to group membership", None
            targets = [target_user, _target(group[0], "UserGroup", "unknown", group[1], None)]
        elif kind == "app_assign":
            app = rng.choice(APPS)
            event_type, message = "application.user_membership.add", "Add user to application membership"
            legacy = "app.generic.provision.assign_user_to_app"
            targets = [target_user, _target(app[0], "AppInstance", app[1], app[1], None)]
        elif kind == "privilege_grant":
            event_type, message = "user.account.privilege.grant", "Grant user privilege"
            legacy, severity = "core.user.admin_privilege.granted", "WARN"
            targets = [target_user, _target("ra1orgADMIN00001", "ROLE", "unknown", "Organization Administrator", None)]
        elif kind == "api_token":
            event_type, message, legacy = "system.api_token.create", "Create API token", "api.token.create"
            targets = [_target("00T1tokenCI000001", "Token", "unknown", "ci-deploy", None)]
            severity = "WARN"
        else:
            event_type, message, legacy = (
                "user.mfa.factor.deactivate",
                "Reset factor for user",
                "core.user.factor.reset",
            )
            targets = [target_user]
            severity = "WARN"
    elif kind == "threat":
        ip, city, country, agent = ATTACKER
        actor = {
            "id": ip,
            "type": "IP address",
            "alternateId": "unknown",
            "displayName": "Unknown",
            "detailEntry": None,
        }
        event_type, message, legacy = "security.threat.detected", "Request from suspicious actor", None
        outcome = {"result": "DENY", "reason": "Password Spray"}
        severity = "WARN"
        debug["threatDetections"] = json.dumps({"Password Spray": "ATTACK"})

    event_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=1))
    return {
        "actor": actor,
        "client": {
            "userAgent": {"rawUserAgent": agent, "os": "Unknown", "browser": "UNKNOWN"},
            "zone": "null",
            "device": "Computer",
            "id": None,
            "ipAddress": ip,
            "geographicalContext": {"city": city, "state": None, "country": country, "postalCode": None},
        },
        "device": None,
        "authenticationContext": {
            "authenticationProvider": None,
            "credentialProvider": None,
            "credentialType": None,
            "issuer": None,
            "interface": None,
            "authenticationStep": 0,
            "externalSessionId": "idx" + _request_id(rng)[:20],
        },
        "displayMessage": message,
        "eventType": event_type,
        "outcome": outcome,
        "published": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        "securityContext": {
            "asNumber": 64496,
            "asOrg": "example",
            "isp": "example",
            "domain": "example.net",
            "isProxy": ip == ATTACKER[0],
        },
        "severity": severity,
        "debugContext": {"debugData": debug},
        "legacyEventType": legacy,
        "transaction": {"type": "WEB", "id": debug["requestId"], "detail": {}},
        "uuid": event_uuid,
        "version": "0",
        "request": {
            "ipChain": [
                {
                    "ip": ip,
                    "geographicalContext": {"city": city, "country": country},
                    "version": "V6" if ":" in ip else "V4",
                    "source": None,
                }
            ]
        },
        "target": targets,
    }


def _actor(user: tuple[str, str, str]) -> dict[str, Any]:
    return {"id": user[0], "type": "User", "alternateId": user[1], "displayName": user[2], "detailEntry": None}


def _target(target_id: str, kind: str, alternate: str, display: str, detail: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": target_id, "type": kind, "alternateId": alternate, "displayName": display, "detailEntry": detail}


def _request_id(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alphabet) for _ in range(27))


def main() -> None:
    parser = argparse.ArgumentParser(description="Write synthetic Okta EventBridge events as JSON lines.")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--source", default="aws.partner/okta.com/example-corp/auditbridge-demo")
    args = parser.parse_args()
    for log_event in synthetic_log_events(args.count, args.seed):
        sys.stdout.write(json.dumps(eventbridge_envelope(log_event, args.source)) + "\n")


if __name__ == "__main__":
    main()
