"""The sync worker: drains the outbox to the centre, oldest first, and fetches the answers.

    worker = SyncWorker(outbox, CentreClient(endpoint))
    worker.start()      # takes the outbox's owner lock, re-queues sends a crash interrupted
    ...
    worker.stop()

One thread. It sleeps on a ``threading.Event`` until the next item is due (a new booking wakes it
at once through ``Outbox.on_queued``); nothing is polled in a busy loop. Each pass:

1. sends every due item, oldest first, each under a lease (``Outbox.claim``);
2. asks the centre for the answers that are due (``GET``) and stores them;
3. now and then (``head_report``) sends the outbox's audit head alone if it changed;
4. now and then destroys payloads past the retention period.

Transient failures are retried with capped exponential backoff and full jitter, never sooner
than a ``Retry-After``; after ``max_attempts`` tries or ``max_age`` the item is a dead letter
(state, audit entry and an ERROR log line). When the failure is the link's (connection, TLS,
timeouts, 429/502/503/504) the whole queue waits out the backoff instead of every item failing
in turn. ``run_once`` does one pass without the thread, so tests drive it with a fake clock.
Each send and each poll carries the outbox's audit head too; the centre keeps them off the station
(``sync.outbox.audit``).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync.backoff import Backoff
from sync.client import (
    Accepted,
    Answered,
    CentreClient,
    Pending,
    Refused,
    Rejected,
    Transient,
    Unknown,
)
from sync.clock import Clock, utc_now
from sync.crashpoints import POLL_ANSWERED, SEND_ANSWERED, SEND_CLAIMED, CrashPoint, no_crash_point
from sync.keyring import KeyFileError, UnknownKey
from sync.lock import OwnerLock
from sync.outbox import Claim, Outbox
from sync.outbox.audit import AuditHead
from sync.sealing import SealError

log = logging.getLogger(__name__)
ERROR_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class DeliveryPolicy:
    backoff: Backoff = field(default_factory=Backoff)
    max_attempts: int = 300  # per item, before it is a dead letter
    max_age: timedelta = timedelta(days=3)  # since it was queued (or retried by a technician)
    lease: timedelta = timedelta(minutes=5)  # longer than any one request can take
    poll_interval: timedelta = timedelta(seconds=15)  # between questions about an accepted item
    retention: timedelta | None = timedelta(days=30)  # payloads destroyed this long after the answer
    retention_check: timedelta = timedelta(hours=1)
    head_report: timedelta | None = timedelta(minutes=10)  # the audit head alone, if it changed
    idle_wait: float = 60.0  # seconds; the longest sleep (picks up changes made by other processes)
    batch: int = 100  # sends, then polls, per pass


@dataclass(frozen=True)
class PassReport:
    sent: int
    polled: int


class SyncWorker:
    def __init__(
        self,
        outbox: Outbox,
        client: CentreClient,
        policy: DeliveryPolicy | None = None,
        *,
        clock: Clock = utc_now,
        crash_point: CrashPoint = no_crash_point,
    ) -> None:
        self.outbox = outbox
        self.client = client
        self.policy = policy or DeliveryPolicy()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._clock = clock
        self._crash_point = crash_point
        self._lock = OwnerLock(outbox.path)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._paused_until: datetime | None = None
        self._retention_checked: datetime | None = None
        self._head_tried_at: datetime | None = None
        self._head_kept: AuditHead | None = None  # the last head the centre took from a report
        outbox.on_queued(self.wake)

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._lock.acquire()
        released = self.outbox.release_leases("interrupted: the sender stopped mid-send; sending again")
        if released:
            log.warning("%d send(s) interrupted by a stop or crash are queued again", released)
        self._thread = threading.Thread(target=self._run, name="sync-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._lock.release()

    @property
    def alive(self) -> bool:
        """The worker thread is running (started and not ended)."""
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Something was queued: look now instead of at the next due time."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
                wait = self.seconds_until_due()
            except Exception:  # keep going: the disk or the network may recover
                log.exception("sync pass failed; trying again in %.0f s", ERROR_WAIT_SECONDS)
                wait = ERROR_WAIT_SECONDS
            self._wake.wait(wait)
            self._wake.clear()

    # --- one pass ------------------------------------------------------------------------------

    def run_once(self) -> PassReport:
        report = PassReport(self._send_due(), self._poll_due())
        self._report_head()
        self._apply_retention()
        return report

    def seconds_until_due(self) -> float:
        now = self._clock()
        if self._paused(now):
            assert self._paused_until is not None
            return min(self.policy.idle_wait, (self._paused_until - now).total_seconds())
        due = self.outbox.next_due_at()
        if due is None:
            return self.policy.idle_wait
        return min(self.policy.idle_wait, max((due - now).total_seconds(), 0.0))

    def _paused(self, now: datetime) -> bool:
        return self._paused_until is not None and now < self._paused_until

    def _busy(self) -> bool:
        return self._stopping.is_set() or self._paused(self._clock())

    def _send_due(self) -> int:
        sent = 0
        while sent < self.policy.batch and not self._busy():
            claim = self.outbox.claim(self.owner, self.policy.lease)
            if claim is None:
                break
            try:
                self._send(claim)
            except Exception as exc:
                log.exception("sending %s failed unexpectedly; it will be retried", claim.tcn)
                self._retry(claim, Transient(f"internal error: {type(exc).__name__}", link=False))
            sent += 1
        return sent

    def _send(self, claim: Claim) -> None:
        self._crash_point(SEND_CLAIMED)
        try:
            data = self.outbox.payload(claim.tcn)
        except (UnknownKey, SealError) as exc:  # this item only: its key is gone or its bytes damaged
            self._give_up(claim, f"the payload cannot be opened: {exc}")
            return
        except KeyFileError as exc:  # every item alike (e.g. the key file's mode): wait, loudly
            self._retry(claim, Transient(f"key file unusable: {exc}"))
            return
        outcome = self.client.submit(claim.tcn, data, audit_head=self.outbox.audit_head())
        self._crash_point(SEND_ANSWERED)
        if isinstance(outcome, Accepted):
            poll_at = self._clock() + self.policy.poll_interval
            if self.outbox.accepted(claim, {**outcome.receipt, "replayed": outcome.replayed}, poll_at):
                log.info(
                    "%s accepted by the centre (attempt %d%s)",
                    claim.tcn, claim.attempt, ", a replay of an earlier delivery" if outcome.replayed else "",
                )  # fmt: skip
        elif isinstance(outcome, Rejected):
            if self.outbox.rejected(claim.tcn, outcome.problems, outcome.reason, claim=claim):
                log.error(
                    "%s REJECTED by the centre (%s); fix the booking and submit it under a new TCN",
                    claim.tcn, outcome.reason,
                )  # fmt: skip
        elif isinstance(outcome, Refused):
            self._give_up(claim, outcome.error)
        else:
            self._retry(claim, outcome)

    def _retry(self, claim: Claim, failure: Transient) -> None:
        now = self._clock()
        age = now - claim.queued_at
        if claim.attempt >= self.policy.max_attempts or age >= self.policy.max_age:
            self._give_up(claim, f"{failure.error}; gave up after {claim.attempt} attempt(s) in {age}")
            return
        delay = self.policy.backoff.wait(claim.attempt, failure.retry_after)
        at = now + timedelta(seconds=delay)
        self.outbox.retry_later(claim, at, failure.error)
        if failure.link:
            self._paused_until = at
        log.warning(
            "%s not delivered (attempt %d: %s); next attempt in %.1f s",
            claim.tcn, claim.attempt, failure.error, delay,
        )  # fmt: skip

    def _give_up(self, claim: Claim, error: str) -> None:
        if self.outbox.give_up(claim, error):
            log.error(
                "DEAD LETTER %s: %s. Fix the cause, then `livescan queue retry %s`",
                claim.tcn,
                error,
                claim.tcn,
            )

    def _poll_due(self) -> int:
        polled = 0
        for tcn in self.outbox.due_polls(self.policy.batch):
            if self._busy():
                break
            outcome = self.client.status(tcn, audit_head=self.outbox.audit_head())
            self._crash_point(POLL_ANSWERED)
            polled += 1
            now = self._clock()
            if isinstance(outcome, Answered):
                if self.outbox.answered(tcn, outcome.results):
                    log.info("%s answered by the centre (%s)", tcn, ", ".join(sorted(outcome.results)))
            elif isinstance(outcome, Pending):
                self.outbox.poll_later(tcn, now + self.policy.poll_interval)
            elif isinstance(outcome, Rejected):
                if self.outbox.rejected(tcn, outcome.problems, outcome.reason):
                    log.error("%s REJECTED by the centre after intake (%s)", tcn, outcome.reason)
            elif isinstance(outcome, Unknown):
                if self.outbox.resend(tcn, "the centre no longer knows it; sending it again"):
                    log.warning("%s: the centre no longer knows it; sending it again", tcn)
            else:
                self._poll_failed(tcn, outcome, now)
        return polled

    def _poll_failed(self, tcn: str, failure: Refused | Transient, now: datetime) -> None:
        wait = self.policy.poll_interval.total_seconds()
        if isinstance(failure, Transient):
            wait = max(wait, min(failure.retry_after or 0.0, self.policy.backoff.cap))
        at = now + timedelta(seconds=wait)
        self.outbox.poll_later(tcn, at, failure.error)
        if isinstance(failure, Transient) and failure.link:
            self._paused_until = at
        log.warning(
            "asking for the answer of %s failed (%s); asking again in %.0f s", tcn, failure.error, wait
        )

    def _report_head(self) -> None:
        """Every ``head_report``, the audit head alone when the centre has not had it: the anchor
        keeps up with a log that grows (sign-ins, purges) while nothing is delivered."""
        now = self._clock()
        if self.policy.head_report is None or self._busy():
            return
        if self._head_tried_at is not None and now - self._head_tried_at < self.policy.head_report:
            return
        head = self.outbox.audit_head()
        if head is None or head == self._head_kept:
            return
        self._head_tried_at = now
        failure = self.client.report_audit_head(head)
        if failure is None:
            self._head_kept = head
        else:
            log.warning("sending the audit head to the centre failed (%s); trying again later", failure.error)

    def _apply_retention(self) -> None:
        now = self._clock()
        if self.policy.retention is None:
            return
        if (
            self._retention_checked is not None
            and now - self._retention_checked < self.policy.retention_check
        ):
            return
        self._retention_checked = now
        destroyed = self.outbox.purge_expired(self.policy.retention)
        if destroyed:
            log.info("retention: destroyed the payloads of %d answered booking(s)", len(destroyed))
