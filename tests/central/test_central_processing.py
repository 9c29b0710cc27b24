"""Search workers: answers stored, notifications on immigration hits, failures, resumed backlog."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from central_helpers import STATION_A, transaction
from fake_matcher import FakeMatcher
from transaction_samples import NOW

from central.db import Database
from central.identity import ClientIdentity
from central.intake import Intake
from central.notifications import NotificationStore
from central.processing import SearchWorkers
from central.transactions import TransactionStore
from central.views import transaction_view

CALLER = ClientIdentity(ori=STATION_A.ori, station_id=STATION_A.station_id)


@pytest.fixture
def database(tmp_path: Path) -> Database:
    database = Database(tmp_path / "data")
    yield database
    database.close()


@pytest.fixture
def notifications(database: Database) -> NotificationStore:
    return NotificationStore(database)


@pytest.fixture
def store(database: Database, notifications: NotificationStore) -> TransactionStore:
    return TransactionStore(database, notifications)


def accept(store: TransactionStore, case: str) -> str:
    sent = transaction(case=case)
    assert Intake(store, clock=lambda: NOW).submit(CALLER, sent.tcn, sent.data).status == 202
    return sent.tcn


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_answers_are_stored_and_an_immigration_hit_notifies(
    store: TransactionStore, notifications: NotificationStore
) -> None:
    plain, both = accept(store, "2024-1"), accept(store, "CRIM-IMM-7")
    created: list[None] = []
    workers = SearchWorkers(
        store, FakeMatcher(), clock=lambda: NOW, on_notification=lambda: created.append(None)
    )
    assert workers.start() == 2  # the backlog
    try:
        wait_until(lambda: not store.pending())
    finally:
        workers.stop()
    no_hit = transaction_view(store.get(plain), notifications.for_transaction(plain))
    assert no_hit["status"] == "complete"
    assert no_hit["criminal"] == {
        "gallery": "criminal", "hit": False, "candidates": [], "record_summary": None, "level": None,
    }  # fmt: skip
    assert no_hit["immigration"] == {
        "gallery": "immigration",
        "hit": False,
        "candidates": [],
        "notification": None,
    }
    hit = transaction_view(store.get(both), notifications.for_transaction(both))
    assert hit["criminal"]["hit"] and hit["criminal"]["level"] == 2
    assert hit["criminal"]["candidates"][0] == {
        "subject_id": "C-0001",
        "score": 87,
        "rank": 1,
        "fingers_matched": 8,
    }
    assert hit["criminal"]["record_summary"]["subject_id"] == "C-0001"
    assert hit["immigration"]["hit"] and hit["immigration"]["notification"]["status"] == "pending"
    assert len(created) == 1
    listed = notifications.recent()
    assert [(notice.tcn, notice.kind) for notice in listed] == [(both, "immigration_hit")]
    due = notifications.due("9999")
    assert due[0].payload["requesting_ori"] == STATION_A.ori
    assert due[0].payload["candidates"][0]["subject_id"] == "I-0001"


def test_a_failing_search_is_retried_then_rejected_with_a_reason(store: TransactionStore) -> None:
    tcn = accept(store, "FAIL-1")
    matcher = FakeMatcher()
    workers = SearchWorkers(store, matcher, clock=lambda: NOW, max_attempts=2, retry_pause=0.01)
    workers.start()
    try:
        wait_until(lambda: not store.pending())
    finally:
        workers.stop()
    record = store.get(tcn)
    assert record.status == "rejected" and record.attempts == 3  # two searches, then the refusal
    assert "new TCN" in record.problems[0]["message"]
    assert matcher.searched == [tcn, tcn]


def test_attempts_survive_restarts_so_a_poison_transaction_ends_rejected(store: TransactionStore) -> None:
    tcn = accept(store, "2024-1")
    for _ in range(3):
        store.start_attempt(tcn)  # three searches that crashed the process
    matcher = FakeMatcher()
    SearchWorkers(store, matcher, clock=lambda: NOW, max_attempts=3).process(tcn)
    assert store.get(tcn).status == "rejected" and matcher.searched == []


def test_a_transaction_is_answered_once(store: TransactionStore, notifications: NotificationStore) -> None:
    tcn = accept(store, "IMM-1")
    workers = SearchWorkers(store, FakeMatcher(), clock=lambda: NOW)
    workers.process(tcn)
    workers.process(tcn)
    assert len(notifications.recent()) == 1
