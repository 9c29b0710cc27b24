"""``sync.lock``: one owner per lock file, and a second ``acquire`` on a held lock is an error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sync.lock import ExclusiveLock, LockAlreadyHeld, LockBusy


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_second_acquire_on_a_held_lock_is_refused_without_a_new_descriptor(tmp_path: Path) -> None:
    lock = ExclusiveLock(tmp_path / "station.lock")
    lock.acquire()
    try:
        before = _open_descriptors()
        with pytest.raises(LockAlreadyHeld, match="release it before acquiring again"):
            lock.acquire()
        assert _open_descriptors() == before and lock.held
    finally:
        lock.release()
    lock.acquire()  # released: it can be taken again
    lock.release()
    assert not lock.held


def test_a_replaced_lock_file_does_not_let_a_second_acquire_leak_the_first(tmp_path: Path) -> None:
    """Before, a lock file replaced under a held lock let ``acquire`` lock the new file and lose the
    first descriptor, which then held the old lock until the process ended."""
    path = tmp_path / "station.lock"
    lock = ExclusiveLock(path)
    lock.acquire()
    path.unlink()
    before = _open_descriptors()
    with pytest.raises(LockAlreadyHeld):
        lock.acquire()
    assert _open_descriptors() == before
    lock.release()


def test_another_holder_is_still_busy_with_its_pid(tmp_path: Path) -> None:
    path = tmp_path / "station.lock"
    with ExclusiveLock(path):
        before = _open_descriptors()
        with pytest.raises(LockBusy, match=f"pid {os.getpid()}"):
            ExclusiveLock(path).acquire()
        assert _open_descriptors() == before
