"""One process owns the sending side of an outbox: an exclusive ``flock`` on ``<database>.lock``.

The kernel drops the lock when its holder dies, even by SIGKILL, so the next owner knows that any
lease left in the database belongs to a dead process and may release it at once instead of
waiting for it to expire. Technician commands that must not run beside a live sender (retiring
keys) check the lock too.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class OutboxBusy(Exception):
    """Another process owns this outbox's sending side."""


class OwnerLock:
    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._descriptor: int | None = None

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    def acquire(self) -> None:
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(descriptor)
            raise OutboxBusy(f"another process (pid {holder}) is sending from {self.path.stem}") from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        self._descriptor = descriptor

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing the descriptor drops the flock
            self._descriptor = None

    def __enter__(self) -> OwnerLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
