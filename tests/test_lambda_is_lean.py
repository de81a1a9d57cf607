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
