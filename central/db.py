"""The centre's SQLite database: one file, WAL, ``synchronous=FULL``, a versioned schema.

Each thread gets its own connection (sqlite3 connections are not shared across threads); WAL lets
readers run beside the one writer, and ``busy_timeout`` makes concurrent writers queue instead
of failing. ``synchronous=FULL`` makes every accepted transaction durable before its 202 leaves.

The schema version is SQLite's ``user_version``. ``MIGRATIONS[n]`` takes a database from version
n to n + 1; a database newer than this code is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import sqlite_utils

DATABASE_FILE = "central.db"
BUSY_TIMEOUT_SECONDS = 30.0

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1
    """
    CREATE TABLE transactions (
        id INTEGER PRIMARY KEY,
        tcn TEXT NOT NULL UNIQUE,
        ori TEXT NOT NULL,
        station TEXT,                       -- the certificate's station id, for the audit trail
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        body BLOB,                          -- NULL for a rejected transaction: nothing of it is kept
        received_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'complete', 'rejected')),
        problems TEXT,                      -- JSON list of {field, message} when rejected
        results TEXT,                       -- JSON {criminal, immigration} when complete
        completed_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    ) STRICT;
    CREATE INDEX transactions_pending ON transactions (status, id) WHERE status = 'pending';
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        tcn TEXT NOT NULL UNIQUE REFERENCES transactions (tcn),
        ori TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,              -- JSON sent to the webhook
        created_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        delivered_at TEXT
    ) STRICT;
    CREATE INDEX notifications_due ON notifications (status, next_attempt_at) WHERE status = 'pending';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaError(RuntimeError):
    """The database was written by a newer version of the centre."""


class Database:
    """The database file at ``DIR/central.db``; ``db()`` is this thread's sqlite-utils handle."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = data_dir / DATABASE_FILE
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._migrate()

    def db(self) -> sqlite_utils.Database:
        handle = getattr(self._local, "db", None)
        if handle is None:
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False, isolation_level=None
            )  # autocommit outside ``db.atomic()``: no implicit transaction is ever left open
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
            handle = sqlite_utils.Database(connection)
            self._local.db = handle
            with self._lock:
                self._connections.append(connection)
        return handle

    def close(self) -> None:
        """Close every thread's connection (call once the threads are done with it)."""
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    def schema_version(self) -> int:
        return self.db().execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        db = self.db()
        db.enable_wal()
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"{self.path} has schema version {version}; this centre knows up to {SCHEMA_VERSION}"
            )
        for number in range(version, SCHEMA_VERSION):
            with db.atomic():
                for statement in _statements(MIGRATIONS[number]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";") if statement.strip()]
