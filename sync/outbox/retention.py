"""Destroying a booking's payload for good: overwrite, free, then compact the file and its WAL.

SQLite leaves old content in three places: the page that held it (until overwritten), the free
list (until reused) and the WAL (until checkpointed). So a purge overwrites the envelopes with
zeros and frees them (``destroy_payload``; ``secure_delete`` zeroes freed pages), commits, then
compacts (``SqliteStore.compact``: checkpoints the WAL into the main file and truncates it,
rebuilds the file with ``VACUUM``, and truncates the WAL again). Everything destroyed was
sealed anyway; this makes the ciphertext itself go away, so a leaked key later cannot open it.
The metadata, the answers and the audit trail are kept.
"""

from __future__ import annotations

import sqlite_utils

DESTROYED = (("outbox", "payload"), ("bookings", "details"))  # transaction bytes (prints, names); details


def destroy_payload(db: sqlite_utils.Database, tcn: str) -> None:
    """Overwrite and free the payload envelopes of ``tcn`` (inside the caller's transaction)."""
    for table, column in DESTROYED:
        db.execute(f"UPDATE {table} SET {column} = zeroblob(length({column})) WHERE tcn = ?", [tcn])
        db.execute(f"UPDATE {table} SET {column} = NULL WHERE tcn = ?", [tcn])
