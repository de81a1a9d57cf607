"""Every preset passes the mapper contract over its own fixtures."""

from pathlib import Path

from auditbridge.testing import mapper_contract_tests

FIXTURES = Path(__file__).parent / "fixtures"

TestGitHub = mapper_contract_tests("webhook", FIXTURES / "github")
TestGitHubAuditLog = mapper_contract_tests("webhook", FIXTURES / "github_audit_log")
TestSlackAudit = mapper_contract_tests("webhook", FIXTURES / "slack_audit")
TestAuth0 = mapper_contract_tests("webhook", FIXTURES / "auth0")
TestZoom = mapper_contract_tests("webhook", FIXTURES / "zoom")
TestPagerDuty = mapper_contract_tests("webhook", FIXTURES / "pagerduty")
TestStripe = mapper_contract_tests("webhook", FIXTURES / "stripe")
TestOktaEventHook = mapper_contract_tests("webhook", FIXTURES / "okta_event_hook")


def test_every_preset_has_fixtures():
    from auditbridge_generic_webhook.config import preset_names

    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) == preset_names()
