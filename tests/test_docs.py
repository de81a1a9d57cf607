"""The docs say what the code does: every hook documented, every setting listed, examples run."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

from auditbridge import hookspecs

ROOT = Path(__file__).parents[1]
PLUGIN_DOCS = (ROOT / "docs" / "plugin-authors.md").read_text()
README = (ROOT / "README.md").read_text()


def hook_names() -> list[str]:
    return [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("register_")]


def test_every_hook_is_documented_with_its_signature():
    assert hook_names()
    for name in hook_names():
        assert f"### {name}" in PLUGIN_DOCS, f"docs/plugin-authors.md lacks a section for {name}"
        signature = inspect.getsource(getattr(hookspecs, name)).split("\n")[1]
        params = re.search(r"\((.*)\) -> None", signature)
        assert params is not None
        assert f"`{name}({params.group(1)}) -> None`" in PLUGIN_DOCS


def test_every_hook_has_a_docstring_with_its_signature():
    for name in hook_names():
        doc = getattr(hookspecs, name).__doc__ or ""
        assert f"Signature: ``{name}(" in doc


def test_every_setting_is_in_the_readme():
    sources = "".join(p.read_text() for p in (ROOT / "core" / "auditbridge").rglob("*.py"))
    sources += (ROOT / "plugins" / "okta" / "auditbridge_okta" / "plugin.py").read_text()
    settings = set(re.findall(r'"(AUDITBRIDGE_[A-Z_]+)"', sources))
    assert settings
    missing = sorted(name for name in settings if f"`{name}`" not in README)
    assert missing == []


def test_the_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    assert "make demo" in README
    assert "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_plugin_authors_example_works(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", PLUGIN_DOCS, re.DOTALL)
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], "plugin-authors.md", "exec"), namespace)

    from auditbridge import Mapper
    from auditbridge.testing.contract import Contract

    mapper = Mapper(name="acme", sources=("aws.partner/acme.com/*",), map_event=namespace["map_acme_event"])
    event = {
        "source": "aws.partner/acme.com/tenant",
        "detail-type": "Audit",
        "detail": {
            "id": "evt-1",
            "action": "user.login",
            "created_at": "2025-01-02T03:04:05Z",
            "ip": "192.0.2.1",
            "actor": {"id": "u-1"},
        },
    }
    (tmp_path / "login.json").write_text(json.dumps(event))
    contract = Contract(mapper, tmp_path)
    contract.write_expected()
    report = contract.run()
    assert report.ok, report.violations


def test_a_source_on_a_custom_bus_reaches_the_mapper_that_claims_it(auditbridge_aws):
    """docs/plugin-authors.md, section 4: a custom bus, a rule as the stack's AdditionalBus rules, PutEvents."""
    import boto3
    from auditbridge import EventData, Mapper, UserIdentity
    from auditbridge.messages import InboundMessage
    from auditbridge.plugins import MapperRegistry
    from auditbridge.preparation import EventPreparer, Prepared

    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name="acme-audit")
    queue = sqs.create_queue(QueueName="ingest")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="r", EventBusName="acme-audit", EventPattern=json.dumps({"account": ["123456789012"]}))
    events.put_targets(Rule="r", EventBusName="acme-audit", Targets=[{"Id": "q", "Arn": arn}])
    record = {"id": "rec-1", "action": "login"}
    events.put_events(
        Entries=[
            {
                "EventBusName": "acme-audit",
                "Source": "com.acme.audit",
                "DetailType": "AcmeAuditRecord",
                "Detail": json.dumps(record),
            }
        ]
    )
    body = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"][0]["Body"]

    def map_acme(event, context):
        return EventData(
            version="1",
            userIdentity=UserIdentity(type="User", principalId="u"),
            eventSource="acme.audit",
            eventName=event.detail["action"],
            eventTime="2025-01-01T00:00:00Z",
            UID=event.detail["id"],
            recipientAccountId=context.recipient_account_id,
        )

    registry = MapperRegistry()
    registry.register(Mapper(name="acme", sources=("com.acme.audit",), map_event=map_acme))
    result = EventPreparer(registry, recipient_account_id="123456789012").prepare(InboundMessage("m", body))
    assert isinstance(result, Prepared)
    assert result.entry.id == "rec-1"


def test_the_destinations_doc_lists_every_kind_and_its_routing_example_parses():
    from auditbridge.destinations import parse_routes
    from auditbridge.plugins import get_sink_registry

    doc = (ROOT / "docs" / "destinations.md").read_text()
    for entry in get_sink_registry():
        assert f"| `{entry.kind.name}:" in doc
    example = doc.split("## Routing", 1)[1].split("```", 2)[1]
    routes = parse_routes(example, "docs/destinations.md")
    assert routes.destinations_for("aws.partner/okta.com/acme/stream") == (
        "cloudwatch-logs:/audit/okta",
        "firehose:audit-stream",
    )
    assert routes.destinations_for("webhook.stripe") == ("firehose:audit-stream",)
