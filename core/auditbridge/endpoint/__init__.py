"""A CloudTrail-Data-compatible ``PutAuditEvents`` endpoint on loopback.

AWS offers no emulator for ``cloudtrail-data``, so this package is one: it checks what the
service checks (request limits, ids, per-entry schema rules, the channel and its account),
answers in the service's REST-JSON shapes, and can inject faults (throttling, 5xx, dropped
connections, per-entry failures, failures after storing) so retries are tested over HTTP.

Not on the Lambda path: tests, benchmarks and ``auditbridge lake serve`` use it.
"""

from auditbridge.endpoint.faults import Fault, FaultPlan
from auditbridge.endpoint.server import LocalEndpoint
from auditbridge.endpoint.service import Channel, CloudTrailDataService, MemoryStore, StoredEvent

__all__ = [
    "Channel",
    "CloudTrailDataService",
    "Fault",
    "FaultPlan",
    "LocalEndpoint",
    "MemoryStore",
    "StoredEvent",
]
