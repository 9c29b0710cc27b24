"""One SQLite file shared by the threads of a process: the outbox's and the centre's databases.

* WAL lets readers run beside the one writer; ``synchronous=FULL`` makes every commit durable
  before it returns (with NORMAL, a power cut may drop the last commits of the WAL).
* ``secure_delete`` zeroes freed content, so destroyed or re-sealed data is not left in free
  pages; ``temp_store=MEMORY`` keeps sorts and temporary tables out of temporary files.
* The file and its ``-wal``/``-shm`` companions are created 0600 in a 0700 directory (SQLite gives
  the companions the mode of the main file).
* Each thread gets its own connection (sqlite3 connections are not shared between threads), in
  autocommit mode outside ``write()``: no implicit transaction is ever left open. ``write()`` is
  ``BEGIN IMMEDIATE`` ... ``COMMIT``: a writer takes the write lock up front instead of failing to
  upgrade a read mid-transaction, and ``busy_timeout`` makes concurrent writers queue.
* ``migrate`` applies numbered migrations, each in its own transaction, and records each one in
  ``schema_migrations`` (version, name, time). ``PRAGMA user_version`` is kept equal to the
  version, so a database is refused both by code that reads the table and by code that read the
  pragma only; a file versioned by the pragma alone is adopted at that version. A database
  written by a newer version is refused rather than guessed at.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import sqlite_utils

from sync.clock import Clock, timestamp, utc_now

BUSY_TIMEOUT_SECONDS = 30.0
PRAGMAS = (
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA secure_delete = ON",
    "PRAGMA temp_store = MEMORY",
)
ADOPTED = "adopted from PRAGMA user_version"


class StoreError(Exception):
    """The database is missing or was written by a newer version; the message says which."""


class MigrationLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def sql(self) -> str: ...


@dataclass(frozen=True)
class Migration:
    """SQL statements (``;``-separated), then ``apply(db)`` if given, all in one transaction."""

    name: str
    sql: str = ""
    apply: Callable[[sqlite_utils.Database], None] | None = None


class SqliteStore:
    """The database at ``path`` (created when missing, unless ``create`` is False).

    ``error`` is the exception class raised for a missing or newer database, so that each user
    keeps its own named error; ``label`` names the database in messages."""

    def __init__(
        self,
        path: Path,
        *,
        create: bool = True,
        label: str = "database",
        error: type[Exception] = StoreError,
    ) -> None:
        self.path = Path(path)
        self.label = label
        self._error = error
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if not self.path.exists():
            if not create:
                raise error(f"no {label} at {self.path}")
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.db().enable_wal()

    def db(self) -> sqlite_utils.Database:
        """This thread's handle (autocommit outside ``write()``)."""
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
        """One ``BEGIN IMMEDIATE`` transaction: committed at the end of the block, rolled back on error."""
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
        db = self.db()
        if not db["schema_migrations"].exists():
            return int(db.execute("PRAGMA user_version").fetchone()[0])
        row = db.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return max(row[0] or 0, int(db.execute("PRAGMA user_version").fetchone()[0]))

    def integrity_check(self) -> str:
        return "; ".join(row[0] for row in self.db().execute("PRAGMA integrity_check").fetchall())

    def migrate(self, migrations: Sequence[MigrationLike], *, clock: Clock = utc_now) -> list[int]:
        """Bring the database to ``len(migrations)``, one transaction per migration; the versions applied."""
        db = self.db()
        with self.write():
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT"
            )
            self._adopt_user_version(db, migrations, clock)
        version = self.schema_version()
        if version > len(migrations):
            raise self._error(
                f"{self.label} {self.path} has schema version {version}; this version of livescan knows "
                f"up to {len(migrations)}: run a newer livescan, or restore a backup made by this one"
            )
        applied = []
        for number in range(version + 1, len(migrations) + 1):
            migration = migrations[number - 1]
            with self.write():
                if self.schema_version() >= number:
                    continue  # another process applied it since the version was read
                for statement in statements(migration.sql):
                    db.execute(statement)
                step = getattr(migration, "apply", None)
                if step is not None:
                    step(db)
                db["schema_migrations"].insert(
                    {"version": number, "name": migration.name, "applied_at": timestamp(clock())}
                )
                db.execute(f"PRAGMA user_version = {number}")
            applied.append(number)
        return applied

    def compact(self) -> bool:
        """Checkpoint and truncate the WAL, VACUUM, truncate again, so that no old page content is
        left in the file or its WAL; False if a reader kept the WAL busy."""
        db = self.db()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        db.execute("VACUUM")
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy

    def _adopt_user_version(
        self, db: sqlite_utils.Database, migrations: Sequence[MigrationLike], clock: Clock
    ) -> None:
        if db.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]:
            return
        known = int(db.execute("PRAGMA user_version").fetchone()[0])
        for number in range(1, min(known, len(migrations)) + 1):
            db["schema_migrations"].insert(
                {"version": number, "name": f"{migrations[number - 1].name} ({ADOPTED})",
                 "applied_at": timestamp(clock())}
            )  # fmt: skip


def statements(script: str) -> list[str]:
    """The statements of a ``;``-separated script (no ``;`` inside literals or triggers)."""
    return [statement.strip() for statement in script.split(";") if statement.strip()]
