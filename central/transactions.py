"""The ``transactions`` table: one row per TCN, from intake to a complete or rejected answer.

``add`` relies on the UNIQUE constraint on ``tcn`` (never on a check before the insert), so two
deliveries of one TCN racing each other store it once: the loser gets ``False`` and reads the
winner's row. ``complete`` stores the search results and, on an immigration hit, the notification
in the same SQLite transaction, so a crash cannot leave a hit without its notification.

The body, the problems and the results are sealed (``central.db``); they are opened here, so
``TransactionRecord`` and ``body`` hand out plaintext to the code that needs it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from central.db import BODY, PROBLEMS, RESULTS, Database
from central.notifications import NewNotification, NotificationStore

PENDING, COMPLETE, REJECTED = "pending", "complete", "rejected"


@dataclass(frozen=True)
class TransactionRecord:
    tcn: str
    ori: str
    station: str | None
    sha256: str
    size: int
    received_at: str
    status: str
    problems: list[dict[str, str]] | None = None
    results: dict[str, Any] | None = None
    completed_at: str | None = None
    attempts: int = 0

    @classmethod
    def from_row(cls, row: dict[str, Any], database: Database) -> TransactionRecord:
        tcn = row["tcn"]
        return cls(
            tcn=row["tcn"],
            ori=row["ori"],
            station=row["station"],
            sha256=row["sha256"],
            size=row["size"],
            received_at=row["received_at"],
            status=row["status"],
            problems=database.open_json(PROBLEMS.where, tcn, row["problems"]),
            results=database.open_json(RESULTS.where, tcn, row["results"]),
            completed_at=row["completed_at"],
            attempts=row["attempts"],
        )


_COLUMNS = "tcn, ori, station, sha256, size, received_at, status, problems, results, completed_at, attempts"


class TransactionStore:
    def __init__(self, database: Database, notifications: NotificationStore) -> None:
        self._database = database
        self._notifications = notifications

    def add(self, record: TransactionRecord, body: bytes | None) -> bool:
        """Insert ``record`` (with ``body``; None for a rejection); False if its TCN is already stored."""
        seal = self._seal_json
        row = {
            "tcn": record.tcn,
            "ori": record.ori,
            "station": record.station,
            "sha256": record.sha256,
            "size": record.size,
            "body": None if body is None else self._database.seal(BODY.where, record.tcn, body),
            "received_at": record.received_at,
            "status": record.status,
            "problems": seal(PROBLEMS.where, record.tcn, record.problems),
            "results": seal(RESULTS.where, record.tcn, record.results),
            "completed_at": record.completed_at,
        }
        try:
            self._database.db()["transactions"].insert(row)
        except sqlite3.IntegrityError:
            if self.get(record.tcn) is None:
                raise  # another constraint: a bug, not a duplicate
            return False
        return True

    def get(self, tcn: str) -> TransactionRecord | None:
        rows = self._database.db()["transactions"].rows_where("tcn = ?", [tcn], select=_COLUMNS)
        row = next(iter(rows), None)
        return None if row is None else TransactionRecord.from_row(row, self._database)

    def body(self, tcn: str) -> bytes | None:
        row = self._database.db().execute("SELECT body FROM transactions WHERE tcn = ?", [tcn]).fetchone()
        return None if row is None or row[0] is None else self._database.open(BODY.where, tcn, row[0])

    def pending(self) -> list[str]:
        """The TCNs still waiting for a search, oldest first."""
        rows = self._database.db().execute(
            "SELECT tcn FROM transactions WHERE status = ? ORDER BY id", [PENDING]
        )
        return [tcn for (tcn,) in rows]

    def count(self) -> int:
        return self._database.db().execute("SELECT count(*) FROM transactions").fetchone()[0]

    def complete(
        self, tcn: str, results: dict[str, Any], completed_at: str, notification: NewNotification | None
    ) -> bool:
        """Store the answer of a pending transaction (and its notification); False if not pending."""
        sealed = self._seal_json(RESULTS.where, tcn, results)
        with self._database.write() as db:
            updated = db.execute(
                "UPDATE transactions SET status = ?, results = ?, completed_at = ?, last_error = NULL "
                "WHERE tcn = ? AND status = ?",
                [COMPLETE, sealed, completed_at, tcn, PENDING],
            ).rowcount
            if updated and notification is not None:
                self._notifications.add(notification)
        return bool(updated)

    def reject(self, tcn: str, problems: list[dict[str, str]], completed_at: str) -> bool:
        """Reject a pending transaction that could not be searched; False if it was not pending."""
        updated = self._database.db().execute(
            "UPDATE transactions SET status = ?, problems = ?, completed_at = ? WHERE tcn = ? AND status = ?",
            [REJECTED, self._seal_json(PROBLEMS.where, tcn, problems), completed_at, tcn, PENDING],
        )
        return bool(updated.rowcount)

    def start_attempt(self, tcn: str) -> int:
        """Count a search attempt before it runs (a crash mid-search still counts); the attempts so far."""
        rows = (
            self._database.db()
            .execute(
                "UPDATE transactions SET attempts = attempts + 1 WHERE tcn = ? RETURNING attempts", [tcn]
            )
            .fetchall()
        )  # fetch all: an unfinished RETURNING statement would keep the write lock
        return rows[0][0] if rows else 0

    def note_error(self, tcn: str, error: str) -> None:
        """Record why the last search failed (the exception type only: no personal data)."""
        self._database.db().execute("UPDATE transactions SET last_error = ? WHERE tcn = ?", [error, tcn])

    def _seal_json(self, where: str, tcn: str, value: object) -> bytes | None:
        return None if value is None else self._database.seal_json(where, tcn, value)
