"""auditbridge mapper for the Okta System Log, as Okta's EventBridge log stream delivers it."""

from auditbridge_okta.mapper import DEFAULT_EVENT_SOURCE, OKTA_SOURCES, map_log_event

__all__ = ["DEFAULT_EVENT_SOURCE", "OKTA_SOURCES", "map_log_event"]
