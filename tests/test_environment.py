"""The suite does not depend on the caller's environment, even where test modules read it at import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_the_okta_contract_passes_whatever_the_caller_exported():
    # Once, AUDITBRIDGE_OKTA_EVENT_SOURCE exported by the caller failed 22 contract tests: the
    # contract's registry is built when the test module is imported, before any fixture runs.
    env = {
        **os.environ,
        "AUDITBRIDGE_OKTA_EVENT_SOURCE": "somebody.else",
        "AUDITBRIDGE_PLUGINS": "nothing",
        "AUDITBRIDGE_CHANNEL_ARN": "arn:aws:cloudtrail:eu-west-1:999999999999:channel/x",
        "AWS_REGION": "ap-south-1",
        "TZ": "America/St_Johns",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "plugins/okta/tests/test_okta_contract.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:]
