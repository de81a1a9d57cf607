"""auditbridge: SaaS audit logs into AWS CloudTrail Lake (or a local lake).

The public API for plugin authors is re-exported here; importing it stays cheap.
"""

from auditbridge.envelope import EventBridgeEvent
from auditbridge.errors import (
    AuditBridgeError,
    ConfigurationError,
    MappingError,
    PermanentError,
    RetriableError,
    SchemaViolation,
)
from auditbridge.hookspecs import hookimpl
from auditbridge.mappers import Mapper, MappingContext, entry_id_for
from auditbridge.models import AuditEvent, EventData, UserIdentity

__version__ = "0.1.0"

__all__ = [
    "AuditBridgeError",
    "AuditEvent",
    "ConfigurationError",
    "EventBridgeEvent",
    "EventData",
    "Mapper",
    "MappingContext",
    "MappingError",
    "PermanentError",
    "RetriableError",
    "SchemaViolation",
    "UserIdentity",
    "__version__",
    "entry_id_for",
    "hookimpl",
]
