"""Destroying a booking's payload for good: overwrite, free, then compact the file and its WAL.

SQLite leaves old content in three places: the page that held it (until overwritten), the free
list (until reused) and the WAL (until checkpointed). So a purge overwrites the envelopes with
zeros and frees them (``secure_delete`` zeroes freed pages), commits, then checkpoints the WAL
into the main file and truncates it, rebuilds the file with ``VACUUM``, and truncates the WAL
again. Everything destroyed was sealed anyway; this makes the ciphertext itself go away, so a
leaked key later cannot open it. The metadata, the answers and the audit trail are kept.
"""

from __future__ import annotations

import logging

import sqlite_utils

log = logging.getLogger(__name__)
DESTROYED = (("outbox", "payload"), ("bookings", "details"))  # transaction bytes (prints, names); details


def destroy_payload(db: sqlite_utils.Database, tcn: str) -> None:
    """Overwrite and free the payload envelopes of ``tcn`` (inside the caller's transaction)."""
    for table, column in DESTROYED:
        db.execute(f"UPDATE {table} SET {column} = zeroblob(length({column})) WHERE tcn = ?", [tcn])
        db.execute(f"UPDATE {table} SET {column} = NULL WHERE tcn = ?", [tcn])


def compact(db: sqlite_utils.Database) -> bool:
    """Checkpoint and truncate the WAL, VACUUM, truncate again; False if a reader kept the WAL busy."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    db.execute("VACUUM")
    busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        log.warning("the outbox WAL could not be truncated (a reader was active); the next purge retries")
    return not busy
