"""The centre's SQLite database ``DIR/central.db``: transactions, answers and notifications.

The file is a ``central.sealed_store.SealedStore`` (``sync.sqlite_store``: WAL,
``synchronous=FULL`` so that every accepted transaction is durable before its 202 leaves, secure
delete, a connection per thread, recorded migrations; personal data sealed under the data
directory's key file). Sealed columns, each bound to its table, column and TCN:

* ``transactions.body``: the ANSI/NIST-ITL bytes (names, prints);
* ``transactions.problems``: the validation messages of a rejection (they may quote values);
* ``transactions.results``: both answers (candidates, the record summary with the name);
* ``notifications.payload``: what goes to the immigration webhook (name, dates of birth, ...).

TCN, ORI, station, digest, size, states, times, attempts and error types stay plain.
"""

from __future__ import annotations

from pathlib import Path

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


def migrations(sealer: Sealer) -> tuple[Migration, ...]:
    def seal_version_1(db: sqlite_utils.Database) -> None:
        seal_existing(db, sealer, BODY)
        for column in (PROBLEMS, RESULTS, PAYLOAD):
            seal_existing(db, sealer, column, into=f"sealed_{column.column}")
            replace_column(db, column.table, column.column, f"sealed_{column.column}")

    return (
        Migration("transactions and notifications", _VERSION_1),
        Migration("personal data sealed", _VERSION_2, seal_version_1),
    )


SCHEMA_VERSION = 2


class SchemaError(RuntimeError):
    """The database was written by a newer version of the centre."""


class Database(SealedStore):
    """``DIR/central.db``, sealed under ``keys`` (default ``DIR/central.key``, created on first use)."""

    def __init__(self, data_dir: Path, *, keys: Keys = None) -> None:
        super().__init__(
            Path(data_dir) / DATABASE_FILE, keys, migrations=migrations, sealed=SEALED,
            label="central database", error=SchemaError,
        )  # fmt: skip
