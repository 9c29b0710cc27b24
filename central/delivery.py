"""Delivery of notifications to the configured webhook, in one background thread.

Each due notification is POSTed as JSON (header ``Idempotency-Key: <TCN>``, so the receiver can
drop the duplicates that at-least-once delivery implies). A 2xx answer marks it delivered.
Timeouts, connection errors, 408/425/429 and 5xx answers are retried after a capped exponential
backoff with full jitter (``sync.backoff``, never sooner than a ``Retry-After`` asks), up to
``max_attempts``; any other answer is permanent and the notification is marked failed, visible
to operators. Nothing here runs on a request's path, so a dead webhook never slows the API.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import requests

from central.notifications import DueNotification, NotificationStore
from sync.backoff import Backoff, retry_after_seconds
from sync.clock import Clock, parse_timestamp, timestamp, utc_now

log = logging.getLogger(__name__)
RETRYABLE_STATUS = frozenset({408, 425, 429})
IDLE_POLL_SECONDS = 1.0


class WebhookDelivery:
    def __init__(
        self,
        store: NotificationStore,
        url: str,
        *,
        backoff: Backoff | None = None,
        clock: Clock = utc_now,
        max_attempts: int = 20,
        timeout: float = 10.0,
        verify: bool | str = True,
    ) -> None:
        self._store = store
        self._url = url
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._max_attempts = max_attempts
        self._timeout = timeout
        self._verify = verify  # passed per request: REQUESTS_CA_BUNDLE would override a session's verify
        self._session = requests.Session()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """A notification was just created: look for due work now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._session.close()

    def deliver_due(self) -> int:
        """Attempt every notification due now; the number attempted."""
        due = self._store.due(timestamp(self._clock()))
        for notification in due:
            if self._stopping.is_set():
                break
            self._attempt(notification)
        return len(due)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.deliver_due()
                idle = self._idle_seconds()
            except Exception:  # keep delivering; the database or the network may recover
                log.exception("notification delivery loop failed; retrying")
                idle = IDLE_POLL_SECONDS
            self._wake.wait(idle)
            self._wake.clear()

    def _idle_seconds(self) -> float:
        next_due = self._store.next_due_at()
        if next_due is None:
            return IDLE_POLL_SECONDS
        wait = (parse_timestamp(next_due) - self._clock()).total_seconds()
        return min(max(wait, 0.0), IDLE_POLL_SECONDS)

    def _attempt(self, notification: DueNotification) -> None:
        attempt = notification.attempts + 1
        retry_after: float | None = None
        try:
            response = self._session.post(
                self._url,
                json=notification.payload,
                headers={"Idempotency-Key": notification.tcn},
                timeout=self._timeout,
                verify=self._verify,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            error, retryable = type(exc).__name__, True
        else:
            if 200 <= response.status_code < 300:
                self._store.delivered(notification.id, timestamp(self._clock()))
                log.info(
                    "notification %d for %s delivered (attempt %d)",
                    notification.id,
                    notification.tcn,
                    attempt,
                )
                return
            error = f"HTTP {response.status_code}"
            retryable = response.status_code in RETRYABLE_STATUS or response.status_code >= 500
            retry_after = retry_after_seconds(response.headers.get("Retry-After"), self._clock())
        if not retryable or attempt >= self._max_attempts:
            self._store.failed(notification.id, error)
            log.error(
                "notification %d for %s failed for good after %d attempt(s): %s",
                notification.id, notification.tcn, attempt, error,
            )  # fmt: skip
            return
        delay = self._backoff.wait(attempt, retry_after)
        self._store.retry_at(notification.id, timestamp(self._clock() + timedelta(seconds=delay)), error)
        log.warning(
            "notification %d for %s not delivered (attempt %d: %s); retry in %.1f s",
            notification.id, notification.tcn, attempt, error, delay,
        )  # fmt: skip
