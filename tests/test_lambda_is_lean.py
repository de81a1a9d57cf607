"""Cold start is a feature: the handler's import path carries nothing heavy or optional."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = (
    "duckdb",
    "sqlglot",
    "rich",
    "moto",
    "pytest",
    "auditbridge.cli",
    "auditbridge.testing",
    "auditbridge.endpoint",
    "auditbridge.inputs",
    "argparse",
)


def test_handler_import_path_is_lean():
    code = "import sys, json\nimport auditbridge.lambda_handler\nprint(json.dumps(sorted(sys.modules)))\n"
    modules = json.loads(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    loaded = [name for name in modules if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)]
    assert loaded == []


def _import_in_lambda(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    code = (
        "import auditbridge.lambda_handler as handler\n"
        "print('built' if handler.runtime.cache_info().currsize else 'not built')\n"
    )
    env = {**os.environ, "AWS_LAMBDA_FUNCTION_NAME": "auditbridge-ingest", **environment}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)


def test_in_lambda_the_runtime_is_built_while_the_module_loads():
    done = _import_in_lambda(
        {
            "AUDITBRIDGE_CHANNEL_ARN": "arn:aws:cloudtrail:us-east-1:123456789012:channel/c",
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_REGION": "us-east-1",
        }
    )
    assert done.stdout.splitlines()[-1] == "built"


def test_a_runtime_that_cannot_be_built_at_load_is_left_to_the_first_invocation():
    done = _import_in_lambda({})  # no destination configured: the first invocation says so, per batch
    assert done.stdout.splitlines()[-1] == "not built"
    assert "runtime not built during init, the first invocation tries again: ConfigurationError" in done.stdout
