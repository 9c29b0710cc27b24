"""The station's audit log: one append-only, hash-chained table in the outbox database.

Every entry is ``(id, at, actor, event, tcn, detail)`` plus its chain columns::

    key_id     the outbox key (``sync.keyring``) the entry's MAC key is derived from
    prev_hash  the previous entry's ``hash`` (``GENESIS``, 64 zeros, for the first entry)
    hash       HMAC-SHA-256(K, canonical(entry, key_id, prev_hash)), hex

where ``K = HKDF-SHA-256(outbox key <key_id>, info="livescan audit chain/1")``, a key used for
nothing else. Why a keyed MAC and not a plain SHA-256: whoever can edit the database file could
recompute a plain hash chain after changing an entry; without the key file (mode 0600, the
service's) they cannot forge a MAC. The canonical encoding is the compact JSON array
``["livescan-audit/1", id, at, actor, event, tcn, detail, key_id, prev_hash]`` in UTF-8.

What ``verify`` catches: an entry altered (its MAC no longer matches), deleted, inserted or moved
(the next entry's ``prev_hash`` no longer names its predecessor), or its chain columns blanked.
What no chain inside the file can catch: the newest entries cut off the end. For that a head
(``ChainReport.head``, printed by ``livescan audit verify``; the hash on the last line of an export)
must be kept off the station and checked later with ``verify(anchor=...)``: the log must still
contain it. The centre keeps them: every delivery and every poll for an answer carries the outbox's
head (``AuditHead``, ``<entry id>:<hash>``, in the ``Livescan-Audit-Head`` header; not personal
data), the sync worker sends it alone every 10 minutes when it has changed, and the centre records
each distinct head per station, warning in its log when a station's head goes back. To check a
station, read its head at the centre (``livescan central audit-heads --station ORI/ID``) and run
``livescan audit verify --anchor HASH`` on the station: a failure means entries were cut off the
end, or the chain was re-started. Entries written since the last head the centre received are
covered from the next one on.

Keys: each entry is MACed under the outbox key active when it was written. ``Outbox.reseal``
(after a key rotation) re-keys the whole chain under the new key, but only once ``verify`` has
passed, so a rotation never launders a broken chain; it then appends an "audit chain re-keyed"
entry naming the head before. Heads recorded before a rotation (the centre's too) are superseded
by that entry: check against a head the centre received after it.

Entries written before the chain existed (schema version 1) are chained as found, once, the first
time the outbox opens with a key and no chained entry exists; an "audit chain started" entry then
says how many. They were never protected before that moment. The same rule means that someone
who can write the database file and blanks the chain columns of EVERY entry gets them chained
again at the next open, edits included, behind a new "audit chain started" entry: only an anchor
kept off the station (above: the centre's) shows that. Treat an "audit chain started" entry on a
station that had a chain before as tampering.

No field ever carries personal data: the rule is at ``AuditChain.append`` and ``Outbox.audit``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

import sqlite_utils
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sync.clock import timestamp
from sync.keyring import KeyRing, UnknownKey
from sync.outbox.database import OutboxError
from sync.outbox.records import AuditEntry

GENESIS = "0" * 64
FORMAT = "livescan-audit/1"
_INFO = b"livescan audit chain/1"
_COLUMNS = "id, at, actor, event, tcn, detail, key_id, prev_hash, hash"
MAX_ACTOR = 64
MAX_EVENT = 64
MAX_DETAIL = 500
_EVENT = re.compile(r"[A-Za-z][A-Za-z0-9 _.:/-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HEAD = re.compile(r"([1-9][0-9]{0,18}):([0-9a-f]{64})")
AUDIT_HEAD_HEADER = "Livescan-Audit-Head"  # a delivery's or poll's header carrying ``str(AuditHead)``
STARTED = "audit chain started"
REKEYED = "audit chain re-keyed"
SYSTEM = "outbox"


class AuditEntryRejected(OutboxError):
    """An audit entry with a missing, over-long or multi-line field; nothing was written."""


class MalformedAuditHead(ValueError):
    """Text that is not an audit head ``<entry id>:<64 lower-case hex digits>``."""


@dataclass(frozen=True)
class AuditHead:
    """The last entry of the log: its id and hash. ``str()`` is the wire form ``<id>:<hash>``."""

    entry_id: int
    hash: str

    def __str__(self) -> str:
        return f"{self.entry_id}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> AuditHead:
        """The head written as ``str(head)``; ``MalformedAuditHead`` for anything else."""
        found = _HEAD.fullmatch(text.strip())
        if found is None:
            raise MalformedAuditHead(
                f"{text[:80]!r} is not an audit head: write <entry id>:<64 lower-case hex digits>, "
                "as `livescan audit verify` prints the head"
            )
        return cls(int(found.group(1)), found.group(2))


def read_head(db: sqlite_utils.Database) -> AuditHead | None:
    """The last entry's id and hash, read without verifying; None for an empty log or an unchained
    last entry (a log from before the chain, chained at the next open with the key)."""
    row = db.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None or row[1] is None else AuditHead(row[0], row[1])


class AuditChainBroken(OutboxError):
    """The audit chain does not verify; ``report`` says at which entry and why."""

    def __init__(self, report: ChainReport) -> None:
        super().__init__(report.summary())
        self.report = report


@dataclass(frozen=True)
class ChainReport:
    """What ``verify`` found: ``broken_id`` and ``problem`` name the first entry that fails."""

    entries: int  # entries checked (up to and including the broken one)
    head: str | None  # the hash of the last good entry; None for an empty log
    broken_id: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None and self.problem is None

    def summary(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.entries} entries, head {self.head or GENESIS}"
        where = f"entry {self.broken_id}" if self.broken_id is not None else "the log"
        return f"audit chain broken at {where}: {self.problem}"

    def raise_if_broken(self) -> None:
        if not self.ok:
            raise AuditChainBroken(self)


def check_entry(actor: str, event: str, tcn: str | None, detail: str | None) -> None:
    """Refuse what cannot be an audit entry (``AuditEntryRejected``): see ``append``."""
    problems = []
    if not isinstance(actor, str) or not actor.strip() or len(actor) > MAX_ACTOR or _CONTROL.search(actor):
        problems.append(f"actor must be an operator or service id of 1-{MAX_ACTOR} printable characters")
    if not isinstance(event, str) or len(event) > MAX_EVENT or not _EVENT.fullmatch(event):
        problems.append(
            f"event must be a short phrase of 1-{MAX_EVENT} letters, digits, spaces or _.:/- "
            f"starting with a letter, got {event!r}"
        )
    if tcn is not None and (not isinstance(tcn, str) or not tcn or len(tcn) > 40 or _CONTROL.search(tcn)):
        problems.append("tcn must be a TCN (up to 40 printable characters) or None")
    if detail is not None and (
        not isinstance(detail, str) or len(detail) > MAX_DETAIL or _CONTROL.search(detail)
    ):
        problems.append(f"detail must be one line of at most {MAX_DETAIL} characters, or None")
    if problems:
        raise AuditEntryRejected("audit entry refused: " + "; ".join(problems))


def canonical(
    entry_id: int,
    at: str,
    actor: str,
    event: str,
    tcn: str | None,
    detail: str | None,
    key_id: str,
    prev_hash: str,
) -> bytes:
    """The bytes an entry's MAC covers."""
    fields = [FORMAT, entry_id, at, actor, event, tcn, detail, key_id, prev_hash]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class AuditChain:
    """Appends, verifies, exports and re-keys the ``audit`` table; MAC keys come from ``ring()``."""

    def __init__(self, ring: Callable[[], KeyRing]) -> None:
        self._ring = ring
        self._mac_keys: dict[str, bytes] = {}  # an id always names the same key bytes

    def append(
        self,
        db: sqlite_utils.Database,
        at: str,
        actor: str,
        event: str,
        tcn: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one entry inside the caller's write transaction (``BEGIN IMMEDIATE``: the last
        hash read here cannot change before the commit).

        The rule for callers: ``actor`` is an operator id or a service name ("sync", "retention"),
        never a person's name; ``event`` a fixed phrase ("signed in", "override", "viewed results");
        ``tcn`` the booking's TCN; ``detail`` counts, finger positions, codes, key ids and reasons in
        fixed words ("fgp 7 nfiq2 22 < 30", "3 failures"). Never names, dates of birth, case or
        record numbers, addresses, PINs, image data, or free text an officer typed.
        """
        check_entry(actor, event, tcn, detail)
        self._append(db, at, actor, event, tcn, detail)

    def record(
        self,
        db: sqlite_utils.Database,
        at: str,
        actor: str,
        event: str,
        tcn: str | None = None,
        detail: str | None = None,
    ) -> None:
        """``append`` for the outbox's own entries, whose details quote errors from elsewhere (an
        HTTP client's message can be long, or span lines): tidied to one line of ``MAX_DETAIL``
        characters instead of refused, so recording a state change never fails on its wording."""
        if detail is not None:
            detail = _CONTROL.sub(" ", detail)
            detail = detail if len(detail) <= MAX_DETAIL else detail[: MAX_DETAIL - 1] + "…"
        self._append(db, at, actor, event, tcn, detail)

    def _append(
        self, db: sqlite_utils.Database, at: str, actor: str, event: str, tcn: str | None, detail: str | None
    ) -> None:
        key_id = self._ring().active_id
        last = db.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        entry_id = (last[0] + 1) if last else 1
        prev_hash = (last[1] or GENESIS) if last else GENESIS
        digest = self._mac(key_id, canonical(entry_id, at, actor, event, tcn, detail, key_id, prev_hash))
        db.execute(
            f"INSERT INTO audit ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [entry_id, at, actor, event, tcn, detail, key_id, prev_hash, digest],
        )

    def verify(self, db: sqlite_utils.Database, *, anchor: str | None = None) -> ChainReport:
        """Walk the chain from the first entry; the first entry that fails, or the head.

        ``anchor``: a head recorded earlier (off the station); the log must still contain it, or
        entries were cut off the end.
        """
        count, previous, anchor_seen = 0, GENESIS, anchor is None
        head: str | None = None
        for row in db.execute(f"SELECT {_COLUMNS} FROM audit ORDER BY id"):
            entry_id, at, actor, event, tcn, detail, key_id, prev_hash, digest = row
            count += 1
            problem = None
            if digest is None or key_id is None or prev_hash is None:
                problem = "it has no chain hash (blanked, or inserted by hand)"
            elif prev_hash != previous:
                problem = (
                    "it does not follow the entry before it: an entry was deleted, inserted or moved here"
                )
            else:
                try:
                    expected = self._mac(
                        key_id, canonical(entry_id, at, actor, event, tcn, detail, key_id, prev_hash)
                    )
                except UnknownKey:
                    problem = f"its key {key_id!r} is not in the key file; restore the key file from backup"
                else:
                    if not hmac.compare_digest(expected, digest):
                        problem = "its content was altered (the MAC does not match)"
            if problem:
                return ChainReport(count, head, entry_id, problem)
            previous = head = digest
            anchor_seen = anchor_seen or digest == anchor
        if not anchor_seen:
            return ChainReport(
                count, head, None, f"the anchor {anchor} is not in the log: entries were cut off its end"
            )
        return ChainReport(count, head)

    def rekey(self, db: sqlite_utils.Database, at: str, actor: str) -> int:
        """Re-MAC every entry from the first one not under the active key, after ``verify`` passed
        (inside the caller's write transaction); then append a "re-keyed" entry. How many re-keyed."""
        active = self._ring().active_id
        first = db.execute("SELECT min(id) FROM audit WHERE key_id IS NOT ?", [active]).fetchone()[0]
        if first is None:
            return 0
        report = self.verify(db)
        if not report.ok:
            raise AuditChainBroken(report)
        row = db.execute("SELECT hash FROM audit WHERE id < ? ORDER BY id DESC LIMIT 1", [first]).fetchone()
        count = self._rechain(db, first, row[0] if row else GENESIS)
        detail = f"{count} entries re-keyed to key {active}; head before {report.head}"
        self.append(db, at, actor, REKEYED, None, detail)
        return count

    def adopt_legacy(self, db: sqlite_utils.Database, at: str) -> int:
        """Chain the entries written before the chain existed, if no entry is chained yet (inside the
        caller's write transaction); how many. Once any entry is chained, unchained ones are
        tampering and left for ``verify`` to report."""
        if db.execute("SELECT 1 FROM audit WHERE hash IS NOT NULL LIMIT 1").fetchone():
            return 0
        count = self._rechain(db, 0, GENESIS)
        if count:
            self.append(db, at, SYSTEM, STARTED, None, f"{count} earlier entries chained as found")
        return count

    def key_ids(self, db: sqlite_utils.Database) -> set[str]:
        """The outbox keys some entry's MAC depends on."""
        rows = db.execute("SELECT DISTINCT key_id FROM audit WHERE key_id IS NOT NULL")
        return {key_id for (key_id,) in rows}

    def _rechain(self, db: sqlite_utils.Database, first: int, previous: str) -> int:
        """MAC the entries from id ``first`` on under the active key, after ``previous``; how many."""
        active = self._ring().active_id
        rows = db.execute(
            "SELECT id, at, actor, event, tcn, detail FROM audit WHERE id >= ? ORDER BY id", [first]
        ).fetchall()
        for entry_id, at, actor, event, tcn, detail in rows:
            digest = self._mac(active, canonical(entry_id, at, actor, event, tcn, detail, active, previous))
            db.execute(
                "UPDATE audit SET key_id = ?, prev_hash = ?, hash = ? WHERE id = ?",
                [active, previous, digest, entry_id],
            )
            previous = digest
        return len(rows)

    def _mac(self, key_id: str, message: bytes) -> str:
        key = self._mac_keys.get(key_id)
        if key is None:
            outbox_key = self._ring().key(key_id)
            key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(outbox_key)
            self._mac_keys[key_id] = key
        return hmac.new(key, message, hashlib.sha256).hexdigest()


def iter_entries(db: sqlite_utils.Database, *, since: str | None = None) -> Iterator[AuditEntry]:
    """Every entry (``at >= since`` if given), oldest first, chain columns included."""
    where, params = ("WHERE at >= ?", [since]) if since else ("", [])
    for row in db.query(f"SELECT {_COLUMNS} FROM audit {where} ORDER BY id", params):
        yield AuditEntry(**row)


def export_jsonl(db: sqlite_utils.Database, out: TextIO, *, since: str | None = None) -> int:
    """Write the entries as JSON lines (one object per entry, chain columns included); how many."""
    count = 0
    for entry in iter_entries(db, since=since):
        out.write(json.dumps(entry.as_dict(), ensure_ascii=False, separators=(", ", ": ")) + "\n")
        count += 1
    return count


def since_timestamp(text: str) -> str:
    """``2024-03-15`` or an ISO 8601 time (UTC if no offset) as the stored form, for ``since``."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date or time; write 2024-03-15 or 2024-03-15T14:30:00Z"
        ) from None
    return timestamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
