"""What the outbox hands out: items and audit entries as a technician may see them (no personal
data), and the claim a sender holds while it sends."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

ITEM_COLUMNS = (
    "o.tcn, o.state, o.attempts, o.size, o.sha256, b.created_at, b.submitted_by, o.queued_at, "
    "o.next_attempt_at, o.lease_owner, o.lease_expires_at, o.last_error, o.accepted_at, o.receipt, "
    "o.responded_at, o.closed_at, o.purged_at, b.acknowledged_at, b.acknowledged_by, "
    "(SELECT group_concat(kind) FROM (SELECT kind FROM responses r WHERE r.tcn = o.tcn ORDER BY kind)) "
    "AS answered"
)
ITEM_FROM = "outbox o JOIN bookings b ON b.tcn = o.tcn"


@dataclass(frozen=True)
class OutboxItem:
    tcn: str
    state: str
    attempts: int
    size: int
    sha256: str
    created_at: str
    submitted_by: str
    queued_at: str
    next_attempt_at: str
    lease_owner: str | None
    lease_expires_at: str | None
    last_error: str | None
    accepted_at: str | None
    receipt: dict[str, Any] | None
    responded_at: str | None
    closed_at: str | None
    purged_at: str | None
    acknowledged_at: str | None
    acknowledged_by: str | None
    answered: tuple[str, ...]  # the results stored: "criminal", "immigration"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OutboxItem:
        values = dict(row)
        values["receipt"] = json.loads(row["receipt"]) if row["receipt"] else None
        values["answered"] = tuple(row["answered"].split(",")) if row["answered"] else ()
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the station's audit log (``sync.outbox.audit``); never personal data."""

    at: str
    actor: str
    event: str
    tcn: str | None
    detail: str | None
    id: int | None = None  # the entry's place in the chain, from 1
    key_id: str | None = None  # the outbox key its MAC is derived from
    prev_hash: str | None = None
    hash: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Claim:
    """A queued item leased to one sender until ``lease_expires``; its outcome is recorded only while
    the lease is still this sender's."""

    tcn: str
    owner: str
    attempt: int  # this attempt's number, 1 for the first
    queued_at: datetime
    lease_expires: datetime
