"""``Outbox``: the only code that writes the outbox tables.

    outbox = Outbox(path, KeyFile(key_path))
    issuer = TcnIssuer(ori, station_id, clock, outbox.next_sequence)   # the persistent TCN counter
    tcn = outbox.submit(encode(booking, now=...), actor="officer-17")   # durable once it returns

Every change of state is one ``BEGIN IMMEDIATE`` transaction with its audit entry. Moves are
checked against ``states.TRANSITIONS`` in the UPDATE itself (``WHERE state IN (...)``), and the
outcome of a send is recorded only while the sender still holds the lease, so a sender that lost
its lease cannot overwrite what the new holder recorded. Personal data goes in sealed (AES-GCM)
only; log lines and audit details carry TCNs, counts and field numbers, never values. The audit
table is the station's audit log, hash-chained under a key from the outbox key file (``audit``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import sqlite_utils

from sync.clock import Clock, parse_timestamp, timestamp, utc_now
from sync.crashpoints import (
    ACKNOWLEDGE_WRITTEN,
    RECEIPT_WRITTEN,
    RESULTS_WRITTEN,
    SUBMIT_COMMITTED,
    SUBMIT_WRITTEN,
    CrashPoint,
    no_crash_point,
)
from sync.keyring import KeyFile, KeyFileError, KeyRing
from sync.outbox import retention
from sync.outbox.audit import AuditChain, AuditHead, ChainReport, export_jsonl, iter_entries, read_head
from sync.outbox.database import OutboxDatabase, OutboxError
from sync.outbox.records import ITEM_COLUMNS, ITEM_FROM, AuditEntry, Claim, OutboxItem
from sync.outbox.states import (
    ACCEPTED,
    ACKNOWLEDGED,
    DEAD,
    PURGEABLE,
    QUEUED,
    REJECTED,
    RESPONDED,
    SENDING,
    STATES,
    sources,
)
from sync.sealing import HEADER_BYTES, Sealer, envelope_key_id
from sync.transaction import Booking, TransactionError, decode

log = logging.getLogger(__name__)
Listener = Callable[[], None]
SYSTEM = "sync"  # the actor of what the sync worker does


class Outbox:
    def __init__(
        self,
        path: Path,
        keys: KeyFile | KeyRing,
        *,
        clock: Clock = utc_now,
        crash_point: CrashPoint = no_crash_point,
        create: bool = True,
    ) -> None:
        self.path = path
        self.database = OutboxDatabase(path, create=create, clock=clock)
        self._sealer = Sealer(keys)
        self._clock = clock
        self._crash_point = crash_point
        self._listeners: list[Listener] = []
        self._chain = AuditChain(self._sealer.ring)
        if self.database.db().execute("SELECT 1 FROM audit WHERE hash IS NULL LIMIT 1").fetchone():
            try:
                with self.database.write() as db:
                    self._chain.adopt_legacy(db, timestamp(clock()))
            except KeyFileError as exc:  # a read-only tool without the key: the next open with it does it
                log.warning("audit entries from before the chain are not chained yet: %s", exc)

    def close(self) -> None:
        self.database.close()

    def on_queued(self, listener: Listener) -> None:
        """Call ``listener`` after each commit that makes an item due to be sent (wakes the worker)."""
        self._listeners.append(listener)

    # --- the officer's side ------------------------------------------------------------------

    def next_sequence(self) -> int:
        """The next number of the station's TCN sequence (``TcnIssuer``'s source), durable at once."""
        with self.database.write() as db:
            rows = db.execute(
                "INSERT INTO counters (name, value) VALUES ('tcn', 1) "
                "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value"
            ).fetchall()  # fetch all: an unfinished RETURNING statement would keep the write lock
        return rows[0][0]

    def submit(self, transaction: bytes, *, actor: str) -> str:
        """Queue an encoded booking: booking, outbox row and audit entry in one transaction; its TCN.

        Once this returns, the booking survives a crash or power loss and will be delivered.
        """
        try:
            booking = decode(transaction)
        except TransactionError as exc:
            raise OutboxError(
                f"the transaction does not read back ({len(exc.problems)} problem(s)); nothing was queued"
            ) from exc
        tcn = booking.header.tcn
        now = timestamp(self._clock())
        details = json.dumps(_details(booking)).encode("utf-8")
        try:
            with self.database.write() as db:
                db["bookings"].insert(
                    {
                        "tcn": tcn,
                        "created_at": now,
                        "submitted_by": actor,
                        "details": self._sealer.seal(details, _context("details", tcn)),
                    }
                )
                db["outbox"].insert(
                    {
                        "tcn": tcn,
                        "state": QUEUED,
                        "payload": self._sealer.seal(transaction, _context("payload", tcn)),
                        "size": len(transaction),
                        "sha256": hashlib.sha256(transaction).hexdigest(),
                        "queued_at": now,
                        "next_attempt_at": now,
                    }
                )
                self._audit(
                    db, actor, "queued", tcn, f"{len(transaction)} bytes, {len(booking.fingers)} prints"
                )
                self._crash_point(SUBMIT_WRITTEN)
        except sqlite3.IntegrityError:
            if self.item(tcn) is None:
                raise
            raise OutboxError(f"{tcn} is already in the outbox; a booking is queued once") from None
        self._crash_point(SUBMIT_COMMITTED)
        self._notify()
        return tcn

    def acknowledge(self, tcn: str, actor: str) -> bool:
        """An officer has seen the answer; False if it was acknowledged already."""
        now = timestamp(self._clock())
        with self.database.write() as db:
            moved = self._move(db, tcn, ACKNOWLEDGED, {})
            if moved:
                db.execute(
                    "UPDATE bookings SET acknowledged_at = ?, acknowledged_by = ? WHERE tcn = ?",
                    [now, actor, tcn],
                )
                self._audit(db, actor, "acknowledged", tcn)
                self._crash_point(ACKNOWLEDGE_WRITTEN)
        if not moved:
            state = self._state(tcn)
            if state != ACKNOWLEDGED:
                raise OutboxError(f"{tcn} is {state}: only an answered booking can be acknowledged")
        return moved

    def details(self, tcn: str, actor: str) -> dict[str, Any]:
        """The booking's name, dates of birth, case number and fingers (an audited read)."""
        envelope = self._column("bookings", "details", tcn)
        self._audit_read(actor, "viewed details", tcn)
        return json.loads(self._sealer.open(envelope, _context("details", tcn)))

    def results(self, tcn: str, actor: str) -> dict[str, Any]:
        """The centre's answers by kind ("criminal", "immigration") (an audited read)."""
        rows = self.database.db().execute("SELECT kind, body FROM responses WHERE tcn = ?", [tcn]).fetchall()
        self._audit_read(actor, "viewed results", tcn)
        return {
            kind: json.loads(self._sealer.open(body, _context(f"response:{kind}", tcn)))
            for kind, body in rows
        }

    def problems(self, tcn: str, actor: str) -> list[dict[str, str]]:
        """The centre's reasons for a rejection (they may quote the booking: an audited read)."""
        envelope = self._column("outbox", "problems", tcn)
        self._audit_read(actor, "viewed problems", tcn)
        return json.loads(self._sealer.open(envelope, _context("problems", tcn)))

    def audit(self, actor: str, event: str, tcn: str | None = None, detail: str | None = None) -> None:
        """Record a station event in the audit log (its own transaction; durable once it returns).

        For sign-in and sign-out and their failures, captures, overrides, submissions, viewing a
        response, purges and configuration changes. ``actor`` is an operator id or service name,
        ``event`` a fixed phrase, ``tcn`` the booking's TCN if there is one, ``detail`` counts,
        finger positions, codes and reasons in fixed words. NEVER personal data in any field: no
        names, dates of birth, case numbers, addresses, PINs, images or text an officer typed.
        ``AuditEntryRejected`` for an empty, over-long or multi-line field.
        """
        with self.database.write() as db:
            self._chain.append(db, timestamp(self._clock()), actor, event, tcn, detail)

    def verify_audit(self, *, anchor: str | None = None) -> ChainReport:
        """Walk the audit chain: the first entry altered, deleted, inserted or moved, or the head.
        ``anchor``: a head recorded earlier, which the log must still contain."""
        return self._chain.verify(self.database.db(), anchor=anchor)

    def audit_head(self) -> AuditHead | None:
        """The last audit entry's id and hash (one indexed read, no verify); None for an empty log.
        Sent to the centre (``sync.worker``), which keeps it as an anchor off the station."""
        return read_head(self.database.db())

    def audit_entries(self, since: str | None = None) -> Iterator[AuditEntry]:
        """Every audit entry (at or after the timestamp ``since``), oldest first, chain included."""
        return iter_entries(self.database.db(), since=since)

    def export_audit(self, out: TextIO, since: str | None = None) -> int:
        """The audit log as JSON lines on ``out`` (at or after ``since``); how many entries."""
        return export_jsonl(self.database.db(), out, since=since)

    # --- the sync worker's side --------------------------------------------------------------

    def claim(self, owner: str, lease: timedelta) -> Claim | None:
        """Lease the oldest item due to be sent (or whose lease expired) to ``owner``; None if none."""
        now = self._clock()
        with self.database.write() as db:
            params = {"owner": owner, "now": timestamp(now), "expires": timestamp(now + lease)}
            rows = db.execute(_CLAIM, params).fetchall()  # all: an unfinished RETURNING keeps the lock
        if not rows:
            return None
        tcn, attempts, queued_at = rows[0]
        return Claim(tcn, owner, attempts, parse_timestamp(queued_at), now + lease)

    def payload(self, tcn: str) -> bytes:
        envelope = self._column("outbox", "payload", tcn)
        return self._sealer.open(envelope, _context("payload", tcn))

    def accepted(self, claim: Claim, receipt: Mapping[str, Any], poll_at: datetime) -> bool:
        """The centre's receipt for a claimed item; False if the lease was no longer ``claim``'s."""
        with self.database.write() as db:
            moved = self._move(
                db, claim.tcn, ACCEPTED,
                {
                    "accepted_at": timestamp(self._clock()), "receipt": json.dumps(dict(receipt)),
                    "next_attempt_at": timestamp(poll_at), "last_error": None, **_NO_LEASE,
                },
                claim=claim,
            )  # fmt: skip
            if moved:
                self._audit(db, SYSTEM, "accepted", claim.tcn, f"attempt {claim.attempt}")
                self._crash_point(RECEIPT_WRITTEN)
        return moved

    def retry_later(self, claim: Claim, at: datetime, error: str) -> bool:
        with self.database.write() as db:
            return self._move(
                db, claim.tcn, QUEUED, {"next_attempt_at": timestamp(at), "last_error": error, **_NO_LEASE},
                claim=claim,
            )  # fmt: skip

    def give_up(self, claim: Claim, error: str) -> bool:
        """Dead letter: delivery gave up on a claimed item (the worker also logs it loudly)."""
        with self.database.write() as db:
            moved = self._move(
                db, claim.tcn, DEAD,
                {"last_error": error, "closed_at": timestamp(self._clock()), **_NO_LEASE},
                claim=claim,
            )  # fmt: skip
            if moved:
                self._audit(db, SYSTEM, "dead", claim.tcn, error)
        return moved

    def rejected(
        self, tcn: str, problems: list[dict[str, str]], reason: str, *, claim: Claim | None = None
    ) -> bool:
        """The centre refused the booking, with ``problems``; from a send (``claim``) or a poll."""
        sealed = self._sealer.seal(json.dumps(problems).encode("utf-8"), _context("problems", tcn))
        changes = {
            "problems": sealed,
            "last_error": reason,
            "closed_at": timestamp(self._clock()),
            **_NO_LEASE,
        }
        with self.database.write() as db:
            moved = self._move(db, tcn, REJECTED, changes, claim=claim, only=None if claim else (ACCEPTED,))
            if moved:
                self._audit(db, SYSTEM, "rejected", tcn, reason)
        return moved

    def release_leases(self, reason: str) -> int:
        """Put every item left ``sending`` back in the queue, due now. Only for the process that owns
        the outbox's sending side (``sync.lock``), when it starts: such leases are a crash's leftovers."""
        now = timestamp(self._clock())
        with self.database.write() as db:
            released = db.execute(
                "UPDATE outbox SET state = ?, next_attempt_at = ?, last_error = ?, "
                "lease_owner = NULL, lease_expires_at = NULL WHERE state = ?",
                [QUEUED, now, reason, SENDING],
            ).rowcount
        if released:
            self._notify()
        return released

    def due_polls(self, limit: int = 100) -> list[str]:
        """Accepted items whose answer is due to be asked for, oldest first."""
        rows = self.database.db().execute(
            "SELECT tcn FROM outbox WHERE state = ? AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            [ACCEPTED, timestamp(self._clock()), limit],
        )
        return [tcn for (tcn,) in rows]

    def poll_later(self, tcn: str, at: datetime, error: str | None = None) -> None:
        self.database.db().execute(
            "UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE tcn = ? AND state = ?",
            [timestamp(at), error, tcn, ACCEPTED],
        )

    def answered(self, tcn: str, results: Mapping[str, Any]) -> bool:
        """Store the centre's results (one response per kind, kept once) and mark the item responded."""
        now = timestamp(self._clock())
        with self.database.write() as db:
            for kind, body in results.items():
                sealed = self._sealer.seal(
                    json.dumps(body).encode("utf-8"), _context(f"response:{kind}", tcn)
                )
                db.execute(
                    "INSERT INTO responses (tcn, kind, received_at, body) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (tcn, kind) DO NOTHING",
                    [tcn, kind, now, sealed],
                )
            moved = self._move(
                db, tcn, RESPONDED, {"responded_at": now, "last_error": None}, only=(ACCEPTED,)
            )
            if moved:
                self._audit(db, SYSTEM, "responded", tcn, ", ".join(sorted(results)))
                self._crash_point(RESULTS_WRITTEN)
        return moved

    def resend(self, tcn: str, reason: str) -> bool:
        """The centre no longer knows an accepted item: queue it again (the TCN keeps it idempotent)."""
        now = timestamp(self._clock())
        with self.database.write() as db:
            moved = self._move(
                db, tcn, QUEUED, {"next_attempt_at": now, "queued_at": now, "last_error": reason},
                only=(ACCEPTED,),
            )  # fmt: skip
            if moved:
                self._audit(db, SYSTEM, "requeued", tcn, reason)
        if moved:
            self._notify()
        return moved

    def next_due_at(self) -> datetime | None:
        """When the next send, poll or lease expiry is due; None if nothing is waiting."""
        row = (
            self.database.db()
            .execute(
                "SELECT min(due) FROM ("
                "SELECT min(next_attempt_at) AS due FROM outbox WHERE state IN (?, ?) "
                "UNION ALL SELECT min(lease_expires_at) FROM outbox WHERE state = ?)",
                [QUEUED, ACCEPTED, SENDING],
            )
            .fetchone()
        )
        return parse_timestamp(row[0]) if row[0] else None

    # --- the technician's side ---------------------------------------------------------------

    def item(self, tcn: str) -> OutboxItem | None:
        rows = self.database.db().query(f"SELECT {ITEM_COLUMNS} FROM {ITEM_FROM} WHERE o.tcn = ?", [tcn])
        row = next(iter(rows), None)
        return None if row is None else OutboxItem.from_row(row)

    def items(self, states: tuple[str, ...] = STATES, limit: int = 100) -> list[OutboxItem]:
        """Items in ``states``, oldest first."""
        marks = ", ".join("?" for _ in states)
        rows = self.database.db().query(
            f"SELECT {ITEM_COLUMNS} FROM {ITEM_FROM} WHERE o.state IN ({marks}) ORDER BY o.id LIMIT ?",
            [*states, limit],
        )
        return [OutboxItem.from_row(row) for row in rows]

    def counts(self) -> dict[str, int]:
        rows = self.database.db().execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
        found = dict(rows)
        return {state: found.get(state, 0) for state in STATES}

    def audit_trail(self, tcn: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        where, params = ("WHERE tcn = ?", [tcn]) if tcn else ("", [])
        rows = self.database.db().query(
            f"SELECT id, at, actor, event, tcn, detail, key_id, prev_hash, hash FROM audit {where} "
            "ORDER BY id LIMIT ?",
            [*params, limit],
        )
        return [AuditEntry(**row) for row in rows]

    def retry(self, tcn: str, actor: str) -> None:
        """A technician sends a dead item again: attempts and age start over."""
        state = self._state(tcn)
        if state == REJECTED:
            raise OutboxError(
                f"{tcn} was rejected by the centre; the same bytes would get the same answer: "
                "fix the booking and submit it under a new TCN"
            )
        if state != DEAD:
            raise OutboxError(f"{tcn} is {state}; only a dead item can be retried")
        if self._column("outbox", "payload", tcn, required=False) is None:
            raise OutboxError(f"{tcn} was purged; its payload is gone")
        now = timestamp(self._clock())
        with self.database.write() as db:
            moved = self._move(
                db, tcn, QUEUED,
                {"attempts": 0, "queued_at": now, "next_attempt_at": now, "closed_at": None},
                only=(DEAD,),
            )  # fmt: skip
            if moved:
                self._audit(db, actor, "retried", tcn)
        if moved:
            self._notify()

    def purge(self, tcn: str, actor: str) -> None:
        """A technician destroys the payload of a dead or rejected item now (metadata and audit stay)."""
        item = self.item(tcn)
        if item is None:
            raise OutboxError(f"no booking {tcn} in the outbox")
        if item.state not in PURGEABLE:
            raise OutboxError(f"{tcn} is {item.state}; only dead or rejected items can be purged by hand")
        if item.purged_at is None:
            self._destroy([tcn], actor, "purged by a technician")

    def purge_expired(self, retention_period: timedelta, actor: str = "retention") -> list[str]:
        """Destroy the payloads answered more than ``retention_period`` ago; the TCNs destroyed."""
        cutoff = timestamp(self._clock() - retention_period)
        rows = (
            self.database.db()
            .execute(
                "SELECT tcn FROM outbox WHERE purged_at IS NULL AND ("
                "(state IN (?, ?) AND responded_at <= ?) OR (state = ? AND closed_at <= ?)) ORDER BY id",
                [RESPONDED, ACKNOWLEDGED, cutoff, REJECTED, cutoff],
            )
            .fetchall()
        )
        tcns = [tcn for (tcn,) in rows]
        if tcns:
            self._destroy(tcns, actor, f"retention period of {retention_period.days} day(s) over")
        return tcns

    def key_ids_in_use(self) -> set[str]:
        """The ids of the keys that some stored envelope was sealed under or some audit MAC uses."""
        found = self._chain.key_ids(self.database.db())
        for table, column in _SEALED_COLUMNS:
            rows = self.database.db().execute(
                f"SELECT substr({column}, 1, {HEADER_BYTES}) FROM {table} WHERE {column} IS NOT NULL"
            )
            found.update(envelope_key_id(head) for (head,) in rows)
        return found

    def reseal(self, actor: str, batch: int = 100) -> int:
        """Seal every envelope not under the active key again under it (after a rotation); how many.

        Then the audit chain is re-keyed under the active key too, once it verifies; a broken chain
        is left as it is (its keys stay in use) and ``AuditChainBroken`` raised after the envelopes.
        """
        active = self._sealer.ring().active_id
        count = 0
        for table, column in _SEALED_COLUMNS:
            kind = "kind" if table == "responses" else "NULL"
            last_id, more = 0, True
            while more:
                with self.database.write() as db:  # read and rewrite in one transaction: no lost update
                    rows = db.execute(
                        f"SELECT id, tcn, {kind}, {column} FROM {table} "
                        f"WHERE id > ? AND {column} IS NOT NULL ORDER BY id LIMIT ?",
                        [last_id, batch],
                    ).fetchall()
                    for row_id, tcn, response_kind, envelope in rows:
                        if envelope_key_id(envelope) == active:
                            continue
                        context = _context(f"response:{response_kind}" if response_kind else column, tcn)
                        fresh = self._sealer.seal(self._sealer.open(envelope, context), context)
                        db.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", [fresh, row_id])
                        count += 1
                more = len(rows) == batch
                last_id = rows[-1][0] if rows else last_id
        with self.database.write() as db:
            self._audit(db, actor, "resealed", None, f"{count} envelope(s) under key {active}")
        with self.database.write() as db:
            self._chain.rekey(db, timestamp(self._clock()), actor)
        return count

    def integrity_check(self) -> str:
        return self.database.integrity_check()

    # --- internals -----------------------------------------------------------------------------

    def _move(
        self,
        db: sqlite_utils.Database,
        tcn: str,
        target: str,
        changes: Mapping[str, Any],
        *,
        claim: Claim | None = None,
        only: tuple[str, ...] | None = None,
    ) -> bool:
        """Move ``tcn`` to ``target`` if it is in an allowed state (and, for a claim, still leased)."""
        allowed = (SENDING,) if claim else (only or sources(target))
        if not set(allowed) <= set(sources(target)):
            raise AssertionError(f"{allowed} -> {target} is not a transition of the outbox")
        params: dict[str, Any] = {**changes, "_target": target, "_tcn": tcn}
        params.update({f"_from{index}": state for index, state in enumerate(allowed)})
        sets = "".join(f", {column} = :{column}" for column in changes)
        where = f"tcn = :_tcn AND state IN ({', '.join(f':_from{i}' for i in range(len(allowed)))})"
        if claim:
            where += " AND lease_owner = :_owner AND lease_expires_at = :_expires"
            params.update({"_owner": claim.owner, "_expires": timestamp(claim.lease_expires)})
        return db.execute(f"UPDATE outbox SET state = :_target{sets} WHERE {where}", params).rowcount == 1

    def _destroy(self, tcns: list[str], actor: str, reason: str) -> None:
        now = timestamp(self._clock())
        with self.database.write() as db:
            for tcn in tcns:
                retention.destroy_payload(db, tcn)
                db.execute("UPDATE outbox SET purged_at = ? WHERE tcn = ?", [now, tcn])
                self._audit(db, actor, "payload destroyed", tcn, reason)
        if not self.database.compact():
            log.warning("the outbox WAL could not be truncated (a reader was active); the next purge retries")

    def _state(self, tcn: str) -> str:
        row = self.database.db().execute("SELECT state FROM outbox WHERE tcn = ?", [tcn]).fetchone()
        if row is None:
            raise OutboxError(f"no booking {tcn} in the outbox")
        return row[0]

    def _column(self, table: str, column: str, tcn: str, *, required: bool = True) -> bytes | None:
        row = self.database.db().execute(f"SELECT {column} FROM {table} WHERE tcn = ?", [tcn]).fetchone()
        if row is None:
            raise OutboxError(f"no booking {tcn} in the outbox")
        if row[0] is None and required:
            raise OutboxError(f"{tcn} has no {column} (never set, or purged)")
        return row[0]

    def _audit(
        self, db: sqlite_utils.Database, actor: str, event: str, tcn: str | None, detail: str | None = None
    ) -> None:
        self._chain.record(db, timestamp(self._clock()), actor, event, tcn, detail)

    def _audit_read(self, actor: str, event: str, tcn: str) -> None:
        with self.database.write() as db:
            self._audit(db, actor, event, tcn)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()


_NO_LEASE = {"lease_owner": None, "lease_expires_at": None}
_CLAIM = f"""
    UPDATE outbox SET state = '{SENDING}', attempts = attempts + 1, lease_owner = :owner,
        lease_expires_at = :expires
    WHERE id = (
        SELECT id FROM outbox
        WHERE (state = '{QUEUED}' AND next_attempt_at <= :now)
           OR (state = '{SENDING}' AND lease_expires_at <= :now)
        ORDER BY id LIMIT 1
    )
    RETURNING tcn, attempts, queued_at
"""
_SEALED_COLUMNS = (
    ("outbox", "payload"),
    ("outbox", "problems"),
    ("bookings", "details"),
    ("responses", "body"),
)


def _context(purpose: str, tcn: str) -> str:
    """The AES-GCM associated data of an envelope: what it is and whose."""
    return f"{purpose}:{tcn}"


def _details(booking: Booking) -> dict[str, Any]:
    """What the station shows about a booking besides its prints (sealed in ``bookings.details``)."""
    return {
        "name": booking.subject.name,
        "dates_of_birth": [day.isoformat() if day else None for day in booking.subject.dates_of_birth],
        "case_number": booking.arrest.case_number,
        "printed": [finger.position for finger in booking.fingers],
        "missing": {str(missing.position): missing.reason.value for missing in booking.missing},
    }
