"""The centre keeps the stations' audit heads: the anchor off the station that shows a cut log.

A real ``livescan central serve`` (matching off) over mutual TLS, a real station outbox and sync
worker, real SQLite files; the CLI through click's runner.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
from central_helpers import STATION_A, STATION_B, operator_client, station_client, transaction
from click.testing import CliRunner
from outbox_helpers import FAST, booking_transaction, endpoint, new_outbox, start_centre

from central.audit_heads_cli import audit_heads
from central.db import BEHIND, KNOWN, NEW, Database, StationHead
from central.pki import PkiLayout, StationName
from central.process import CentralProcess
from sync.client import Accepted, CentreClient, Unknown
from sync.outbox import ACCEPTED, Outbox
from sync.outbox.audit import AUDIT_HEAD_HEADER, AuditHead, MalformedAuditHead
from sync.worker import SyncWorker

HASH_A, HASH_B, HASH_C = "a" * 64, "b" * 64, "c" * 64
STATION_C = StationName("NY0305000", "K03")  # needs no certificate: only its heads are stored


@pytest.fixture(scope="module")
def centre(pki: PkiLayout, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralProcess]:
    process = start_centre(pki, tmp_path_factory.mktemp("audit-heads"), matching=False)
    yield process
    process.stop()


def data_dir(process: CentralProcess) -> Path:
    return Path(process.command[process.command.index("--data") + 1])


def station_heads(process: CentralProcess, station: StationName) -> list[StationHead]:
    """The heads the centre kept for ``station``, newest first."""
    database = Database(data_dir(process))
    try:
        return database.audit_heads(station.ori, station.station_id)
    finally:
        database.close()


def deliver(outbox: Outbox, worker: SyncWorker) -> AuditHead:
    """Queue one booking and let the worker send it; the outbox's head when it was sent."""
    tcn = outbox.submit(booking_transaction().data, actor="officer-17")
    sent = outbox.audit_head()
    assert sent is not None
    worker.run_once()
    item = outbox.item(tcn)
    assert item is not None and item.state == ACCEPTED
    return sent


# --- the head on the wire ------------------------------------------------------------------------


def test_a_head_reads_back_from_its_wire_form_and_anything_else_is_a_named_error() -> None:
    head = AuditHead(17, HASH_A)
    assert str(head) == f"17:{HASH_A}" and AuditHead.parse(str(head)) == head
    for bad in ("", "17", f"0:{HASH_A}", f"-1:{HASH_A}", f"17:{HASH_A[:-1]}", f"17:{HASH_A.upper()}", "x:y"):
        with pytest.raises(MalformedAuditHead, match="<entry id>:<64 lower-case hex digits>"):
            AuditHead.parse(bad)


def test_the_outbox_head_is_its_last_entry_and_none_for_an_empty_log(tmp_path: Path) -> None:
    outbox = new_outbox(tmp_path)
    try:
        assert outbox.audit_head() is None
        outbox.audit("officer-17", "signed in")
        outbox.audit("officer-17", "signed out")
        report = outbox.verify_audit()
        assert outbox.audit_head() == AuditHead(2, report.head)  # type: ignore[arg-type]
    finally:
        outbox.close()


# --- a real centre --------------------------------------------------------------------------------


@pytest.fixture
def station_a(
    centre: CentralProcess, pki: PkiLayout, tmp_path: Path
) -> Iterator[tuple[Outbox, CentreClient]]:
    """A new outbox of station A and its client for the centre."""
    outbox = new_outbox(tmp_path / "station")
    client = CentreClient(endpoint(centre.url, pki, STATION_A))
    yield outbox, client
    client.close()
    outbox.close()


def test_the_centre_keeps_the_head_of_each_delivery_and_it_shows_a_log_cut_off_its_end(
    centre: CentralProcess, station_a: tuple[Outbox, CentreClient]
) -> None:
    outbox, client = station_a
    worker = SyncWorker(outbox, client, replace(FAST, head_report=None))  # deliveries alone
    first = deliver(outbox, worker)
    second = deliver(outbox, worker)
    kept = station_heads(centre, STATION_A)
    assert [(head.entry_id, head.hash) for head in kept[:2]] == [
        (second.entry_id, second.hash),
        (first.entry_id, first.hash),
    ]
    assert outbox.verify_audit(anchor=kept[0].hash).ok

    with closing(sqlite3.connect(outbox.path)) as station_db, station_db:
        station_db.execute("DELETE FROM audit WHERE id >= ?", [kept[0].entry_id])
    assert outbox.verify_audit().ok  # the chain alone cannot see a cut end
    cut = outbox.verify_audit(anchor=kept[0].hash)
    assert not cut.ok and "cut off its end" in (cut.problem or "")


def test_a_replay_keeps_its_head_and_a_head_going_back_is_flagged(
    centre: CentralProcess, pki: PkiLayout
) -> None:
    sent = transaction(STATION_B)
    client = CentreClient(endpoint(centre.url, pki, STATION_B))
    try:
        assert isinstance(client.submit(sent.tcn, sent.data, audit_head=AuditHead(40, HASH_A)), Accepted)
        replay = client.submit(sent.tcn, sent.data, audit_head=AuditHead(30, HASH_B))
        assert isinstance(replay, Accepted) and replay.replayed
    finally:
        client.close()
    kept = station_heads(centre, STATION_B)
    assert [(h.entry_id, h.hash) for h in kept[:2]] == [(30, HASH_B), (40, HASH_A)]
    log = centre.log.read_text()
    assert f"{STATION_B.ori}/{STATION_B.station_id}: audit head 30:{HASH_B} is behind 40:{HASH_A}" in log
    assert f"livescan audit verify --anchor {HASH_A}" in log


def test_a_malformed_head_is_ignored_and_the_delivery_still_succeeds(
    centre: CentralProcess, pki: PkiLayout
) -> None:
    before = station_heads(centre, STATION_B)
    sent = transaction(STATION_B)
    client = station_client(centre.url, pki, STATION_B)
    try:
        response = client.session.post(
            f"{centre.url}/v1/transactions", data=sent.data, timeout=20,
            headers={"Idempotency-Key": sent.tcn, AUDIT_HEAD_HEADER: "not-a-head"},
        )  # fmt: skip
    finally:
        client.close()
    assert response.status_code == 202 and response.json()["tcn"] == sent.tcn
    assert station_heads(centre, STATION_B) == before
    log = centre.log.read_text()
    assert f"{STATION_B.ori}/{STATION_B.station_id}: malformed {AUDIT_HEAD_HEADER} header ignored" in log


def test_a_delivery_without_a_head_sends_no_header_and_is_accepted(
    centre: CentralProcess, pki: PkiLayout
) -> None:
    before = station_heads(centre, STATION_B)
    sent = transaction(STATION_B)
    client = CentreClient(endpoint(centre.url, pki, STATION_B))
    try:
        assert isinstance(client.submit(sent.tcn, sent.data, audit_head=None), Accepted)
    finally:
        client.close()
    assert station_heads(centre, STATION_B) == before


def test_a_poll_for_the_answer_carries_the_newest_head_and_a_poll_of_a_stranger_keeps_none(
    centre: CentralProcess, pki: PkiLayout, station_a: tuple[Outbox, CentreClient]
) -> None:
    outbox, client = station_a
    worker = SyncWorker(outbox, client, replace(FAST, head_report=None))  # the poll alone
    delivered = deliver(outbox, worker)
    outbox.audit("officer-17", "signed out")  # written after the delivery
    newest = outbox.audit_head()
    assert newest is not None and newest.entry_id > delivered.entry_id
    deadline = time.monotonic() + 10
    while station_heads(centre, STATION_A)[0].entry_id != newest.entry_id:  # the matcher is off:
        assert time.monotonic() < deadline, "no poll carried the newest head"  # polls say pending
        time.sleep(FAST.poll_interval.total_seconds())
        worker.run_once()
    assert outbox.verify_audit(anchor=station_heads(centre, STATION_A)[0].hash).ok

    stranger = transaction(STATION_B)  # another ORI's transaction: 404, and nothing kept
    with closing(CentreClient(endpoint(centre.url, pki, STATION_B))) as other:
        assert isinstance(other.submit(stranger.tcn, stranger.data), Accepted)
    before = station_heads(centre, STATION_A)
    assert isinstance(client.status(stranger.tcn, audit_head=AuditHead(10**6, HASH_C)), Unknown)
    assert station_heads(centre, STATION_A) == before


def test_an_idle_station_reports_its_head_alone(
    centre: CentralProcess, station_a: tuple[Outbox, CentreClient]
) -> None:
    outbox, client = station_a
    outbox.audit("officer-17", "signed in")
    outbox.audit("officer-17", "signed out")  # nothing to deliver or ask about
    head = outbox.audit_head()
    assert head is not None
    SyncWorker(outbox, client, FAST).run_once()
    kept = station_heads(centre, STATION_A)[0]
    assert (kept.entry_id, kept.hash) == (head.entry_id, head.hash)


def test_a_head_report_needs_a_well_formed_head_and_a_station_certificate(
    centre: CentralProcess, pki: PkiLayout
) -> None:
    station = station_client(centre.url, pki, STATION_B)
    operator = operator_client(centre.url, pki)
    try:
        url = f"{centre.url}/v1/audit-head"
        missing = station.session.put(url, timeout=20)
        assert (missing.status_code, missing.json()["error"]) == (400, "no_audit_head")
        assert AUDIT_HEAD_HEADER in missing.json()["message"]
        malformed = station.session.put(url, headers={AUDIT_HEAD_HEADER: "17"}, timeout=20)
        assert (malformed.status_code, malformed.json()["error"]) == (400, "malformed_audit_head")
        assert "<entry id>:<64 lower-case hex digits>" in malformed.json()["message"]
        refused = operator.session.put(url, headers={AUDIT_HEAD_HEADER: f"17:{HASH_C}"}, timeout=20)
        assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
    finally:
        station.close()
        operator.close()
    assert HASH_C not in {head.hash for head in station_heads(centre, STATION_B)}


# --- the store and the command line -----------------------------------------------------------------


def head(station: StationName, entry_id: int, digest: str, hour: int) -> StationHead:
    return StationHead(station.ori, station.station_id, entry_id, digest, f"2024-03-15T{hour:02}:00:00.000Z")


@pytest.fixture
def heads_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    database = Database(directory)
    try:
        record = database.record_audit_head
        assert record(head(STATION_A, 5, HASH_A, 10)) == (NEW, None)
        assert record(head(STATION_A, 9, HASH_B, 11)) == (NEW, None)
        assert record(head(STATION_A, 9, HASH_B, 12)) == (KNOWN, None)
        assert record(head(STATION_B, 3, HASH_A, 10)) == (NEW, None)
        outcome, before = record(head(STATION_B, 3, HASH_C, 13))  # same id, another hash: chained again
        assert outcome == BEHIND and before is not None and before.hash == HASH_A
        assert record(head(STATION_C, 9, HASH_A, 10)) == (NEW, None)
        outcome, before = record(head(STATION_C, 7, HASH_B, 14))  # a lower id than one sent before
        assert outcome == BEHIND and before is not None and (before.entry_id, before.hash) == (9, HASH_A)
    finally:
        database.close()
    return directory


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(audit_heads, list(args))
    return result.exit_code, result.output


def test_the_cli_lists_each_stations_anchor_and_flags_one_that_went_back(heads_dir: Path) -> None:
    code, output = run("--data", str(heads_dir), "--json")
    assert code == 0, output
    rows = [json.loads(line) for line in output.splitlines()]
    assert [(r["station"], r["entry_id"], r["hash"], r["heads"], r["went_back"]) for r in rows] == [
        ("NY0303000/K01", 9, HASH_B, 2, False),
        ("NY0304000/K02", 3, HASH_A, 2, True),  # the first of equal ids: the one before the change
        ("NY0305000/K03", 9, HASH_A, 2, True),
    ]
    assert rows[0]["received_at"] == "2024-03-15T11:00:00.000Z"  # first received, kept

    code, output = run("--data", str(heads_dir))
    assert code == 0 and "livescan audit verify --anchor HASH" in output
    lines = {line.split()[0]: line for line in output.splitlines()[1:-1]}
    assert HASH_B in lines["NY0303000/K01"] and "WENT BACK" not in lines["NY0303000/K01"]
    assert HASH_A in lines["NY0304000/K02"] and lines["NY0304000/K02"].endswith("WENT BACK")


def test_the_cli_lists_one_stations_heads_newest_first(heads_dir: Path) -> None:
    code, output = run("--data", str(heads_dir), "--station", "NY0303000/K01", "--json")
    assert code == 0, output
    assert [json.loads(line)["entry_id"] for line in output.splitlines()] == [9, 5]
    code, output = run("--data", str(heads_dir), "--station", "NY0303000/K99")
    assert code == 0 and "no audit heads from NY0303000/K99" in output


def test_the_cli_refuses_a_station_that_is_not_ori_slash_id(heads_dir: Path) -> None:
    code, output = run("--data", str(heads_dir), "--station", "K01")
    assert code == 2 and "write ORI/STATION_ID, e.g. NY0303000/K01" in output
