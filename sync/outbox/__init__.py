"""The station's outbox: bookings queued durably, encrypted, until the centre has them (issue 5).

* ``store.Outbox``: submit (booking + transaction + audit in one transaction), the lease-based
  claim of the sync worker, every recorded outcome, the officer's acknowledgement, the
  technician's retry and purge, retention, re-sealing after a key rotation.
* ``states``: the states and the moves between them; ``records``: what is handed out.
* ``audit``: the hash-chained audit log; ``Outbox.audit`` raises ``AuditEntryRejected``,
  ``Outbox.verify_audit`` returns a ``ChainReport``, ``Outbox.reseal`` raises ``AuditChainBroken``.
* ``database``: SQLite through sqlite-utils (WAL, ``synchronous=FULL``, ``secure_delete``,
  recorded migrations); ``migrations``: the schema; ``retention``: destroying payloads for good.
"""

from sync.outbox.audit import AuditChainBroken, AuditEntryRejected, ChainReport
from sync.outbox.database import OutboxError, SchemaError
from sync.outbox.records import AuditEntry, Claim, OutboxItem
from sync.outbox.states import (
    ACCEPTED,
    ACKNOWLEDGED,
    DEAD,
    MEANING,
    QUEUED,
    REJECTED,
    RESPONDED,
    SENDING,
    STATES,
)
from sync.outbox.store import Outbox

__all__ = [
    "ACCEPTED",
    "ACKNOWLEDGED",
    "DEAD",
    "MEANING",
    "QUEUED",
    "REJECTED",
    "RESPONDED",
    "SENDING",
    "STATES",
    "AuditChainBroken",
    "AuditEntry",
    "AuditEntryRejected",
    "ChainReport",
    "Claim",
    "Outbox",
    "OutboxError",
    "OutboxItem",
    "SchemaError",
]
