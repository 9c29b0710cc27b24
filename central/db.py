"""The centre's SQLite database ``DIR/central.db``: transactions, answers and notifications.

The file is a ``central.sealed_store.SealedStore`` (``sync.sqlite_store``: WAL,
``synchronous=FULL`` so that every accepted transaction is durable before its 202 leaves, secure
delete, a connection per thread, recorded migrations; personal data sealed under the data
directory's key file). Sealed columns, each bound to its table, column and TCN:

* ``transactions.body``: the ANSI/NIST-ITL bytes (names, prints);
* ``transactions.problems``: the validation messages of a rejection (they may quote values);
* ``transactions.results``: both answers (candidates, the record summary with the name);
* ``notifications.payload``: what goes to the immigration webhook (name, dates of birth, ...).

TCN, ORI, station, digest, size, states, times, attempts and error types stay plain, and so does
``audit_heads`` (version 3): every distinct audit head (``<entry id>:<hash>`` of a station's audit
log, no personal data) that stations sent with their deliveries, kept as anchors off the station
(``sync.outbox.audit``). ``record_audit_head`` and ``audit_heads`` read and write it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from central.sealed_store import (
    KEYCHECK_TABLE,
    Keys,
    SealedColumn,
    SealedStore,
    replace_column,
    seal_existing,
)
from sync.sealing import Sealer
from sync.sqlite_store import Migration

DATABASE_FILE = "central.db"

BODY = SealedColumn("transactions", "body", "tcn")
PROBLEMS = SealedColumn("transactions", "problems", "tcn")
RESULTS = SealedColumn("transactions", "results", "tcn")
PAYLOAD = SealedColumn("notifications", "payload", "tcn")
SEALED = (BODY, PROBLEMS, RESULTS, PAYLOAD)

_VERSION_1 = """
    CREATE TABLE transactions (
        id INTEGER PRIMARY KEY,
        tcn TEXT NOT NULL UNIQUE,
        ori TEXT NOT NULL,
        station TEXT,                       -- the certificate's station id, for the audit trail
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        body BLOB,                          -- sealed from version 2, NULL for a rejected transaction
        received_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'complete', 'rejected')),
        problems TEXT,                      -- version 1 only: JSON list of {field, message}
        results TEXT,                       -- version 1 only: JSON {criminal, immigration}
        completed_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT                     -- an exception type, never personal data
    ) STRICT;
    CREATE INDEX transactions_pending ON transactions (status, id) WHERE status = 'pending';
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        tcn TEXT NOT NULL UNIQUE REFERENCES transactions (tcn),
        ori TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,              -- version 1 only: JSON sent to the webhook
        created_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        delivered_at TEXT
    ) STRICT;
    CREATE INDEX notifications_due ON notifications (status, next_attempt_at) WHERE status = 'pending';
"""

_VERSION_2 = f"""
    ALTER TABLE transactions ADD COLUMN sealed_problems BLOB;   -- sealed JSON [{{field, message}}]
    ALTER TABLE transactions ADD COLUMN sealed_results BLOB;    -- sealed JSON {{criminal, immigration}}
    ALTER TABLE notifications ADD COLUMN sealed_payload BLOB;   -- sealed JSON sent to the webhook
    {KEYCHECK_TABLE}
"""


_VERSION_3 = """
    CREATE TABLE audit_heads (
        id INTEGER PRIMARY KEY,
        ori TEXT NOT NULL,
        station TEXT NOT NULL,              -- the certificate's station id ('' if it names none)
        entry_id INTEGER NOT NULL,
        hash TEXT NOT NULL,
        received_at TEXT NOT NULL,          -- when this head first arrived
        UNIQUE (ori, station, entry_id, hash)
    ) STRICT;
    CREATE INDEX audit_heads_station ON audit_heads (ori, station, entry_id)
"""


def migrations(sealer: Sealer) -> tuple[Migration, ...]:
    def seal_version_1(db: sqlite_utils.Database) -> None:
        seal_existing(db, sealer, BODY)
        for column in (PROBLEMS, RESULTS, PAYLOAD):
            seal_existing(db, sealer, column, into=f"sealed_{column.column}")
            replace_column(db, column.table, column.column, f"sealed_{column.column}")

    return (
        Migration("transactions and notifications", _VERSION_1),
        Migration("personal data sealed", _VERSION_2, seal_version_1),
        Migration("station audit heads", _VERSION_3),
    )


SCHEMA_VERSION = 3
NEW, KNOWN, BEHIND = "new", "known", "behind"  # what ``record_audit_head`` found


@dataclass(frozen=True)
class StationHead:
    """An audit head a station sent: the last entry of its audit log when it delivered."""

    ori: str
    station: str  # '' when the certificate names no station
    entry_id: int
    hash: str
    received_at: str

    @property
    def label(self) -> str:
        """``NY0303000/K01``, as ``ClientIdentity.label`` names the station."""
        return f"{self.ori}/{self.station or '?'}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "station": self.label, "ori": self.ori, "station_id": self.station, "entry_id": self.entry_id,
            "hash": self.hash, "received_at": self.received_at,
        }  # fmt: skip


@dataclass(frozen=True)
class StationAnchor:
    """A station's anchor: its head with the highest entry id (the first received of equals), which
    an intact log still contains. ``went_back``: a head had no higher id than one sent before it."""

    head: StationHead
    heads: int
    went_back: bool

    def as_dict(self) -> dict[str, Any]:
        return {**self.head.as_dict(), "heads": self.heads, "went_back": self.went_back}


_HEAD_COLUMNS = "ori, station, entry_id, hash, received_at"
_ANCHORS = f"""
    WITH ranked AS (
        SELECT {_HEAD_COLUMNS},
            row_number() OVER (PARTITION BY ori, station ORDER BY entry_id DESC, id) AS rank,
            count(*) OVER (PARTITION BY ori, station) AS heads,
            entry_id <= max(entry_id) OVER (
                PARTITION BY ori, station ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ) AS behind
        FROM audit_heads
    )
    SELECT {_HEAD_COLUMNS}, heads, (SELECT max(behind) FROM ranked AS r
        WHERE r.ori = ranked.ori AND r.station = ranked.station) AS went_back
    FROM ranked WHERE rank = 1 ORDER BY ori, station
"""


class SchemaError(RuntimeError):
    """The database was written by a newer version of the centre."""


class Database(SealedStore):
    """``DIR/central.db``, sealed under ``keys`` (default ``DIR/central.key``, created on first use)."""

    def __init__(self, data_dir: Path, *, keys: Keys = None) -> None:
        super().__init__(
            Path(data_dir) / DATABASE_FILE, keys, migrations=migrations, sealed=SEALED,
            label="central database", error=SchemaError,
        )  # fmt: skip

    def record_audit_head(self, head: StationHead) -> tuple[str, StationHead | None]:
        """Keep ``head`` unless already kept: ``NEW`` or ``KNOWN``; or ``BEHIND`` and the head it is
        behind, when the station sent one with a higher entry id before, or the same id and another
        hash (ids only grow in an intact log: entries were cut off its end, or it was re-chained)."""
        with self.write() as db:
            row = db.execute(
                f"SELECT {_HEAD_COLUMNS} FROM audit_heads WHERE ori = ? AND station = ? "
                "ORDER BY entry_id DESC, id LIMIT 1",
                [head.ori, head.station],
            ).fetchone()
            added = db.execute(
                f"INSERT INTO audit_heads ({_HEAD_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (ori, station, entry_id, hash) DO NOTHING",
                [head.ori, head.station, head.entry_id, head.hash, head.received_at],
            ).rowcount
        highest = None if row is None else StationHead(*row)
        if highest is not None and head.entry_id <= highest.entry_id and head.hash != highest.hash:
            return BEHIND, highest
        return (NEW if added else KNOWN), None

    def audit_anchors(self) -> list[StationAnchor]:
        """Per station (by ORI and id): the head to check its log against, how many heads were kept,
        and whether a head ever went back."""
        rows = self.db().execute(_ANCHORS).fetchall()
        return [StationAnchor(StationHead(*row[:5]), row[5], bool(row[6])) for row in rows]

    def audit_heads(self, ori: str, station: str) -> list[StationHead]:
        """Every head the station ``ori``/``station`` sent, newest first."""
        rows = (
            self.db()
            .execute(
                f"SELECT {_HEAD_COLUMNS} FROM audit_heads WHERE ori = ? AND station = ? ORDER BY id DESC",
                [ori, station],
            )
            .fetchall()
        )
        return [StationHead(*row) for row in rows]
