"""One process owns a resource: an exclusive ``flock`` on a lock file that holds the owner's pid.

``OwnerLock`` guards the sending side of an outbox (``<database>.lock``). The kernel drops the
lock when its holder dies, even by SIGKILL, so the next owner knows that any lease left in the
database belongs to a dead process and may release it at once instead of waiting for it to
expire. Technician commands that must not run beside a live sender (retiring keys) check the lock
too. ``ExclusiveLock`` is the same lock on any path (the station daemon's one-instance lock).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path


class LockBusy(Exception):
    """Another process holds this lock."""


class OutboxBusy(LockBusy):
    """Another process owns this outbox's sending side."""


class LockAlreadyHeld(Exception):
    """``acquire`` on a lock this object already holds (a bug in the caller: release it first)."""


class ExclusiveLock:
    """``acquire`` takes the lock or raises ``busy(holder_pid)`` (default ``LockBusy``) at once.

    Not reentrant: acquiring it again while held raises ``LockAlreadyHeld`` (a second descriptor
    would be leaked, or refused as if another process held the lock).
    """

    def __init__(self, path: Path, *, busy: Callable[[str], LockBusy] | None = None) -> None:
        self.path = Path(path)
        self._busy = busy or (lambda holder: LockBusy(f"another process (pid {holder}) holds {self.path}"))
        self._descriptor: int | None = None

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    def acquire(self) -> None:
        if self._descriptor is not None:
            raise LockAlreadyHeld(
                f"{self.path} is already locked by this object; release it before acquiring again"
            )
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(descriptor)
            raise self._busy(holder) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        self._descriptor = descriptor

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing the descriptor drops the flock
            self._descriptor = None

    def __enter__(self) -> ExclusiveLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class OwnerLock(ExclusiveLock):
    def __init__(self, database: Path) -> None:
        path = database.with_name(database.name + ".lock")

        def busy(holder: str) -> LockBusy:
            return OutboxBusy(f"another process (pid {holder}) is sending from {path.stem}")

        super().__init__(path, busy=busy)
