"""Suite-wide settings: no test depends on the caller's environment; fuzzing profiles."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# `make test` runs the short profile; `make fuzz` the long one (--hypothesis-profile=fuzz).
settings.register_profile(
    "default", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("fuzz", max_examples=5_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("default")

#: Variables a caller may have exported that change what the code under test does (a proxy
#: would carry the loopback requests elsewhere).
_PROXIES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
CALLER_VARIABLES = ("AUDITBRIDGE_", "AWS_", "POWERTOOLS_", *_PROXIES, *(name.upper() for name in _PROXIES))


def pytest_configure(config: pytest.Config) -> None:
    """Before collection too: test modules build registries (mapper contracts) when imported."""
    for name in list(os.environ):
        if name.startswith(CALLER_VARIABLES):
            del os.environ[name]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-cases",
        type=int,
        default=400,
        help="records the mutation fuzzer sends through the Lambda handler (make fuzz: 20000)",
    )


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear AUDITBRIDGE_*, AWS_*, POWERTOOLS_* and proxies, and pin the time zone; fixtures set what tests need."""
    for name in list(os.environ):
        if name.startswith(CALLER_VARIABLES):
            monkeypatch.delenv(name)
    # No AWS config or credentials file of the caller's either.
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("TZ", "Pacific/Chatham")  # far from UTC, with a :45 offset: nothing may depend on it
    # Secrets are cached by reference for minutes: one test's token must not be another's.
    from auditbridge.secrets import clear_cache

    clear_cache()
