"""Webhook delivery: capped exponential backoff with full jitter, retries, permanent failures."""

from __future__ import annotations

import random
import socket
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from transaction_samples import NOW
from webhook_receiver import WebhookReceiver

from central.db import Database
from central.delivery import WebhookDelivery
from central.notifications import NewNotification, NotificationStore
from central.transactions import PENDING, TransactionRecord, TransactionStore
from sync.backoff import Backoff
from sync.clock import timestamp


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def notifications(tmp_path: Path) -> NotificationStore:
    database = Database(tmp_path / "data")
    store = NotificationStore(database)
    transactions = TransactionStore(database, store)
    record = TransactionRecord("TCN0000001", "NY0303000", "K01", "0" * 64, 1, timestamp(NOW), PENDING)
    transactions.add(record, b"x")
    transactions.complete(
        record.tcn, {}, timestamp(NOW), NewNotification(record.tcn, record.ori, {"n": 1}, timestamp(NOW))
    )
    yield store
    database.close()


def test_backoff_is_full_jitter_under_a_doubling_ceiling_with_a_cap() -> None:
    backoff = Backoff(base=2.0, cap=60.0, random=random.Random(1))
    assert [backoff.ceiling(attempt) for attempt in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert backoff.ceiling(10_000) == 60.0
    delays = [backoff.delay(3) for _ in range(2000)]
    assert 0.0 <= min(delays) < 0.5 and 7.5 < max(delays) <= 8.0  # spread over the whole [0, 8]
    with pytest.raises(ValueError):
        Backoff(base=10, cap=1)


def deliver_until_settled(delivery: WebhookDelivery, clock: FakeClock, rounds: int = 20) -> None:
    for _ in range(rounds):
        delivery.deliver_due()
        clock.now += timedelta(hours=1)  # past any backoff


def test_transient_failures_are_retried_until_delivered(notifications: NotificationStore) -> None:
    clock = FakeClock(NOW)
    with WebhookReceiver(fail_first=2) as receiver:
        delivery = WebhookDelivery(notifications, receiver.url, clock=clock, timeout=5)
        delivery.deliver_due()
        notice = notifications.recent()[0]
        assert notice.status == "pending" and notice.attempts == 1 and notice.last_error == "HTTP 503"
        assert (
            NOW
            <= datetime.fromisoformat(notice.next_attempt_at.replace("Z", "+00:00"))
            <= NOW + timedelta(seconds=2)
        )
        deliver_until_settled(delivery, clock)
    notice = notifications.recent()[0]
    assert notice.status == "delivered" and notice.attempts == 3
    assert [d.status for d in receiver.deliveries] == [503, 503, 200]
    assert {d.idempotency_key for d in receiver.deliveries} == {"TCN0000001"}
    assert receiver.deliveries[-1].payload == {"n": 1}


def test_a_permanent_refusal_fails_at_once(notifications: NotificationStore) -> None:
    clock = FakeClock(NOW)
    with WebhookReceiver(fail_first=5, failure_status=400) as receiver:
        deliver_until_settled(WebhookDelivery(notifications, receiver.url, clock=clock, timeout=5), clock)
    notice = notifications.recent()[0]
    assert (notice.status, notice.attempts, notice.last_error) == ("failed", 1, "HTTP 400")


def test_an_unreachable_webhook_gives_up_after_max_attempts(notifications: NotificationStore) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    clock = FakeClock(NOW)
    delivery = WebhookDelivery(
        notifications, f"http://127.0.0.1:{port}/", clock=clock, max_attempts=4, timeout=2
    )
    deliver_until_settled(delivery, clock)
    notice = notifications.recent()[0]
    assert (notice.status, notice.attempts, notice.last_error) == ("failed", 4, "ConnectionError")


def test_the_background_thread_delivers_without_being_asked(notifications: NotificationStore) -> None:
    with WebhookReceiver(fail_first=1) as receiver:
        delivery = WebhookDelivery(notifications, receiver.url, backoff=Backoff(0.01, 0.05), timeout=5)
        delivery.start()
        try:
            receiver.wait_for_success(timeout=10)
        finally:
            delivery.stop()
    deadline = time.monotonic() + 5
    while notifications.recent()[0].status != "delivered":
        assert time.monotonic() < deadline
        time.sleep(0.01)
