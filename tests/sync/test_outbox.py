"""The outbox store: one transaction per submission, durable settings, the state machine, leases."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from outbox_helpers import NOW, FakeClock, booking_transaction, new_outbox

from sync import crashpoints
from sync.outbox import (
    ACCEPTED,
    ACKNOWLEDGED,
    DEAD,
    QUEUED,
    REJECTED,
    RESPONDED,
    SENDING,
    Outbox,
    OutboxError,
    SchemaError,
)
from sync.outbox.migrations import MIGRATIONS, SCHEMA_VERSION
from sync.outbox.states import STATES, TRANSITIONS, sources
from sync.transaction import TcnIssuer, parse_tcn

LEASE = timedelta(minutes=5)
RESULTS = {"criminal": {"hit": False}, "immigration": {"hit": True, "candidates": [{"subject_id": "I-0001"}]}}


class Crash(Exception):
    pass


def crash_at(point: str):
    def crash_point(name: str) -> None:
        if name == point:
            raise Crash(name)

    return crash_point


def table_counts(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(path)) as connection:
        return {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("bookings", "outbox", "audit")
        }


def test_the_database_is_wal_with_full_sync_secure_delete_and_recorded_migrations(outbox: Outbox) -> None:
    db = outbox.database.db()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA secure_delete").fetchone()[0] == 1
    applied = db.execute("SELECT version, name, applied_at FROM schema_migrations").fetchall()
    assert [version for version, _, _ in applied] == list(range(1, SCHEMA_VERSION + 1))
    assert outbox.database.schema_version() == SCHEMA_VERSION
    assert stat.S_IMODE(os.stat(outbox.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(outbox.path.parent / "outbox.db-wal").st_mode) == 0o600


# sha256 of each shipped migration's SQL: databases out there were made by exactly this text
SHIPPED = {
    1: "e1bc54f6f9e664c50787e46501921f98222dbf88cfe3508d991566c2fcf00053",
    2: "31681810210931ff403f28ee364d1538c1136dc41bfa364db9d98de773ad838d",
}


def test_shipped_migrations_are_never_edited() -> None:
    for version, digest in SHIPPED.items():
        sql = MIGRATIONS[version - 1].sql
        assert hashlib.sha256(sql.encode()).hexdigest() == digest, (
            f"outbox migration {version} changed (a new state changes migration 1's CHECK too): existing "
            "databases keep the old schema, so restore it and add a new migration at the end"
        )


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path, outbox: Outbox) -> None:
    outbox.database.db()["schema_migrations"].insert({"version": 99, "name": "future", "applied_at": "x"})
    outbox.close()
    with pytest.raises(SchemaError, match="schema version 99"):
        new_outbox(tmp_path)
    with pytest.raises(SchemaError, match="no outbox database"):
        new_outbox(tmp_path / "elsewhere", create=False)


def test_submit_writes_booking_outbox_row_and_audit_entry_together(outbox: Outbox, clock: FakeClock) -> None:
    sent = booking_transaction()
    assert outbox.submit(sent.data, actor="officer-17") == sent.tcn
    item = outbox.item(sent.tcn)
    assert item is not None
    assert (item.state, item.attempts, item.submitted_by) == (QUEUED, 0, "officer-17")
    assert item.size == len(sent.data)
    assert item.queued_at == item.next_attempt_at == item.created_at
    assert [(e.actor, e.event) for e in outbox.audit_trail(sent.tcn)] == [("officer-17", "queued")]
    assert outbox.payload(sent.tcn) == sent.data
    details = outbox.details(sent.tcn, "officer-17")
    assert details["name"] == "BEEBLEBROX,ZAPHOD" and details["printed"] == list(range(1, 9))
    assert outbox.audit_trail(sent.tcn)[-1].event == "viewed details"


def test_a_crash_before_commit_leaves_nothing_and_after_commit_everything(tmp_path: Path) -> None:
    before = new_outbox(tmp_path / "a", crash_point=crash_at(crashpoints.SUBMIT_WRITTEN))
    with pytest.raises(Crash):
        before.submit(booking_transaction().data, actor="officer")
    assert table_counts(before.path) == {"bookings": 0, "outbox": 0, "audit": 0}
    after = new_outbox(tmp_path / "b", crash_point=crash_at(crashpoints.SUBMIT_COMMITTED))
    with pytest.raises(Crash):
        after.submit(booking_transaction().data, actor="officer")
    assert table_counts(after.path) == {"bookings": 1, "outbox": 1, "audit": 1}


def test_submit_refuses_unreadable_bytes_and_a_second_submission_of_a_tcn(outbox: Outbox) -> None:
    with pytest.raises(OutboxError, match="does not read back"):
        outbox.submit(b"1.001:garbage", actor="officer")
    sent = booking_transaction()
    outbox.submit(sent.data, actor="officer")
    with pytest.raises(OutboxError, match="already in the outbox"):
        outbox.submit(sent.data, actor="officer")
    assert outbox.counts()[QUEUED] == 1


def test_the_tcn_sequence_persists_and_only_grows(tmp_path: Path) -> None:
    first = new_outbox(tmp_path)
    numbers = [first.next_sequence() for _ in range(3)]
    first.close()
    again = new_outbox(tmp_path)
    numbers.append(again.next_sequence())
    assert numbers == [1, 2, 3, 4]
    tcn = TcnIssuer("NY0303000", "K01", lambda: NOW, again.next_sequence).issue()
    assert parse_tcn(tcn.text).sequence == 5


def test_claims_go_oldest_first_and_a_leased_item_is_not_claimed_twice(
    outbox: Outbox, clock: FakeClock
) -> None:
    tcns = [outbox.submit(booking_transaction().data, actor="officer") for _ in range(3)]
    first = outbox.claim("worker-1", LEASE)
    second = outbox.claim("worker-2", LEASE)
    assert first is not None and second is not None
    assert [first.tcn, second.tcn] == tcns[:2] and first.attempt == 1
    assert outbox.item(first.tcn).state == SENDING  # type: ignore[union-attr]
    assert outbox.retry_later(second, NOW + timedelta(hours=1), "HTTP 503")
    third = outbox.claim("worker-2", LEASE)
    assert third is not None and third.tcn == tcns[2]
    assert outbox.claim("worker-3", LEASE) is None  # one leased, one waiting an hour, one leased


def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_record(
    outbox: Outbox, clock: FakeClock
) -> None:
    tcn = outbox.submit(booking_transaction().data, actor="officer")
    stale = outbox.claim("crashed", LEASE)
    assert stale is not None
    clock.advance(minutes=4)
    assert outbox.claim("other", LEASE) is None  # still leased
    clock.advance(minutes=2)
    fresh = outbox.claim("other", LEASE)
    assert fresh is not None and fresh.tcn == tcn and fresh.attempt == 2
    assert not outbox.accepted(stale, {"tcn": tcn}, NOW)
    assert not outbox.retry_later(stale, NOW, "late")
    assert outbox.accepted(fresh, {"tcn": tcn}, clock.now)
    assert outbox.item(tcn).state == ACCEPTED  # type: ignore[union-attr]


def test_release_leases_requeues_interrupted_sends_at_once(outbox: Outbox) -> None:
    tcn = outbox.submit(booking_transaction().data, actor="officer")
    assert outbox.claim("dead-process", LEASE) is not None
    woken = []
    outbox.on_queued(lambda: woken.append(True))
    assert outbox.release_leases("interrupted") == 1
    item = outbox.item(tcn)
    assert item is not None
    assert (item.state, item.lease_owner, item.last_error) == (QUEUED, None, "interrupted")
    assert woken == [True]


def test_delivered_answered_and_acknowledged_are_kept_apart(outbox: Outbox, clock: FakeClock) -> None:
    tcn = outbox.submit(booking_transaction().data, actor="officer")
    claim = outbox.claim("worker", LEASE)
    assert claim is not None
    clock.advance(seconds=1)
    assert outbox.accepted(claim, {"tcn": tcn, "status": "pending"}, clock.now)
    item = outbox.item(tcn)
    assert item is not None and item.accepted_at and item.receipt == {"tcn": tcn, "status": "pending"}
    assert item.answered == () and item.acknowledged_at is None
    assert outbox.due_polls() == [tcn]
    outbox.poll_later(tcn, clock.now + timedelta(seconds=30))
    assert outbox.due_polls() == []
    with pytest.raises(OutboxError, match="only an answered booking"):
        outbox.acknowledge(tcn, "officer")
    assert outbox.answered(tcn, RESULTS)
    assert not outbox.answered(tcn, RESULTS)  # once
    item = outbox.item(tcn)
    assert item is not None and item.state == RESPONDED and item.answered == ("criminal", "immigration")
    assert outbox.results(tcn, "officer-17") == RESULTS
    assert outbox.acknowledge(tcn, "officer-17")
    assert not outbox.acknowledge(tcn, "officer-17")
    item = outbox.item(tcn)
    assert item is not None and item.state == ACKNOWLEDGED and item.acknowledged_by == "officer-17"
    events = [entry.event for entry in outbox.audit_trail(tcn)]
    assert events == ["queued", "accepted", "responded", "viewed results", "acknowledged"]


def test_rejections_keep_their_messages_sealed_and_cannot_be_retried(outbox: Outbox) -> None:
    tcn = outbox.submit(booking_transaction().data, actor="officer")
    claim = outbox.claim("worker", LEASE)
    assert claim is not None
    problems = [{"field": "2.024 SEX", "message": "sex 'Q' is not a code"}]
    assert outbox.rejected(tcn, problems, "HTTP 422 invalid: 1 problem(s) in 2.024 SEX", claim=claim)
    assert outbox.item(tcn).state == REJECTED  # type: ignore[union-attr]
    assert outbox.problems(tcn, "tech") == problems
    with pytest.raises(OutboxError, match="new TCN"):
        outbox.retry(tcn, "tech")


def test_a_dead_letter_is_retried_with_attempts_and_age_starting_over(
    outbox: Outbox, clock: FakeClock
) -> None:
    tcn = outbox.submit(booking_transaction().data, actor="officer")
    claim = outbox.claim("worker", LEASE)
    assert claim is not None and outbox.give_up(claim, "HTTP 403 forbidden")
    item = outbox.item(tcn)
    assert item is not None and item.closed_at
    assert (item.state, item.last_error) == (DEAD, "HTTP 403 forbidden")
    clock.advance(days=2)
    outbox.retry(tcn, "tech")
    item = outbox.item(tcn)
    assert item is not None and (item.state, item.attempts, item.closed_at) == (QUEUED, 0, None)
    assert item.queued_at == item.next_attempt_at > item.created_at
    with pytest.raises(OutboxError, match="only a dead item"):
        outbox.retry(tcn, "tech")
    assert [entry.event for entry in outbox.audit_trail(tcn)][-2:] == ["dead", "retried"]


def test_an_accepted_item_the_centre_forgot_is_queued_again(outbox: Outbox) -> None:
    tcn = outbox.submit(booking_transaction().data, actor="officer")
    claim = outbox.claim("worker", LEASE)
    assert claim is not None and outbox.accepted(claim, {"tcn": tcn}, NOW)
    assert outbox.resend(tcn, "unknown at the centre")
    assert outbox.item(tcn).state == QUEUED  # type: ignore[union-attr]


def test_every_move_follows_the_transition_table() -> None:
    assert set(TRANSITIONS) == set(STATES)
    assert sources(QUEUED) == (SENDING, ACCEPTED, DEAD)
    assert sources(ACKNOWLEDGED) == (RESPONDED,)
    assert sources(DEAD) == (SENDING,)
    reachable = {QUEUED} | {target for targets in TRANSITIONS.values() for target in targets}
    assert reachable == set(STATES)


def test_next_due_at_covers_queued_items_polls_and_leases(outbox: Outbox, clock: FakeClock) -> None:
    assert outbox.next_due_at() is None
    tcn = outbox.submit(booking_transaction().data, actor="officer")
    assert outbox.next_due_at() == NOW
    claim = outbox.claim("worker", LEASE)
    assert claim is not None and outbox.next_due_at() == NOW + LEASE
    outbox.accepted(claim, {"tcn": tcn}, NOW + timedelta(seconds=15))
    assert outbox.next_due_at() == NOW + timedelta(seconds=15)
