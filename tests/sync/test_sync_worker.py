"""The sync worker: oldest first, backoff and Retry-After, dead letters, polls, waking, ownership."""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from outbox_helpers import (
    FAST,
    FakeClock,
    booking_transaction,
    centre,
    endpoint,
    invalid_transaction,
    new_outbox,
    other_bytes,
    pki,
    wait_until,
)

from central.pki import PkiLayout
from central.process import CentralProcess
from sync.backoff import Backoff
from sync.client import Accepted, Answered, CentreClient, Pending, Refused, Rejected, Transient, Unknown
from sync.keyring import create_key_file
from sync.lock import OutboxBusy
from sync.outbox import ACCEPTED, DEAD, QUEUED, REJECTED, RESPONDED, Outbox
from sync.outbox.audit import AuditHead
from sync.sealing import Sealer
from sync.worker import DeliveryPolicy, SyncWorker

__all__ = ["centre", "pki"]  # fixtures
POLICY = DeliveryPolicy(
    backoff=Backoff(2.0, 900.0, random=random.Random(5)), poll_interval=timedelta(seconds=15), retention=None
)
RESULTS = {"criminal": {"hit": False}, "immigration": {"hit": False}}
OFFLINE = Transient("ConnectionError: connection failed (Connection refused)")


class ScriptedClient:
    """Answers sends, polls and head reports from scripts (then accepts, says pending, takes the
    head); records the calls."""

    def __init__(
        self,
        sends: list[object] | None = None,
        polls: list[object] | None = None,
        reports: list[object] | None = None,
    ) -> None:
        self.sends, self.polls, self.reports = list(sends or []), list(polls or []), list(reports or [])
        self.sent: list[str] = []
        self.polled: list[str] = []
        self.reported: list[AuditHead] = []

    def submit(self, tcn: str, data: bytes, audit_head: object = None) -> object:
        self.sent.append(tcn)
        if self.sends:
            return self.sends.pop(0)
        receipt = {"tcn": tcn, "sha256": hashlib.sha256(data).hexdigest(), "status": "pending"}
        return Accepted(receipt, replayed=False)

    def status(self, tcn: str, audit_head: object = None) -> object:
        self.polled.append(tcn)
        return self.polls.pop(0) if self.polls else Pending()

    def report_audit_head(self, audit_head: AuditHead) -> object:
        self.reported.append(audit_head)
        return self.reports.pop(0) if self.reports else None


def worker_for(outbox: Outbox, client: object, clock: FakeClock, **policy: object) -> SyncWorker:
    return SyncWorker(outbox, client, replace(POLICY, **policy), clock=clock)  # type: ignore[arg-type]


def submit(outbox: Outbox, count: int = 1) -> list[str]:
    return [outbox.submit(booking_transaction().data, actor="officer") for _ in range(count)]


def state(outbox: Outbox, tcn: str) -> str:
    item = outbox.item(tcn)
    assert item is not None
    return item.state


def test_the_queue_drains_oldest_first_and_then_asks_for_answers(outbox: Outbox, clock: FakeClock) -> None:
    tcns = submit(outbox, 3)
    client = ScriptedClient(polls=[Pending(), Answered(RESULTS)])
    worker = worker_for(outbox, client, clock)
    assert worker.run_once().sent == 3
    assert client.sent == tcns and {state(outbox, tcn) for tcn in tcns} == {ACCEPTED}
    assert worker.seconds_until_due() == 15.0 and client.polled == []
    clock.advance(seconds=15)
    worker.run_once()
    assert client.polled == tcns and state(outbox, tcns[1]) == RESPONDED
    assert outbox.results(tcns[1], "officer") == RESULTS
    assert state(outbox, tcns[0]) == ACCEPTED  # pending: asked again later
    assert outbox.item(tcns[0]).next_attempt_at > outbox.item(tcns[1]).next_attempt_at  # type: ignore[union-attr]


def test_an_unreachable_centre_pauses_the_whole_queue_for_the_backoff(
    outbox: Outbox, clock: FakeClock
) -> None:
    tcns = submit(outbox, 3)
    client = ScriptedClient(sends=[OFFLINE, OFFLINE])
    worker = worker_for(outbox, client, clock)
    worker.run_once()
    assert client.sent == tcns[:1]  # one probe, not one failure per booking
    first = outbox.item(tcns[0])
    assert (
        first is not None and (first.state, first.attempts) == (QUEUED, 1) and "refused" in first.last_error
    )
    wait = worker.seconds_until_due()
    assert 0.0 <= wait <= 2.0  # full jitter under the first ceiling
    worker.run_once()
    assert client.sent == tcns[:1]  # still paused
    clock.advance(seconds=wait)
    worker.run_once()
    assert client.sent == [tcns[0], tcns[0]]  # the oldest probes again and fails again
    assert outbox.item(tcns[0]).attempts == 2  # type: ignore[union-attr]
    clock.advance(seconds=worker.seconds_until_due())
    worker.run_once()
    assert client.sent[2:] == tcns and {state(outbox, tcn) for tcn in tcns} == {ACCEPTED}


def test_an_items_own_server_error_does_not_hold_up_the_others(outbox: Outbox, clock: FakeClock) -> None:
    tcns = submit(outbox, 3)
    client = ScriptedClient(sends=[Transient("HTTP 500", link=False)])
    worker_for(outbox, client, clock).run_once()
    assert client.sent == tcns
    assert [state(outbox, tcn) for tcn in tcns] == [QUEUED, ACCEPTED, ACCEPTED]


def test_retry_after_is_a_floor_under_the_backoff(outbox: Outbox, clock: FakeClock) -> None:
    (tcn,) = submit(outbox)
    client = ScriptedClient(sends=[Transient("HTTP 503", 120.0)])
    worker = worker_for(outbox, client, clock, idle_wait=600.0)
    worker.run_once()
    item = outbox.item(tcn)
    assert item is not None and item.next_attempt_at >= "2024-03-15T14:32:05.000Z"  # NOW + 120 s
    assert 120.0 <= worker.seconds_until_due() <= 120.0 + 2.0


def test_after_max_attempts_an_item_is_a_dead_letter_loudly(
    outbox: Outbox, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    (tcn,) = submit(outbox)
    worker = worker_for(outbox, ScriptedClient(sends=[OFFLINE] * 10), clock, max_attempts=3)
    for _ in range(5):
        worker.run_once()
        clock.advance(hours=1)
    item = outbox.item(tcn)
    assert item is not None and (item.state, item.attempts) == (DEAD, 3)
    assert item.last_error.startswith("ConnectionError") and "gave up after 3 attempt(s)" in item.last_error
    dead = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(dead) == 1 and "DEAD LETTER" in dead[0].getMessage() and tcn in dead[0].getMessage()
    assert outbox.audit_trail(tcn)[-1].event == "dead"


def test_after_the_age_limit_an_item_is_a_dead_letter(outbox: Outbox, clock: FakeClock) -> None:
    (tcn,) = submit(outbox)
    worker = worker_for(outbox, ScriptedClient(sends=[OFFLINE] * 3), clock, max_age=timedelta(hours=1))
    worker.run_once()
    assert state(outbox, tcn) == QUEUED
    clock.advance(hours=2)
    worker.run_once()
    item = outbox.item(tcn)
    assert item is not None and (item.state, item.attempts) == (DEAD, 2)


def test_a_rejection_keeps_the_messages_and_a_refusal_is_dead_at_once(
    outbox: Outbox, clock: FakeClock
) -> None:
    rejected, refused = submit(outbox, 2)
    problems = [{"field": "2.024 SEX", "message": "Q is not a sex code"}]
    client = ScriptedClient(
        sends=[Rejected(422, problems, "HTTP 422: 1 problem(s) in 2.024 SEX"), Refused("HTTP 409")]
    )
    worker_for(outbox, client, clock).run_once()
    assert state(outbox, rejected) == REJECTED and outbox.problems(rejected, "tech") == problems
    item = outbox.item(refused)
    assert item is not None and (item.state, item.attempts, item.last_error) == (DEAD, 1, "HTTP 409")


def test_a_transaction_the_centre_forgot_is_sent_again(outbox: Outbox, clock: FakeClock) -> None:
    (tcn,) = submit(outbox)
    client = ScriptedClient(polls=[Unknown()])
    worker = worker_for(outbox, client, clock)
    worker.run_once()
    clock.advance(seconds=15)
    worker.run_once()  # asks: unknown, so queued again (and the worker woken)
    assert state(outbox, tcn) == QUEUED
    worker.run_once()
    assert client.sent == [tcn, tcn] and state(outbox, tcn) == ACCEPTED


def test_polls_wait_out_a_busy_centre(outbox: Outbox, clock: FakeClock) -> None:
    (tcn,) = submit(outbox)
    client = ScriptedClient(polls=[Transient("HTTP 503", 60.0)])
    worker = worker_for(outbox, client, clock)
    worker.run_once()
    clock.advance(seconds=15)
    worker.run_once()
    assert 59.0 <= worker.seconds_until_due() <= 60.0
    assert outbox.item(tcn).last_error == "HTTP 503"  # type: ignore[union-attr]


def test_an_unopenable_payload_is_dead_and_an_unsafe_key_file_pauses_everything(
    outbox: Outbox, clock: FakeClock, tmp_path: Path
) -> None:
    damaged, waiting = submit(outbox, 2)
    foreign = Sealer(create_key_file(tmp_path / "other.key")).seal(b"x", f"payload:{damaged}")
    outbox.database.db().execute("UPDATE outbox SET payload = ? WHERE tcn = ?", [foreign, damaged])
    worker = worker_for(outbox, ScriptedClient(), clock)
    worker.run_once()
    item = outbox.item(damaged)
    assert item is not None and item.state == DEAD and "restore the key file" in item.last_error
    assert state(outbox, waiting) == ACCEPTED
    (later,) = submit(outbox)
    (tmp_path / "outbox.key").chmod(0o644)
    worker.run_once()
    item = outbox.item(later)
    assert item is not None and item.state == QUEUED and "chmod 600" in item.last_error
    assert worker.seconds_until_due() > 0


def test_payloads_past_retention_are_destroyed_by_the_worker(outbox: Outbox, clock: FakeClock) -> None:
    (tcn,) = submit(outbox)
    client = ScriptedClient(polls=[Answered(RESULTS)])
    worker = worker_for(outbox, client, clock, retention=timedelta(days=30))
    worker.run_once()
    clock.advance(seconds=15)
    worker.run_once()
    clock.advance(days=31)
    worker.run_once()
    assert outbox.item(tcn).purged_at  # type: ignore[union-attr]


def test_the_audit_head_goes_alone_when_it_changed_and_at_most_every_head_report(
    outbox: Outbox, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    client = ScriptedClient(reports=[None, OFFLINE])
    worker = worker_for(outbox, client, clock, head_report=timedelta(minutes=10))
    worker.run_once()
    assert client.reported == []  # an empty log has no head
    outbox.audit("officer-17", "signed in")
    first = outbox.audit_head()
    worker.run_once()
    worker.run_once()
    assert client.reported == [first]  # sent once; unchanged since
    outbox.audit("officer-17", "signed out")
    second = outbox.audit_head()
    clock.advance(minutes=9)
    worker.run_once()
    assert client.reported == [first]  # not before head_report has passed
    clock.advance(minutes=1)
    worker.run_once()
    assert client.reported == [first, second]  # and that one failed
    assert "sending the audit head to the centre failed (ConnectionError" in caplog.text
    clock.advance(minutes=5)
    worker.run_once()
    assert client.reported == [first, second]  # a failure waits out head_report too
    clock.advance(minutes=5)
    worker.run_once()
    assert client.reported == [first, second, second]
    clock.advance(minutes=10)
    worker.run_once()
    assert client.reported == [first, second, second]  # the centre has it


def test_no_head_report_while_the_link_is_paused_or_when_turned_off(outbox: Outbox, clock: FakeClock) -> None:
    outbox.audit("officer-17", "signed in")
    submit(outbox)
    paused = ScriptedClient(sends=[OFFLINE])
    worker_for(outbox, paused, clock).run_once()
    assert paused.sent and paused.reported == []
    off = ScriptedClient()
    clock.advance(minutes=30)
    worker_for(outbox, off, clock, head_report=None).run_once()
    assert off.sent and off.reported == []


# --- the thread ----------------------------------------------------------------------------------


class CountingOutbox:
    """Counts how often the worker looks for work."""

    def __init__(self, outbox: Outbox) -> None:
        self.claims = 0
        self._claim = outbox.claim
        outbox.claim = self.claim  # type: ignore[method-assign]

    def claim(self, *args: object) -> object:
        self.claims += 1
        return self._claim(*args)  # type: ignore[arg-type]


def test_a_new_booking_wakes_the_worker_which_otherwise_sleeps(tmp_path: Path) -> None:
    outbox = new_outbox(tmp_path)
    counter = CountingOutbox(outbox)
    worker = SyncWorker(outbox, ScriptedClient(), replace(FAST, idle_wait=30.0))  # type: ignore[arg-type]
    worker.start()
    try:
        time.sleep(0.5)
        assert counter.claims <= 2  # asleep, not polling
        (tcn,) = submit(outbox)
        started = time.monotonic()
        assert wait_until(lambda: state(outbox, tcn) == ACCEPTED, timeout=5)
        assert time.monotonic() - started < 5  # far sooner than the 30 s idle wait
    finally:
        worker.stop()
    outbox.close()


def test_one_process_owns_the_sending_side_and_releases_a_crashed_send(tmp_path: Path) -> None:
    outbox = new_outbox(tmp_path)
    (tcn,) = submit(outbox)
    assert outbox.claim("a-process-that-died", timedelta(hours=1)) is not None
    worker = SyncWorker(outbox, ScriptedClient(), FAST)  # type: ignore[arg-type]
    worker.start()
    try:
        assert wait_until(lambda: state(outbox, tcn) == ACCEPTED, timeout=5)  # not after the hour
        second = SyncWorker(new_outbox(tmp_path), ScriptedClient(), FAST)  # type: ignore[arg-type]
        with pytest.raises(OutboxBusy, match="another process"):
            second.start()
    finally:
        worker.stop()
    events = [entry.event for entry in outbox.audit_trail(tcn)]
    assert events == ["queued", "accepted"]
    outbox.close()


def test_the_worker_against_the_real_centre(centre: CentralProcess, pki: PkiLayout, tmp_path: Path) -> None:
    outbox = new_outbox(tmp_path)
    good, invalid = booking_transaction(), invalid_transaction()
    conflicting = booking_transaction()
    client = CentreClient(endpoint(centre.url, pki))
    assert isinstance(
        client.submit(conflicting.tcn, conflicting.data), Accepted
    )  # the centre has other bytes
    for sent in (good, invalid, other_bytes(conflicting)):
        outbox.submit(sent.data, actor="officer")
    worker = SyncWorker(outbox, client, FAST)
    worker.start()
    try:
        settled = {RESPONDED, REJECTED, DEAD}
        assert wait_until(lambda: all(item.state in settled for item in outbox.items()), timeout=15)
    finally:
        worker.stop()
        client.close()
    assert [state(outbox, sent.tcn) for sent in (good, invalid, conflicting)] == [RESPONDED, REJECTED, DEAD]
    assert set(outbox.results(good.tcn, "officer")) == {"criminal", "immigration"}
    assert {problem["field"] for problem in outbox.problems(invalid.tcn, "officer")} >= {"2.024 SEX"}
    assert "409 conflict" in outbox.item(conflicting.tcn).last_error  # type: ignore[union-attr]
    outbox.close()


def test_stop_is_prompt_while_the_worker_sleeps(tmp_path: Path) -> None:
    outbox = new_outbox(tmp_path)
    worker = SyncWorker(outbox, ScriptedClient(), replace(FAST, idle_wait=60.0))  # type: ignore[arg-type]
    worker.start()
    started = time.monotonic()
    worker.stop()
    assert time.monotonic() - started < 2 and not any(t.name == "sync-worker" for t in threading.enumerate())
    outbox.close()
