"""The outbox's SQLite file (``sync.sqlite_store``: WAL, ``synchronous=FULL``, secure delete, 0600
files, a connection per thread, ``BEGIN IMMEDIATE`` writes) with the outbox schema
(``sync.outbox.migrations``) applied; a database written by a newer version is refused.
"""

from __future__ import annotations

from pathlib import Path

from sync.clock import Clock, utc_now
from sync.outbox.migrations import MIGRATIONS
from sync.sqlite_store import SqliteStore


class OutboxError(Exception):
    """Something asked of the outbox that cannot be done; the message says why."""


class SchemaError(OutboxError):
    """The database is missing or was written by a newer version."""


class OutboxDatabase(SqliteStore):
    def __init__(self, path: Path, *, create: bool = True, clock: Clock = utc_now) -> None:
        super().__init__(path, create=create, label="outbox database", error=SchemaError)
        self.migrate(MIGRATIONS, clock=clock)
