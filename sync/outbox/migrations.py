"""The outbox schema, as numbered migrations; each applied one is recorded in ``schema_migrations``.

``MIGRATIONS[n - 1]`` takes the database from version n - 1 to n (``sync.sqlite_store.Migration``:
SQL, and a Python step if one is needed, in one transaction). Add new ones at the end; never
edit one that has shipped. Columns that hold personal or biometric data hold AES-GCM envelopes
(``sync.sealing``) and are marked "sealed"; every other column is metadata a technician may read.
"""

from __future__ import annotations

from sync.outbox.states import STATES
from sync.sqlite_store import Migration

_STATE_CHECK = ", ".join(f"'{state}'" for state in STATES)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "outbox, bookings, responses, audit, counters",
        f"""
        CREATE TABLE counters (
            name TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE bookings (
            id INTEGER PRIMARY KEY,
            tcn TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            submitted_by TEXT NOT NULL,
            details BLOB,               -- sealed JSON: name, birth dates, case, fingers. NULL once purged
            acknowledged_at TEXT,
            acknowledged_by TEXT
        ) STRICT;
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,         -- submission order: the queue drains oldest first
            tcn TEXT NOT NULL UNIQUE REFERENCES bookings (tcn),
            state TEXT NOT NULL CHECK (state IN ({_STATE_CHECK})),
            payload BLOB,                   -- sealed transaction bytes, NULL once purged
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,           -- of the transaction bytes, checked against the receipt
            attempts INTEGER NOT NULL DEFAULT 0,
            queued_at TEXT NOT NULL,        -- start of the current delivery effort (the age limit)
            next_attempt_at TEXT NOT NULL,  -- next send (queued) or next poll for the answer (accepted)
            lease_owner TEXT,
            lease_expires_at TEXT,
            last_error TEXT,                -- never personal data
            accepted_at TEXT,
            receipt TEXT,                   -- the centre's receipt, JSON
            responded_at TEXT,
            problems BLOB,                  -- sealed JSON [{{field, message}}] of a rejection
            closed_at TEXT,                 -- when it was rejected or gave up
            purged_at TEXT
        ) STRICT;
        CREATE INDEX outbox_due ON outbox (state, next_attempt_at, id);
        CREATE TABLE responses (
            id INTEGER PRIMARY KEY,
            tcn TEXT NOT NULL REFERENCES bookings (tcn),
            kind TEXT NOT NULL CHECK (kind IN ('criminal', 'immigration')),
            received_at TEXT NOT NULL,
            body BLOB NOT NULL,             -- sealed JSON, as the centre sent it
            UNIQUE (tcn, kind)
        ) STRICT;
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            event TEXT NOT NULL,
            tcn TEXT,
            detail TEXT                     -- never personal data
        ) STRICT;
        CREATE INDEX audit_tcn ON audit (tcn, id);
        """,
    ),
    Migration(
        "audit hash chain",
        # Entries written before this migration are chained as found when the outbox next opens
        # (sync.outbox.audit.adopt_legacy); from then on every entry is chained as it is written.
        """
        ALTER TABLE audit ADD COLUMN key_id TEXT;      -- the outbox key the entry's MAC is derived from
        ALTER TABLE audit ADD COLUMN prev_hash TEXT;   -- the previous entry's hash (64 zeros for the first)
        ALTER TABLE audit ADD COLUMN hash TEXT;        -- HMAC-SHA-256 of the entry and prev_hash
        CREATE INDEX audit_at ON audit (at);
        """,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
