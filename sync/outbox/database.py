"""The outbox's SQLite file: WAL, ``synchronous=FULL``, secure delete, versioned migrations.

* WAL lets the kiosk read while the sync worker writes; ``synchronous=FULL`` makes every commit
  durable before it returns (with NORMAL, a power cut may drop the last commits of the WAL).
* ``secure_delete`` zeroes freed content, so a destroyed payload is not left in free pages;
  ``temp_store=MEMORY`` keeps sorts and temporary tables out of temporary files.
* The file and its ``-wal``/``-shm`` companions are created 0600 in a 0700 directory.
* Each thread gets its own connection; ``write()`` is ``BEGIN IMMEDIATE`` … ``COMMIT``, so a
  writer takes the write lock up front instead of failing to upgrade a read mid-transaction.
* Applied migrations are rows of ``schema_migrations`` (version, name, time); a database written
  by a newer version is refused rather than guessed at.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from sync.clock import Clock, timestamp, utc_now
from sync.outbox.migrations import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_SECONDS = 30.0
PRAGMAS = (
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA secure_delete = ON",
    "PRAGMA temp_store = MEMORY",
)


class OutboxError(Exception):
    """Something asked of the outbox that cannot be done; the message says why."""


class SchemaError(OutboxError):
    """The database is missing or was written by a newer version."""


class OutboxDatabase:
    def __init__(self, path: Path, *, create: bool = True, clock: Clock = utc_now) -> None:
        self.path = path
        self._clock = clock
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if not path.exists():
            if not create:
                raise SchemaError(f"no outbox database at {path}")
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # SQLite gives -wal/-shm this mode
        self._migrate()

    def db(self) -> sqlite_utils.Database:
        """This thread's handle (autocommit outside ``write()``: no transaction is left open)."""
        handle = getattr(self._local, "db", None)
        if handle is None:
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False, isolation_level=None
            )
            for pragma in PRAGMAS:
                connection.execute(pragma)
            handle = sqlite_utils.Database(connection)
            self._local.db = handle
            with self._lock:
                self._connections.append(connection)
        return handle

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        db = self.db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:  # a failed COMMIT (disk full, I/O error) may leave it open
                db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close every thread's connection (once the threads are done with it)."""
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    def schema_version(self) -> int:
        row = self.db().execute("SELECT max(version) FROM schema_migrations").fetchone()
        return row[0] or 0

    def integrity_check(self) -> str:
        return "; ".join(row[0] for row in self.db().execute("PRAGMA integrity_check").fetchall())

    def _migrate(self) -> None:
        db = self.db()
        db.enable_wal()
        with self.write():
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT"
            )
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"{self.path} has schema version {version}; this station knows up to {SCHEMA_VERSION}"
            )
        for number in range(version + 1, SCHEMA_VERSION + 1):
            migration = MIGRATIONS[number - 1]
            with self.write():
                for statement in _statements(migration.sql):
                    db.execute(statement)
                db["schema_migrations"].insert(
                    {"version": number, "name": migration.name, "applied_at": timestamp(self._clock())}
                )


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";") if statement.strip()]
