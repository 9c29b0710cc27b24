"""The ``notifications`` table: immigration-hit notices waiting for, or done with, delivery.

One notification per TCN (UNIQUE), created with the transaction's answer. States: ``pending``
(to be sent at ``next_attempt_at``), ``delivered`` (the webhook answered 2xx) and ``failed``
(a permanent refusal, or too many attempts: an operator has to look at it). The payload is
personal data: sealed in the database (``central.db``), opened only to be delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from central.db import PAYLOAD, Database

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
IMMIGRATION_HIT = "immigration_hit"


@dataclass(frozen=True)
class NewNotification:
    tcn: str
    ori: str
    payload: dict[str, Any]
    created_at: str
    kind: str = IMMIGRATION_HIT


@dataclass(frozen=True)
class NotificationRecord:
    """A notification without its payload (what operators and the station see)."""

    id: int
    tcn: str
    ori: str
    kind: str
    created_at: str
    status: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    delivered_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tcn": self.tcn,
            "ori": self.ori,
            "kind": self.kind,
            "created_at": self.created_at,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at if self.status == PENDING else None,
            "last_error": self.last_error,
            "delivered_at": self.delivered_at,
        }


@dataclass(frozen=True)
class DueNotification:
    id: int
    tcn: str
    attempts: int
    payload: dict[str, Any]


_COLUMNS = "id, tcn, ori, kind, created_at, status, attempts, next_attempt_at, last_error, delivered_at"


class NotificationStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    def add(self, notification: NewNotification) -> None:
        """Insert inside the caller's transaction (see ``TransactionStore.complete``); once per TCN."""
        self._database.db()["notifications"].insert(
            {
                "tcn": notification.tcn,
                "ori": notification.ori,
                "kind": notification.kind,
                "payload": self._database.seal_json(PAYLOAD.where, notification.tcn, notification.payload),
                "created_at": notification.created_at,
                "status": PENDING,
                "next_attempt_at": notification.created_at,
            },
            ignore=True,
        )

    def recent(self, *, status: str | None = None, limit: int = 100) -> list[NotificationRecord]:
        where, arguments = ("status = ?", [status]) if status else (None, [])
        rows = self._database.db()["notifications"].rows_where(
            where, arguments, select=_COLUMNS, order_by="id DESC", limit=limit
        )
        return [NotificationRecord(**row) for row in rows]

    def for_transaction(self, tcn: str) -> NotificationRecord | None:
        rows = self._database.db()["notifications"].rows_where("tcn = ?", [tcn], select=_COLUMNS)
        row = next(iter(rows), None)
        return None if row is None else NotificationRecord(**row)

    def due(self, now: str, limit: int = 20) -> list[DueNotification]:
        rows = self._database.db()["notifications"].rows_where(
            "status = ? AND next_attempt_at <= ?",
            [PENDING, now],
            select="id, tcn, attempts, payload",
            order_by="next_attempt_at, id",
            limit=limit,
        )
        return [
            DueNotification(
                row["id"],
                row["tcn"],
                row["attempts"],
                self._database.open_json(PAYLOAD.where, row["tcn"], row["payload"]),
            )
            for row in rows
        ]

    def next_due_at(self) -> str | None:
        row = (
            self._database.db()
            .execute("SELECT min(next_attempt_at) FROM notifications WHERE status = ?", [PENDING])
            .fetchone()
        )
        return row[0]

    def delivered(self, notification_id: int, at: str) -> None:
        self._set(notification_id, status=DELIVERED, delivered_at=at, last_error=None, increment=True)

    def retry_at(self, notification_id: int, at: str, error: str) -> None:
        self._set(notification_id, status=PENDING, next_attempt_at=at, last_error=error, increment=True)

    def failed(self, notification_id: int, error: str) -> None:
        self._set(notification_id, status=FAILED, last_error=error, increment=True)

    def _set(self, notification_id: int, *, increment: bool, **values: object) -> None:
        assignments = ", ".join(f"{column} = ?" for column in values)
        if increment:
            assignments += ", attempts = attempts + 1"
        self._database.db().execute(
            f"UPDATE notifications SET {assignments} WHERE id = ?", [*values.values(), notification_id]
        )
