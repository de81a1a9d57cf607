"""Sources files are validated on load, with errors naming the source, the field and the problem."""

from __future__ import annotations

import json

import boto3
import pytest
from auditbridge.errors import ConfigurationError
from auditbridge_generic_webhook.config import load_config, parse_config


def source(**body):
    return {"sources": {"acme": body}}


GOOD_MAPPING = {"eventName": "payload.action"}
HMAC = {"scheme": "hmac", "header": "X-Sig", "secret": "env:ACME_SECRET"}


@pytest.mark.parametrize(
    ("document", "field", "problem"),
    [
        (source(mapping={"eventName": "payload.[["}), "mapping.eventName", "invalid JMESPath"),
        (source(mapping={}), "mapping.eventName", "Field required"),
        (source(mapping={"eventName": {"time": "iso"}}), "mapping.eventName", "needs a path, a const or a default"),
        (
            source(mapping={**GOOD_MAPPING, "eventTime": {"path": "payload.ts", "time": "weekday"}}),
            "mapping.eventTime.time",
            "Input should be",
        ),
        (
            source(verification={"scheme": "carrier-pigeon", "secret": "env:X"}, mapping=GOOD_MAPPING),
            "verification.scheme",
            "Input should be",
        ),
        (
            source(verification={"scheme": "github", "secret": "hunter2"}, mapping=GOOD_MAPPING),
            "verification.secret",
            "never the secret",
        ),
        (source(verification={"scheme": "github"}, mapping=GOOD_MAPPING), "verification", "needs a secret reference"),
        (
            source(verification={"scheme": "hmac", "secret": "env:X"}, mapping=GOOD_MAPPING),
            "verification",
            "needs the signature header",
        ),
        (
            source(verification={**HMAC, "signed": "{timestamp}.{body}"}, mapping=GOOD_MAPPING),
            "verification",
            "needs timestamp_header",
        ),
        (
            source(forward_headers=["X-Hub-Signature-256"], mapping=GOOD_MAPPING),
            "forward_headers",
            "must not forward credentials",
        ),
        (source(mapping=GOOD_MAPPING, split="payload.("), "split", "invalid JMESPath"),
        (source(mapping=GOOD_MAPPING, colour="blue"), "colour", "Extra inputs"),
        (source(mapping=GOOD_MAPPING, max_body_bytes=0), "max_body_bytes", "greater than or equal"),
    ],
)
def test_errors_name_source_field_and_problem(document, field, problem):
    with pytest.raises(ConfigurationError) as info:
        parse_config(document)
    message = str(info.value)
    assert "source 'acme'" in message and f"field {field}" in message and problem in message


@pytest.mark.parametrize("document", [None, [], {"sources": []}, {"sources": {"acme": "github"}}])
def test_the_document_shape_is_checked(document):
    with pytest.raises(ConfigurationError, match="must be a mapping"):
        parse_config(document)


def test_an_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigurationError, match="no preset 'gitlab'; presets: auth0, github"):
        parse_config({"sources": {"x": {"preset": "gitlab"}}})


def test_a_bad_source_name_is_refused():
    with pytest.raises(ConfigurationError, match=r"source 'Bad Name'.*lower-case"):
        parse_config({"sources": {"Bad Name": {"mapping": GOOD_MAPPING}}})


def test_presets_can_be_overridden_field_by_field():
    config = parse_config(
        {
            "sources": {
                "gh": {
                    "preset": "github",
                    "verification": {"scheme": "github", "secret": "env:S"},
                    "mapping": {"eventSource": {"const": "github.example.corp"}},
                }
            }
        }
    )
    mapping = config.sources["gh"].mapping
    assert mapping.eventSource is not None and mapping.eventSource.const == "github.example.corp"
    assert mapping.eventName.paths  # kept from the preset
    assert config.sources["gh"].event_source == "webhook.gh"


def test_yaml_json_files_and_ssm_parameters(tmp_path, auditbridge_aws):
    yaml_file = tmp_path / "sources.yaml"
    yaml_file.write_text("sources:\n  acme:\n    mapping: {eventName: payload.action}\n")
    json_file = tmp_path / "sources.json"
    json_file.write_text(json.dumps(source(mapping=GOOD_MAPPING)))
    assert list(load_config(str(yaml_file)).sources) == ["acme"]
    assert list(load_config(str(json_file)).sources) == ["acme"]
    boto3.client("ssm").put_parameter(Name="/auditbridge/webhook/config", Type="String", Value=json_file.read_text())
    assert list(load_config("ssm:/auditbridge/webhook/config").sources) == ["acme"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("sources: {acme: [unclosed\n")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_config(str(broken))
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_config(str(tmp_path / "missing.yaml"))


def test_webhook_check_command(tmp_path, capsys):
    from auditbridge.cli.main import main

    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  gh:\n    preset: github\n    verification: {scheme: github, secret: 'env:X'}\n")
    assert main(["webhook", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "gh: POST /gh -> source webhook.gh, verification github" in out
    path.write_text("sources:\n  gh:\n    preset: github\n    verification: {scheme: github, secret: plain}\n")
    assert main(["webhook", "check", str(path)]) == 2
    assert "source 'gh', field verification.secret" in capsys.readouterr().err


def test_registering_the_plugin_loads_no_mapper_until_a_webhook_event_comes():
    """The Lambda of an Okta-only deployment never pays for YAML, JMESPath and the webhook models."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from auditbridge.plugins import get_mapper_registry\n"
        "registry = get_mapper_registry()\n"
        "assert registry.resolve('webhook.github').mapper.name == 'webhook'\n"
        "loaded = [m for m in ('auditbridge_generic_webhook.mapper', 'auditbridge_generic_webhook.config', 'yaml',"
        " 'jmespath') if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == ""


def test_the_registered_sources_are_the_configurations_prefix():
    from auditbridge_generic_webhook import plugin
    from auditbridge_generic_webhook.config import SOURCE_PREFIX
    from auditbridge_generic_webhook.mapper import SOURCES

    assert plugin.SOURCES == SOURCES == (SOURCE_PREFIX + "*",)
