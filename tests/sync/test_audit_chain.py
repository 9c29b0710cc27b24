"""The station audit log: every entry chained under a key from the outbox key file; tampering with
the SQLite file (edit, delete, reorder, blank, re-hash without the key, cut the end) is found."""

from __future__ import annotations

import hashlib
import io
import json
import re
import sqlite3
import threading
from contextlib import closing
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from outbox_helpers import FakeClock, booking_transaction, new_outbox

from sync.keyring import KeyFile, create_key_file, rotate_key_file
from sync.outbox import AuditChainBroken, AuditEntryRejected, Outbox
from sync.outbox.audit import GENESIS, REKEYED, STARTED, canonical, since_timestamp
from sync.outbox.migrations import MIGRATIONS


def fill(outbox: Outbox, clock: FakeClock) -> str:
    """A booking submitted and a few station events; the TCN."""
    outbox.audit("officer-17", "signed in")
    clock.advance(seconds=5)
    outbox.audit("officer-17", "captured", detail="fgp 2 nfiq2 61")
    tcn = outbox.submit(booking_transaction().data, actor="officer-17")
    clock.advance(seconds=5)
    outbox.audit("sup-3", "override", tcn, "fgp 7 nfiq2 22 < 30")
    outbox.audit("officer-17", "signed out")
    return tcn


def tamper(path: Path, *statements: str) -> None:
    with closing(sqlite3.connect(path)) as connection:
        for statement in statements:
            connection.execute(statement)
        connection.commit()


def test_entries_are_chained_and_the_chain_verifies(outbox: Outbox, clock: FakeClock) -> None:
    tcn = fill(outbox, clock)
    trail = list(outbox.audit_entries())
    assert [(e.id, e.actor, e.event) for e in trail] == [
        (1, "officer-17", "signed in"),
        (2, "officer-17", "captured"),
        (3, "officer-17", "queued"),
        (4, "sup-3", "override"),
        (5, "officer-17", "signed out"),
    ]
    assert trail[3].tcn == tcn and trail[3].detail == "fgp 7 nfiq2 22 < 30"
    assert trail[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(trail))
    assert len({entry.hash for entry in trail}) == 5
    report = outbox.verify_audit()
    assert report.ok and report.entries == 5 and report.head == trail[-1].hash
    assert "intact: 5 entries" in report.summary()
    report.raise_if_broken()
    assert [e.event for e in outbox.audit_trail(tcn)] == ["queued", "override"]


def test_an_edited_entry_is_found(outbox: Outbox, clock: FakeClock) -> None:
    fill(outbox, clock)
    tamper(outbox.path, "UPDATE audit SET actor = 'officer-99' WHERE id = 3")
    report = outbox.verify_audit()
    assert not report.ok and report.broken_id == 3 and "altered" in (report.problem or "")
    assert report.entries == 3 and report.head == list(outbox.audit_entries())[1].hash
    with pytest.raises(AuditChainBroken, match="broken at entry 3") as caught:
        report.raise_if_broken()
    assert caught.value.report is report


def test_an_entry_re_hashed_without_the_key_is_found(outbox: Outbox, clock: FakeClock) -> None:
    """A plain SHA-256 recomputed by whoever edits the file does not pass for the MAC."""
    fill(outbox, clock)
    entry = list(outbox.audit_entries())[4]
    forged = hashlib.sha256(
        canonical(
            5, entry.at, "officer-1", entry.event, None, None, entry.key_id or "", entry.prev_hash or ""
        )
    ).hexdigest()
    tamper(outbox.path, f"UPDATE audit SET actor = 'officer-1', hash = '{forged}' WHERE id = 5")
    report = outbox.verify_audit()
    assert report.broken_id == 5 and "altered" in (report.problem or "")


def test_a_deleted_entry_is_found(outbox: Outbox, clock: FakeClock) -> None:
    fill(outbox, clock)
    tamper(outbox.path, "DELETE FROM audit WHERE id = 2")
    report = outbox.verify_audit()
    assert report.broken_id == 3 and "deleted, inserted or moved" in (report.problem or "")


def test_deleting_the_first_entry_is_found(outbox: Outbox, clock: FakeClock) -> None:
    fill(outbox, clock)
    tamper(outbox.path, "DELETE FROM audit WHERE id = 1")
    assert outbox.verify_audit().broken_id == 2


def test_reordered_entries_are_found(outbox: Outbox, clock: FakeClock) -> None:
    """Rows 2 and 4 swap places, chain columns and all."""
    fill(outbox, clock)
    tamper(
        outbox.path,
        "UPDATE audit SET id = -2 WHERE id = 2",
        "UPDATE audit SET id = 2 WHERE id = 4",
        "UPDATE audit SET id = 4 WHERE id = -2",
    )
    report = outbox.verify_audit()
    assert report.broken_id == 2 and "moved" in (report.problem or "")


def test_a_renumbered_entry_is_found(outbox: Outbox, clock: FakeClock) -> None:
    fill(outbox, clock)
    tamper(outbox.path, "UPDATE audit SET id = 10 WHERE id = 5")
    assert outbox.verify_audit().broken_id == 10


def test_blanked_chain_columns_are_found_and_not_adopted_on_reopen(tmp_path: Path, clock: FakeClock) -> None:
    outbox = new_outbox(tmp_path, clock=clock)
    fill(outbox, clock)
    outbox.close()
    tamper(tmp_path / "outbox.db", "UPDATE audit SET hash = NULL WHERE id = 4")
    reopened = new_outbox(tmp_path, clock=clock)  # a chained log is never re-chained as found
    report = reopened.verify_audit()
    assert report.broken_id == 4 and "no chain hash" in (report.problem or "")
    reopened.close()


def test_an_entry_inserted_by_hand_is_found(outbox: Outbox, clock: FakeClock) -> None:
    fill(outbox, clock)
    last = list(outbox.audit_entries())[-1]
    tamper(
        outbox.path,
        "INSERT INTO audit (id, at, actor, event, key_id, prev_hash, hash) VALUES "
        f"(6, '{last.at}', 'x', 'purged', '{last.key_id}', '{last.hash}', '{'a' * 64}')",
    )
    assert outbox.verify_audit().broken_id == 6


def test_a_cut_off_end_is_found_with_an_anchor(outbox: Outbox, clock: FakeClock) -> None:
    fill(outbox, clock)
    anchor = outbox.verify_audit().head
    tamper(outbox.path, "DELETE FROM audit WHERE id >= 4")
    assert outbox.verify_audit().ok  # no chain inside the file can tell
    report = outbox.verify_audit(anchor=anchor)
    assert not report.ok and report.broken_id is None and "cut off" in (report.problem or "")
    outbox.audit("officer-17", "signed in")
    assert outbox.verify_audit(anchor=list(outbox.audit_entries())[1].hash).ok


def test_an_entry_under_a_key_not_in_the_key_file_says_to_restore_it(
    tmp_path: Path, clock: FakeClock
) -> None:
    outbox = new_outbox(tmp_path, clock=clock)
    fill(outbox, clock)
    outbox.close()
    (tmp_path / "outbox.key").unlink()
    create_key_file(tmp_path / "outbox.key")  # a new key: the old entries cannot be checked
    other = new_outbox(tmp_path, clock=clock)
    report = other.verify_audit()
    assert report.broken_id == 1 and "restore the key file" in (report.problem or "")
    other.close()


def test_station_events_with_bad_fields_are_refused_and_nothing_is_written(outbox: Outbox) -> None:
    bad = [
        ("", "signed in", None, None),
        ("officer-17", "", None, None),
        ("officer-17", "1 starts with a digit", None, None),
        ("officer-17", "signed in\nforged line", None, None),
        ("officer-17", "captured", None, "two\nlines"),
        ("officer-17", "captured", None, "x" * 501),
        ("o" * 65, "captured", None, None),
        ("officer-17", "captured", "", None),
    ]
    for actor, event, tcn, detail in bad:
        with pytest.raises(AuditEntryRejected, match="audit entry refused"):
            outbox.audit(actor, event, tcn, detail)
    assert list(outbox.audit_entries()) == []


def test_export_writes_json_lines_with_the_chain_and_since_filters(outbox: Outbox, clock: FakeClock) -> None:
    fill(outbox, clock)
    out = io.StringIO()
    assert outbox.export_audit(out) == 5
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["signed in", "captured", "queued", "override", "signed out"]
    assert lines[-1]["hash"] == outbox.verify_audit().head and lines[0]["prev_hash"] == GENESIS
    assert set(lines[0]) == {"id", "at", "actor", "event", "tcn", "detail", "key_id", "prev_hash", "hash"}
    later = io.StringIO()
    assert outbox.export_audit(later, since=lines[3]["at"]) == 2  # the last two are 5 s later


def test_since_accepts_dates_and_times() -> None:
    assert since_timestamp("2024-03-15") == "2024-03-15T00:00:00.000Z"
    assert since_timestamp("2024-03-15T14:30:00+02:00") == "2024-03-15T12:30:00.000Z"
    assert since_timestamp("2024-03-15T14:30:00Z") == "2024-03-15T14:30:00.000Z"
    with pytest.raises(ValueError, match="write 2024-03-15"):
        since_timestamp("yesterday")


def test_rotation_re_keys_the_chain_so_the_old_key_can_go(
    outbox: Outbox, clock: FakeClock, tmp_path: Path
) -> None:
    fill(outbox, clock)
    old_head = outbox.verify_audit().head
    old = outbox.audit_trail()[0].key_id
    new = rotate_key_file(tmp_path / "outbox.key").active_id
    outbox.audit("tech", "key rotated")  # under the new key already
    assert outbox.key_ids_in_use() >= {old, new}
    outbox.reseal("tech")
    assert outbox.key_ids_in_use() == {new}
    trail = outbox.audit_trail()
    assert {entry.key_id for entry in trail} == {new}
    assert [e.event for e in trail][-3:] == ["key rotated", "resealed", REKEYED]
    assert re.fullmatch(
        rf"7 entries re-keyed to key {new}; head before [0-9a-f]{{64}}", trail[-1].detail or ""
    )
    assert outbox.verify_audit().ok and old_head not in {entry.hash for entry in trail}


def test_rotation_leaves_a_broken_chain_as_found(outbox: Outbox, clock: FakeClock, tmp_path: Path) -> None:
    fill(outbox, clock)
    old = outbox.audit_trail()[0].key_id
    rotate_key_file(tmp_path / "outbox.key")
    tamper(outbox.path, "UPDATE audit SET detail = 'changed' WHERE id = 2")
    with pytest.raises(AuditChainBroken, match="entry 2"):
        outbox.reseal("tech")
    assert old in outbox.key_ids_in_use()  # the evidence keeps its key
    assert outbox.verify_audit().broken_id == 2


def test_entries_from_before_the_chain_are_chained_once_as_found(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "outbox.db"
    with closing(sqlite3.connect(path)) as connection:  # a station still at schema version 1
        connection.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TEXT NOT NULL) STRICT"
        )
        connection.executescript(MIGRATIONS[0].sql)
        connection.execute("INSERT INTO schema_migrations VALUES (1, 'first', '2024-01-01T00:00:00.000Z')")
        for number in range(3):
            connection.execute(
                "INSERT INTO audit (at, actor, event) VALUES (?, 'sync', 'accepted')",
                [f"2024-01-0{number + 1}T00:00:00.000Z"],
            )
        connection.commit()
    keyless = Outbox(path, KeyFile(tmp_path / "outbox.key", check_now=False), clock=clock)  # a read-only tool
    assert keyless.verify_audit().broken_id == 1  # not chained yet, and not pretended to be
    keyless.close()
    create_key_file(tmp_path / "outbox.key")
    outbox = Outbox(path, KeyFile(tmp_path / "outbox.key"), clock=clock)
    trail = outbox.audit_trail()
    assert [(e.id, e.event) for e in trail] == [
        (1, "accepted"),
        (2, "accepted"),
        (3, "accepted"),
        (4, STARTED),
    ]
    assert trail[-1].detail == "3 earlier entries chained as found"
    assert outbox.verify_audit().ok
    outbox.close()
    again = Outbox(path, KeyFile(tmp_path / "outbox.key"), clock=clock)
    assert len(again.audit_trail()) == 4 and again.verify_audit().ok
    again.close()


def test_writers_on_several_threads_keep_one_chain(outbox: Outbox) -> None:
    def write(actor: str) -> None:
        for number in range(25):
            outbox.audit(actor, "captured", detail=f"fgp {number % 10 + 1}")

    threads = [threading.Thread(target=write, args=(f"officer-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    report = outbox.verify_audit()
    assert report.ok and report.entries == 100


def test_retention_keeps_the_chain_intact(outbox: Outbox, clock: FakeClock) -> None:
    tcn = outbox.submit(booking_transaction().data, actor="officer")
    claim = outbox.claim("worker", timedelta(minutes=5))
    assert claim is not None and outbox.accepted(claim, {"tcn": tcn}, clock())
    assert outbox.answered(tcn, {"criminal": {"hit": False}})
    clock.advance(days=31)
    assert outbox.purge_expired(timedelta(days=30)) == [tcn]  # VACUUM keeps the ids
    assert outbox.audit_trail(tcn)[-1].event == "payload destroyed"
    assert outbox.verify_audit().ok


def test_the_outbox_records_a_long_multi_line_error_tidied_not_refused(outbox: Outbox) -> None:
    tcn = outbox.submit(booking_transaction().data, actor="officer")
    claim = outbox.claim("worker", timedelta(minutes=5))
    error = "HTTPSConnectionPool(host='127.0.0.1'): Max retries exceeded\n" + "x" * 800
    assert claim is not None and outbox.give_up(claim, error)  # delivery's bookkeeping never fails on it
    entry = outbox.audit_trail(tcn)[-1]
    assert entry.event == "dead" and "\n" not in (entry.detail or "")
    assert len(entry.detail or "") == 500 and (entry.detail or "").endswith("…")
    assert outbox.verify_audit().ok
