"""The search workers: pending transactions -> ``matcher.search`` -> stored answers.

A thread pool runs the searches. Intake hands each accepted TCN to ``submit``; ``start`` first
queues every transaction still pending in the database, so work accepted before a crash or a
restart is resumed. A TCN is queued at most once at a time, and the answer is written only if
the row is still pending, so a duplicate run cannot store two answers or two notifications.

A search that raises is retried (``max_attempts`` in all, with a short pause). Attempts are
counted in the database before each search runs, so a transaction that crashes the process is
not retried forever across restarts either. After the last attempt the transaction is rejected
with a message telling the station to resubmit under a new TCN, so no booking waits forever
without anyone being told. Only the exception type is logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from central import answers
from central.matching import Matcher
from central.transactions import PENDING, TransactionStore
from sync.clock import Clock, timestamp, utc_now
from sync.transaction import decode
from sync.transaction.framing import WHOLE

log = logging.getLogger(__name__)


class SearchWorkers:
    def __init__(
        self,
        transactions: TransactionStore,
        matcher: Matcher,
        *,
        workers: int = 2,
        clock: Clock = utc_now,
        on_notification: Callable[[], None] = lambda: None,
        max_attempts: int = 3,
        retry_pause: float = 1.0,
    ) -> None:
        self._transactions = transactions
        self._matcher = matcher
        self._workers = workers
        self._clock = clock
        self._on_notification = on_notification
        self._max_attempts = max_attempts
        self._retry_pause = retry_pause
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> int:
        """Start the pool and queue the pending backlog; the number of transactions resumed."""
        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="search")
        backlog = self._transactions.pending()
        for tcn in backlog:
            self.submit(tcn)
        if backlog:
            log.info("resumed %d pending transaction(s)", len(backlog))
        return len(backlog)

    def submit(self, tcn: str) -> None:
        with self._lock:
            if self._executor is None or self._stopping.is_set() or tcn in self._queued:
                return
            self._queued.add(tcn)
            self._executor.submit(self._run, tcn)

    def stop(self) -> None:
        """Finish the searches under way; queued ones stay pending in the database for next time."""
        self._stopping.set()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def _run(self, tcn: str) -> None:
        try:
            self.process(tcn)
        except Exception:  # never kill a worker; the row stays pending and is retried on restart
            log.exception("search of %s failed outside the matcher", tcn)
        finally:
            with self._lock:
                self._queued.discard(tcn)

    def process(self, tcn: str) -> None:
        """Search one pending transaction and store its answer (or its rejection)."""
        record = self._transactions.get(tcn)
        body = self._transactions.body(tcn)
        if record is None or record.status != PENDING or body is None:
            return
        booking = decode(body)  # accepted at intake, so it decodes
        while not self._stopping.is_set():
            attempt = self._transactions.start_attempt(tcn)
            if attempt > self._max_attempts:
                break
            try:
                outcome = self._matcher.search(booking)
            except Exception as exc:
                error = type(exc).__name__
                self._transactions.note_error(tcn, error)
                log.warning(
                    "search of %s failed (attempt %d of %d): %s", tcn, attempt, self._max_attempts, error
                )
                self._stopping.wait(self._retry_pause * attempt)
                continue
            now = timestamp(self._clock())
            notification = answers.notification(record, booking, outcome, now)
            if self._transactions.complete(tcn, answers.results(outcome), now, notification):
                log.info("answered %s", tcn)
                if notification is not None:
                    self._on_notification()
            return
        if self._stopping.is_set():
            return  # stays pending; resumed on the next start
        message = "the prints could not be searched; resubmit the booking under a new TCN"
        self._transactions.reject(tcn, [{"field": WHOLE, "message": message}], timestamp(self._clock()))
        log.error("rejected %s after %d failed searches", tcn, self._max_attempts)
