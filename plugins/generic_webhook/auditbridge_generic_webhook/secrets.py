"""Secrets by reference: the framework's (:mod:`auditbridge.secrets`), re-exported for this plugin."""

from __future__ import annotations

from auditbridge.secrets import clear_cache, read_ssm_parameter, resolve_secret

__all__ = ["clear_cache", "read_ssm_parameter", "resolve_secret"]
