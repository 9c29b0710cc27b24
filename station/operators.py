"""Operator accounts, sign-in with lockout, and kiosk sessions.

* ``OperatorFile``: the accounts (id, display name, role ``officer`` or ``supervisor``, PIN hash) in
  one JSON file, written atomically with mode 0600. A PIN is never stored: only its scrypt hash
  with a per-operator random salt. The file is re-read when it changes on disk, so
  ``livescan station operator add`` takes effect on a running station.
* ``Operators``: sign-in and sessions. After ``max_failures`` consecutive wrong PINs an id is
  locked for ``lockout``; a session ends after ``idle`` without use. An unknown id is treated
  exactly like a known one with a wrong PIN (same message, same counting, same lockout), so the
  kiosk does not reveal which ids exist. Every sign-in, sign-out, failure and lockout is audited.
  Sessions idle for ``idle`` are dropped (and audited as expired) at every sign-in and session
  lookup, so tokens that never come back (a closed browser) do not pile up.
* ``operator`` : the click group ``livescan station operator add | list | remove``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from sync.clock import Clock, utc_now

ROLES = ("officer", "supervisor")
PIN_PATTERN = re.compile(r"[0-9]{4,12}")
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
FILE_VERSION = 1
# scrypt cost: 16 MiB and ~0.1 s per check on a Raspberry Pi 4; stored per operator so it can be raised
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
SIGN_IN_FAILED = "operator id or PIN is wrong"

Audit = Callable[[str, str, str | None], None]  # (actor, event, detail)


class OperatorError(Exception):
    """Base class of the operator and sign-in errors; the message says what to do."""


class OperatorFileError(OperatorError):
    """The operator file is unreadable, malformed or readable by others."""


class BadOperator(OperatorError):
    """An account that cannot be created as asked (bad id, name, role or PIN; duplicate id)."""


class SignInFailed(OperatorError):
    """Operator id or PIN wrong. Deliberately one message for both cases."""

    def __init__(self, attempts_left: int) -> None:
        super().__init__(SIGN_IN_FAILED)
        self.attempts_left = attempts_left


class UnknownOperator(SignInFailed):
    """No operator has this id (shown to the officer exactly as ``WrongPin``)."""


class WrongPin(SignInFailed):
    """The PIN does not match (shown to the officer exactly as ``UnknownOperator``)."""


class LockedOut(OperatorError):
    """Too many wrong PINs in a row: this id may not sign in before ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"too many wrong PINs; sign-in is locked until {until.strftime('%H:%M')}")
        self.until = until


class NotSupervisor(OperatorError):
    """An override needs a supervisor; this operator is an officer."""


class SessionExpired(OperatorError):
    """No session, an unknown one, or one idle for too long: sign in again."""

    def __init__(self, message: str = "your session has ended; sign in again") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Operator:
    id: str
    name: str
    role: str

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    def as_dict(self) -> dict[str, str]:
        return {"operator": self.id, "name": self.name, "role": self.role}


@dataclass
class Session:
    token: str
    operator: Operator
    started: datetime
    last_used: datetime


def hash_pin(pin: str, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> bytes:
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=32)


def _check_pin(pin: str) -> None:
    if not PIN_PATTERN.fullmatch(pin):
        raise BadOperator("a PIN is 4 to 12 digits")


class OperatorFile:
    """The operator accounts in ``path`` (JSON, mode 0600), re-read whenever the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._records: dict[str, dict[str, Any]] = {}

    # --- reading ----------------------------------------------------------------------------

    def operators(self) -> list[Operator]:
        with self._lock:
            records = self._load()
        return [_operator(record) for record in records.values()]

    def get(self, operator_id: str) -> Operator | None:
        with self._lock:
            record = self._load().get(operator_id)
        return None if record is None else _operator(record)

    def verify(self, operator_id: str, pin: str) -> Operator | None:
        """The operator if ``pin`` is theirs; None for a wrong PIN or an unknown id (same cost)."""
        with self._lock:
            record = self._load().get(operator_id)
        salt = bytes.fromhex(record["salt"]) if record else b"\0" * 16
        n, r, p = (record["n"], record["r"], record["p"]) if record else (SCRYPT_N, SCRYPT_R, SCRYPT_P)
        try:
            digest = hash_pin(pin, salt, n, r, p)
        except (UnicodeEncodeError, ValueError):
            return None
        if record is None or not hmac.compare_digest(digest, bytes.fromhex(record["hash"])):
            return None
        return _operator(record)

    # --- writing ----------------------------------------------------------------------------

    def add(self, operator_id: str, name: str, role: str, pin: str) -> Operator:
        if not ID_PATTERN.fullmatch(operator_id):
            raise BadOperator(
                f"operator id {operator_id!r}: use 1-32 letters, digits, '.', '_' or '-', starting with a "
                "letter or digit"
            )
        if not name.strip() or len(name) > 60 or not name.isprintable():
            raise BadOperator("the display name must be 1-60 printable characters")
        if role not in ROLES:
            raise BadOperator(f"role {role!r} is not one of: {', '.join(ROLES)}")
        _check_pin(pin)
        salt = secrets.token_bytes(16)
        record = {
            "id": operator_id,
            "name": name.strip(),
            "role": role,
            "salt": salt.hex(),
            "hash": hash_pin(pin, salt).hex(),
            "n": SCRYPT_N,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
        }
        with self._lock:
            records = dict(self._load())
            if operator_id in records:
                raise BadOperator(f"operator {operator_id} exists already; remove it first to replace it")
            records[operator_id] = record
            self._save(records)
        return _operator(record)

    def remove(self, operator_id: str) -> None:
        with self._lock:
            records = dict(self._load())
            if records.pop(operator_id, None) is None:
                raise BadOperator(f"no operator {operator_id!r} in {self.path}")
            self._save(records)

    # --- the file ---------------------------------------------------------------------------

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._records = None, {}
            return self._records
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        if stamp == self._stamp:
            return self._records
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise OperatorFileError(f"{self.path} can be read by other users; run: chmod 600 {self.path}")
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            if document.get("version") != FILE_VERSION:
                raise ValueError(f"version {document.get('version')!r}, expected {FILE_VERSION}")
            records = {}
            for record in document["operators"]:
                for key, kind in (("id", str), ("name", str), ("role", str), ("salt", str), ("hash", str)):
                    if not isinstance(record.get(key), kind):
                        raise ValueError(f"an operator entry has no valid {key!r}")
                for key in ("n", "r", "p"):
                    if not isinstance(record.get(key), int):
                        raise ValueError(f"operator {record['id']!r} has no valid {key!r}")
                if record["role"] not in ROLES:
                    raise ValueError(f"operator {record['id']!r} has role {record['role']!r}")
                records[record["id"]] = record
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise OperatorFileError(
                f"{self.path} is not a valid operator file ({exc}); restore it from backup or recreate it "
                "with `livescan station operator add`"
            ) from None
        self._stamp, self._records = stamp, records
        return records

    def _save(self, records: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"version": FILE_VERSION, "operators": list(records.values())}
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        self._stamp = None


def _operator(record: dict[str, Any]) -> Operator:
    return Operator(record["id"], record["name"], record["role"])


def _actor(typed_id: str) -> str:
    """What an audit entry names for a typed id: the id itself if it could be one, else a placeholder."""
    return typed_id if ID_PATTERN.fullmatch(typed_id) else "(invalid id)"


@dataclass
class _Failures:
    last: datetime  # the latest failure
    count: int = 0
    locked_until: datetime | None = None

    def stale(self, now: datetime, lockout: timedelta) -> bool:
        """Nothing to remember any more: the lockout has ended, or no failure for ``lockout``."""
        if self.locked_until is not None:
            return self.locked_until <= now
        return now - self.last >= lockout


class Operators:
    """Sign-in, lockout and sessions over an ``OperatorFile``. Thread-safe."""

    # Failure counters are kept for at most this many ids (unknown ids included). A counter is never
    # dropped while it matters: when the table is full of live ones, untracked ids are refused
    # (fail closed) rather than letting a flood of ids reset a locked id's counter.
    MAX_TRACKED_IDS = 1000

    def __init__(
        self,
        accounts: OperatorFile,
        *,
        audit: Audit = lambda actor, event, detail: None,
        clock: Clock = utc_now,
        max_failures: int = 5,
        lockout: timedelta = timedelta(minutes=15),
        idle: timedelta = timedelta(minutes=30),
    ) -> None:
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        self.accounts = accounts
        self.max_failures = max_failures
        self.lockout = lockout
        self.idle = idle
        self._audit = audit
        self._clock = clock
        self._lock = threading.Lock()
        self._checking = threading.Lock()
        self._failures: dict[str, _Failures] = {}
        self._sessions: dict[str, Session] = {}

    def sign_in(self, operator_id: str, pin: str) -> Session:
        """A new session, or ``UnknownOperator``/``WrongPin`` (with attempts left) or ``LockedOut``."""
        found = self._check(operator_id, pin, purpose="sign-in")
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), found, now, now)
        with self._lock:
            expired = self._drop_idle(now)
            self._sessions[session.token] = session
        self._audit_expired(expired)
        self._audit(found.id, "signed_in", None)
        return session

    def verify_supervisor(self, operator_id: str, pin: str) -> Operator:
        """The supervisor whose id and PIN these are (same counting and lockout as a sign-in)."""
        found = self._check(operator_id, pin, purpose="supervisor override")
        if not found.is_supervisor:
            self._audit(found.id, "override_refused", "not a supervisor")
            raise NotSupervisor(f"{found.name} is not a supervisor; a supervisor must approve this")
        return found

    def session(self, token: str | None) -> Session:
        """The live session for ``token`` (its idle time restarts), else ``SessionExpired``."""
        now = self._clock()
        with self._lock:
            expired = self._drop_idle(now)
            session = self._sessions.get(token or "")
            if session is not None:
                session.last_used = now
        self._audit_expired(expired)
        if session is not None:
            return session
        if any(old.token == token for old in expired):
            raise SessionExpired("the station locked itself after being idle; sign in again")
        raise SessionExpired()

    def sessions(self) -> int:
        """How many sessions are held (live, or idle and not purged yet)."""
        with self._lock:
            return len(self._sessions)

    def _drop_idle(self, now: datetime) -> list[Session]:
        """Remove the sessions idle for ``idle`` (lock held); the ones removed."""
        idle = [session for session in self._sessions.values() if now - session.last_used >= self.idle]
        for session in idle:
            del self._sessions[session.token]
        return idle

    def _audit_expired(self, sessions: list[Session]) -> None:
        minutes = int(self.idle.total_seconds() // 60)
        for session in sessions:
            self._audit(session.operator.id, "session_expired", f"idle {minutes} min")

    def active(self, token: str | None) -> bool:
        """Whether ``token`` is a live session, without counting this as use."""
        with self._lock:
            session = self._sessions.get(token or "")
            return session is not None and self._clock() - session.last_used < self.idle

    def sign_out(self, token: str | None, *, reason: str = "signed_out") -> Operator | None:
        """End the session (``reason`` e.g. "locked"); the operator it belonged to, or None."""
        with self._lock:
            session = self._sessions.pop(token or "", None)
        if session is None:
            return None
        self._audit(session.operator.id, reason, None)
        return session.operator

    def sign_out_all(self, reason: str = "station stopped") -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            self._audit(session.operator.id, "signed_out", reason)

    def locked_until(self, operator_id: str) -> datetime | None:
        with self._lock:
            entry = self._failures.get(operator_id)
            until = entry.locked_until if entry else None
        return until if until and until > self._clock() else None

    def _check(self, operator_id: str, pin: str, *, purpose: str) -> Operator:
        # One check at a time: parallel guesses would all pass the lockout test before any failed.
        with self._checking:
            return self._check_now(operator_id, pin, purpose)

    def _check_now(self, operator_id: str, pin: str, purpose: str) -> Operator:
        actor = _actor(operator_id)
        now = self._clock()
        with self._lock:
            entry = self._failures.get(operator_id)
            if entry is not None and entry.locked_until is not None and entry.locked_until <= now:
                del self._failures[operator_id]
                entry = None
            if entry is None and len(self._failures) >= self.MAX_TRACKED_IDS:
                for stale in [key for key, kept in self._failures.items() if kept.stale(now, self.lockout)]:
                    del self._failures[stale]
            full = entry is None and len(self._failures) >= self.MAX_TRACKED_IDS
            until = entry.locked_until if entry is not None else (now + self.lockout if full else None)
        if until is not None:
            detail = "locked out" if not full else "too many ids failing; every untracked id is refused"
            self._audit(actor, "sign_in_refused", f"{purpose}: {detail}")
            raise LockedOut(until)
        found = self.accounts.verify(operator_id, pin) if PIN_PATTERN.fullmatch(pin or "") else None
        if found is not None:
            with self._lock:
                self._failures.pop(operator_id, None)
            return found
        known = self.accounts.get(operator_id) is not None
        with self._lock:
            entry = self._failures.setdefault(operator_id, _Failures(now))
            entry.last = now
            entry.count += 1
            count = entry.count
            if count >= self.max_failures:
                entry.locked_until = now + self.lockout
        reason = "wrong PIN" if known else "unknown operator id"
        self._audit(actor, "sign_in_failed", f"{purpose}: {reason} ({count} in a row)")
        if count >= self.max_failures:
            self._audit(actor, "locked_out", f"{count} failures; until {entry.locked_until.isoformat()}")
            raise LockedOut(entry.locked_until)
        error = WrongPin if known else UnknownOperator
        raise error(self.max_failures - count)


# --- livescan station operator ... ----------------------------------------------------------------

DEFAULT_FILE = Path("/var/lib/livescan/operators.json")

_file_option = click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LIVESCAN_OPERATORS",
    default=DEFAULT_FILE,
    show_default=True,
    help="the operator file the station reads (station.toml: storage.operators)",
)


def _fail(exc: OperatorError) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group()
def operator() -> None:
    """Operator accounts of the kiosk: add, list, remove. PINs are stored only as scrypt hashes."""


@operator.command("add")
@click.argument("operator_id")
@click.option("--name", required=True, help="display name shown on the kiosk")
@click.option("--role", type=click.Choice(ROLES), default="officer", show_default=True)
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True, help="4-12 digits (prompted)")
@_file_option
def operator_add(operator_id: str, name: str, role: str, pin: str, path: Path) -> None:
    """Add an operator."""
    try:
        added = OperatorFile(path).add(operator_id, name, role, pin)
    except OperatorError as exc:
        raise _fail(exc) from None
    click.echo(f"added {added.role} {added.id} ({added.name}) to {path}")


@operator.command("list")
@_file_option
def operator_list(path: Path) -> None:
    """List the operators (never their PINs)."""
    try:
        found = OperatorFile(path).operators()
    except OperatorError as exc:
        raise _fail(exc) from None
    if not found:
        click.echo(f"no operators in {path}; add one with `livescan station operator add`")
    for entry in sorted(found, key=lambda o: o.id):
        click.echo(f"{entry.id:<20} {entry.role:<11} {entry.name}")


@operator.command("remove")
@click.argument("operator_id")
@_file_option
def operator_remove(operator_id: str, path: Path) -> None:
    """Remove an operator."""
    try:
        OperatorFile(path).remove(operator_id)
    except OperatorError as exc:
        raise _fail(exc) from None
    click.echo(f"removed {operator_id} from {path}")
