"""Key files: AES-256 keys under ids, in one file readable by its service alone.

Two services use them: the station (its outbox key, ``livescan queue key init | rotate | retire``)
and the centre (``central.key``, ``livescan central key rotate``). Error messages here name no
command; a caller that has one to offer passes it (``create_with``), or wraps the error.

File format (JSON, UTF-8, mode 0600, owned by the service user; the format name predates the
centre's use and stays, so that existing files keep loading)::

    {"format": "livescan-outbox-keys/1",
     "active": "20240315-9f3a61c2",
     "keys": [{"id": "20240101-0b7d44e1", "created": "2024-01-01T09:00:00.000Z", "key": "<base64>"},
              {"id": "20240315-9f3a61c2", "created": "2024-03-15T14:30:05.000Z", "key": "<base64>"}]}

Each key is 32 random bytes (AES-256). New data is sealed under ``active``; every envelope names
its key id (``sync.sealing``), so data sealed under an older key still opens while that key is in
the file.

Rotation (``rotate_key_file``, then re-sealing by the key file's user, e.g. ``Outbox.reseal``):

1. a new key is added and made active (the file is replaced atomically: temporary file, fsync,
   rename, fsync of the directory); a running service picks it up at its next use (``KeyFile``
   re-reads the file when it changes);
2. every stored envelope is re-sealed under the new key;
3. once no envelope names an old key, it can be removed (``retire_keys``; only while no service
   that could still hold the old key in memory is running).

A file that group or others may read or write is refused, with the ``chmod`` that fixes it.
Losing the file loses the data sealed under it: back it up with the same care as the database.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from sync.clock import Clock, timestamp, utc_now
from sync.lock import ExclusiveLock, LockBusy

FORMAT = "livescan-outbox-keys/1"
KEY_BYTES = 32


class KeyFileError(Exception):
    """The key file is missing, unsafe or unreadable; the message says what to do."""


class UnknownKey(KeyFileError):
    def __init__(self, key_id: str, path: Path | None) -> None:
        where = f"the key file {path}" if path else "the key ring"
        super().__init__(
            f"data is sealed under key {key_id!r}, which is not in {where}; restore the key file "
            "from its backup (keys are removed only once no data uses them)"
        )
        self.key_id = key_id


@dataclass(frozen=True)
class KeyEntry:
    id: str
    created: str
    key: bytes

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "created": self.created, "key": base64.b64encode(self.key).decode("ascii")}


@dataclass(frozen=True)
class KeyRing:
    active_id: str
    entries: tuple[KeyEntry, ...]
    path: Path | None = None

    def __post_init__(self) -> None:
        if self.active_id not in self.by_id:
            raise KeyFileError(f"the active key {self.active_id!r} is not among the keys")

    @property
    def by_id(self) -> Mapping[str, bytes]:
        return MappingProxyType({entry.id: entry.key for entry in self.entries})

    @property
    def active_key(self) -> bytes:
        return self.by_id[self.active_id]

    def key(self, key_id: str) -> bytes:
        try:
            return self.by_id[key_id]
        except KeyError:
            raise UnknownKey(key_id, self.path) from None

    def as_json(self) -> dict[str, object]:
        return {"format": FORMAT, "active": self.active_id, "keys": [e.as_json() for e in self.entries]}


def new_entry(clock: Clock = utc_now) -> KeyEntry:
    now = clock()
    return KeyEntry(f"{now:%Y%m%d}-{secrets.token_hex(4)}", timestamp(now), secrets.token_bytes(KEY_BYTES))


def create_key_file(path: Path, clock: Clock = utc_now) -> KeyRing:
    """A new key file with one key; ``KeyFileError`` if ``path`` exists (never overwrite a key)."""
    entry = new_entry(clock)
    ring = KeyRing(entry.id, (entry,), path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} exists; a key file is never overwritten (rotate it instead)") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(ring.as_json(), handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    _fsync_directory(path.parent)
    return ring


def load_key_ring(path: Path, *, create_with: str | None = None) -> KeyRing:
    """The keys in ``path``, after checking that only its owner can read or write it.

    ``create_with``: the command that creates a key file at ``path``, offered when it is missing."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise KeyFileError(_missing(path, create_with)) from None
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"{path} is not a regular file")
    if info.st_mode & 0o077:
        raise KeyFileError(
            f"{path} is open to group or others (mode {stat.S_IMODE(info.st_mode):04o}); a key file must "
            f"be readable by its service only: run `chmod 600 {path}`"
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != FORMAT:
            raise ValueError(f"format {document.get('format')!r}, expected {FORMAT!r}")
        entries = tuple(
            KeyEntry(str(item["id"]), str(item["created"]), base64.b64decode(item["key"], validate=True))
            for item in document["keys"]
        )
        ring = KeyRing(str(document["active"]), entries, path)
    except (ValueError, KeyError, TypeError, binascii.Error, KeyFileError) as exc:
        raise KeyFileError(
            f"{path} is not a readable key file ({exc}): check that it is the key file, else restore it "
            "from its backup"
        ) from None
    short = [entry.id for entry in entries if len(entry.key) != KEY_BYTES]
    if short:
        raise KeyFileError(f"{path}: key(s) {', '.join(short)} are not {KEY_BYTES} bytes")
    return ring


def rotate_key_file(path: Path, clock: Clock = utc_now) -> KeyRing:
    """Add a new key to ``path`` and make it the active one; the older keys stay for reading."""
    with _changing(path):
        ring = load_key_ring(path)
        entry = new_entry(clock)
        rotated = KeyRing(entry.id, (*ring.entries, entry), path)
        _replace(path, rotated)
    return rotated


def retire_keys(path: Path, in_use: Iterable[str]) -> list[str]:
    """Remove the keys of ``path`` that are neither active nor in ``in_use``; the ids removed."""
    with _changing(path):
        ring = load_key_ring(path)
        keep = {ring.active_id, *in_use}
        kept = tuple(entry for entry in ring.entries if entry.id in keep)
        removed = [entry.id for entry in ring.entries if entry.id not in keep]
        if removed:
            _replace(path, KeyRing(ring.active_id, kept, path))
    return removed


@contextmanager
def _changing(path: Path) -> Iterator[None]:
    """Hold ``<path>.lock`` across a read and replace of the key file, so two changes at once cannot
    drop a key one of them added (the replace swaps the file itself, so it cannot be the lock)."""
    lock = ExclusiveLock(path.with_name(path.name + ".lock"))
    try:
        lock.acquire()
    except LockBusy:
        raise KeyFileError(f"another process is changing {path}; wait for it, then try again") from None
    try:
        yield
    finally:
        lock.release()


class KeyFile:
    """The key ring of a file, read again whenever the file changes (a rotation while running; a
    ``chmod`` that opens it up is refused then too). ``create_with`` as for ``load_key_ring``."""

    def __init__(self, path: Path, *, check_now: bool = True, create_with: str | None = None) -> None:
        self.path = path
        self.create_with = create_with
        self._lock = threading.Lock()
        self._signature: tuple[int, ...] | None = None
        self._ring: KeyRing | None = None
        if check_now:
            self.ring()  # fail at start, not at the first booking

    def ring(self) -> KeyRing:
        with self._lock:
            try:
                info = self.path.stat()
                signature = (info.st_ino, info.st_mtime_ns, info.st_size, info.st_mode)
            except FileNotFoundError:
                signature = None
            if self._ring is None or signature != self._signature:
                self._ring = load_key_ring(self.path, create_with=self.create_with)
                self._signature = signature
            return self._ring


def _missing(path: Path, create_with: str | None) -> str:
    restore = "restore it from its backup (data sealed under a lost key cannot be read)"
    if create_with is None:
        return f"no key file at {path}; {restore}"
    return (
        f"no key file at {path}; if nothing was sealed yet, create one with `{create_with}`, else {restore}"
    )


def _replace(path: Path, ring: KeyRing) -> None:
    owner = path.stat()
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            if (owner.st_uid, owner.st_gid) != (os.geteuid(), os.getegid()):
                # root rotating the service's key (`sudo livescan queue key rotate`): still the service's
                os.fchown(handle.fileno(), owner.st_uid, owner.st_gid)
            json.dump(ring.as_json(), handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
