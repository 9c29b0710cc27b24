"""Transaction intake: the decisions of ``POST /v1/transactions``, free of HTTP.

In order, each step answering for itself:

1. ``Idempotency-Key``: missing or not a TCN of this system (``parse_tcn``) -> 400; its ORI part
   is not the caller's certificate ORI -> 403. (Checked before the body is read.)
2. The TCN is already stored: same SHA-256 -> the first answer again (200 with the original
   receipt, its status the current one; or the original 422); different bytes -> 409. A
   corrected booking needs a new TCN.
3. Bytes that do not decode as a CAR -> 400 (``MalformedTransaction`` problems); 1.009 TCN not
   equal to the key -> 400; 1.008 ORI not the certificate's -> 403. Nothing of a 400 or 403 is
   stored: there is no trustworthy TCN to keep it under.
4. ``validate`` problems -> 422 listing every one (the ERRT of this system). The rejection is
   stored (digest and problems, not the bytes) so that a replay gets the same 422 and a different
   booking under the same TCN gets 409.
5. Otherwise the transaction is stored pending and 202 returns the receipt.

``keep_audit_head``: an accepted or replayed delivery, a poll of the station's own transaction and a
head report (``PUT /v1/audit-head``) may carry the station's audit head (``Livescan-Audit-Head:
<entry id>:<hash>``, ``sync.outbox.audit``); it is kept in ``audit_heads`` as the anchor off the
station. A malformed head, or one that cannot be stored, is logged and ignored: it never changes the
answer. A head behind one the station sent before is a WARNING.

Storing relies on the UNIQUE constraint on ``tcn``: when two deliveries race, the loser reads the
winner's row and answers as step 2 does. Log lines name TCNs and field numbers, never values.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from central.db import BEHIND, Database, StationHead
from central.identity import ClientIdentity
from central.transactions import PENDING, REJECTED, TransactionRecord, TransactionStore
from sync.clock import Clock, timestamp, utc_now
from sync.outbox.audit import AUDIT_HEAD_HEADER, AuditHead, MalformedAuditHead
from sync.transaction import (
    MAX_TRANSACTION_BYTES,
    MalformedTransaction,
    Problem,
    TcnError,
    TransactionTooLarge,
    decode,
    parse_tcn,
    validate,
)
from sync.transaction import fields as f

log = logging.getLogger(__name__)
MAX_KEY_LENGTH = 40  # EBTS: a TCN is 10-40 characters
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def stored(self) -> bool:
        """The delivery is the centre's: accepted now (202) or before (a replay)."""
        return self.status == 202 or self.headers.get(REPLAYED_HEADER) == "true"


def receipt(record: TransactionRecord) -> dict[str, Any]:
    return {
        "tcn": record.tcn,
        "received_at": record.received_at,
        "sha256": record.sha256,
        "status": record.status,
    }


def error(
    status: int, code: str, message: str, problems: list[dict[str, str]] | None = None, **extra: Any
) -> Reply:
    body: dict[str, Any] = {"error": code, "message": message, **extra}
    if problems is not None:
        body["problems"] = problems
    return Reply(status, body)


class Intake:
    def __init__(
        self,
        transactions: TransactionStore,
        *,
        clock: Clock = utc_now,
        on_accepted: Callable[[str], None] = lambda tcn: None,
        max_bytes: int = MAX_TRANSACTION_BYTES,
    ) -> None:
        self._transactions = transactions
        self._clock = clock
        self._on_accepted = on_accepted
        self.max_bytes = max_bytes

    def check_key(self, caller: ClientIdentity, key: str | None) -> Reply | None:
        """The answer when the Idempotency-Key alone decides it; None when the body is needed."""
        if not key:
            return error(
                400, "missing_idempotency_key", "send the transaction's TCN in the Idempotency-Key header"
            )
        if len(key) > MAX_KEY_LENGTH:
            return error(
                400, "bad_idempotency_key", f"the Idempotency-Key is over {MAX_KEY_LENGTH} characters"
            )
        try:
            tcn = parse_tcn(key)
        except TcnError as exc:
            return error(400, "bad_idempotency_key", "the Idempotency-Key is not a TCN", exc.as_dicts())
        if tcn.ori != caller.ori:
            log.warning("%s sent a TCN of ORI %s: refused", caller.label, tcn.ori)
            return _forbidden(caller, "the TCN")
        return None

    def submit(self, caller: ClientIdentity, key: str | None, body: bytes) -> Reply:
        early = self.check_key(caller, key)
        if early is not None:
            return early
        assert key is not None
        digest = hashlib.sha256(body).hexdigest()
        existing = self._transactions.get(key)
        if existing is not None:
            return self._replay(caller, existing, digest)
        try:
            booking = decode(body, max_bytes=self.max_bytes)
        except TransactionTooLarge as exc:
            return error(413, "too_large", str(exc), exc.as_dicts())
        except MalformedTransaction as exc:
            log.info("malformed transaction under %s from %s: %s", key, caller.label, _fields(exc.problems))
            return error(
                400, "malformed", "the body is not an ANSI/NIST-ITL CAR this service reads", exc.as_dicts()
            )
        if booking.header.tcn != key:
            problem = Problem(
                f.TCN.label, "the TCN in the transaction differs from the Idempotency-Key header"
            )
            return error(400, "bad_idempotency_key", str(problem), [problem.as_dict()])
        if booking.header.ori != caller.ori:
            log.warning("%s sent a transaction of ORI %s: refused", caller.label, booking.header.ori)
            return _forbidden(caller, f"{f.ORI.label} of the transaction")
        now = self._clock()
        record = TransactionRecord(
            tcn=key, ori=caller.ori, station=caller.station_id, sha256=digest, size=len(body),
            received_at=timestamp(now), status=PENDING,
        )  # fmt: skip
        problems = validate(booking, now=now)
        if problems:
            return self._reject(caller, record, problems, digest)
        if not self._transactions.add(record, body):
            return self._replay_stored(caller, key, digest)
        log.info("accepted %s from %s (%d bytes)", key, caller.label, len(body))
        self._on_accepted(key)
        return Reply(202, receipt(record), {"Location": f"/v1/transactions/{key}"})

    def _reject(
        self, caller: ClientIdentity, record: TransactionRecord, problems: list[Problem], digest: str
    ) -> Reply:
        listed = [problem.as_dict() for problem in problems]
        rejected = replace(record, status=REJECTED, problems=listed, completed_at=record.received_at)
        if not self._transactions.add(rejected, None):
            return self._replay_stored(caller, record.tcn, digest)
        log.info("rejected %s from %s: %s", record.tcn, caller.label, _fields(problems))
        return _invalid(rejected)

    def _replay_stored(self, caller: ClientIdentity, tcn: str, digest: str) -> Reply:
        existing = self._transactions.get(tcn)
        assert existing is not None, "a TCN that failed to insert as a duplicate is stored"
        return self._replay(caller, existing, digest)

    def _replay(self, caller: ClientIdentity, existing: TransactionRecord, digest: str) -> Reply:
        if existing.ori != caller.ori:
            return _forbidden(caller, "the TCN")
        if existing.sha256 != digest:
            log.warning("conflicting bytes for %s from %s", existing.tcn, caller.label)
            return error(
                409, "conflict",
                f"TCN {existing.tcn} was received at {existing.received_at} with different content; "
                "a corrected booking goes out under a new TCN",
                tcn=existing.tcn,
            )  # fmt: skip
        reply = _invalid(existing) if existing.status == REJECTED else Reply(200, receipt(existing))
        return Reply(reply.status, reply.body, {**reply.headers, REPLAYED_HEADER: "true"})


def keep_audit_head(
    database: Database, caller: ClientIdentity, header: str | None, clock: Clock = utc_now
) -> None:
    """Keep the audit head ``header`` that ``caller`` (a station) sent; log and ignore a malformed one.

    Only for a request that showed the caller is a station: a delivery the centre stored
    (``Reply.stored``), a poll of one of its ORI's transactions, or a head report."""
    if header is None:
        return
    try:
        head = AuditHead.parse(header)
    except MalformedAuditHead as exc:
        log.warning("%s: malformed %s header ignored: %s", caller.label, AUDIT_HEAD_HEADER, exc)
        return
    keep_parsed_head(database, caller, head, clock)


def keep_parsed_head(
    database: Database, caller: ClientIdentity, head: AuditHead, clock: Clock = utc_now
) -> None:
    """``keep_audit_head`` for a head already parsed; a failure to store it is logged."""
    if caller.ori is None:
        return
    sent = StationHead(caller.ori, caller.station_id or "", head.entry_id, head.hash, timestamp(clock()))
    try:
        outcome, before = database.record_audit_head(sent)
    except sqlite3.Error as exc:
        log.error("%s: audit head %s not kept: %s", caller.label, head, exc)
        return
    if outcome == BEHIND and before is not None:
        log.warning(
            "%s: audit head %s is behind %d:%s, received %s: entries were cut off the station's audit "
            "log, or it was chained again. Run `livescan audit verify --anchor %s` on the station",
            caller.label, head, before.entry_id, before.hash, before.received_at, before.hash,
        )  # fmt: skip


def _invalid(record: TransactionRecord) -> Reply:
    return error(
        422, "invalid", "the booking breaks EBTS rules; fix every problem and resubmit under a new TCN",
        record.problems or [], tcn=record.tcn, received_at=record.received_at,
    )  # fmt: skip


def _forbidden(caller: ClientIdentity, what: str) -> Reply:
    return error(403, "forbidden", f"{what} does not belong to ORI {caller.ori}, the ORI of your certificate")


def _fields(problems: tuple[Problem, ...] | list[Problem]) -> str:
    """The field numbers of ``problems`` only: their messages may quote personal data."""
    return ", ".join(sorted({problem.field for problem in problems}))
