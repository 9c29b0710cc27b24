"""Intake decisions without HTTP: status codes, idempotency, storage, races on the UNIQUE TCN."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from central_helpers import ORI_A, STATION_A, STATION_B, transaction
from transaction_samples import NOW, with_subject

from central.db import SCHEMA_VERSION, Database, SchemaError
from central.identity import ClientIdentity
from central.intake import Intake, Reply
from central.notifications import NotificationStore
from central.transactions import TransactionStore
from sync.transaction import build_message

CALLER_A = ClientIdentity(ori=STATION_A.ori, station_id=STATION_A.station_id)
CALLER_B = ClientIdentity(ori=STATION_B.ori, station_id=STATION_B.station_id)


@pytest.fixture
def database(tmp_path: Path) -> Database:
    database = Database(tmp_path / "data")
    yield database
    database.close()


@pytest.fixture
def store(database: Database) -> TransactionStore:
    return TransactionStore(database, NotificationStore(database))


@pytest.fixture
def accepted() -> list[str]:
    return []


@pytest.fixture
def intake(store: TransactionStore, accepted: list[str]) -> Intake:
    return Intake(store, clock=lambda: NOW, on_accepted=accepted.append)


def test_valid_transaction_is_stored_pending_and_acknowledged(
    intake: Intake, store: TransactionStore, accepted: list[str]
) -> None:
    sent = transaction()
    reply = intake.submit(CALLER_A, sent.tcn, sent.data)
    assert reply.status == 202
    assert reply.body == {
        "tcn": sent.tcn,
        "received_at": "2024-03-15T14:30:05.000Z",
        "sha256": reply.body["sha256"],
        "status": "pending",
    }
    assert reply.headers["Location"] == f"/v1/transactions/{sent.tcn}"
    assert accepted == [sent.tcn]
    assert store.body(sent.tcn) == sent.data
    record = store.get(sent.tcn)
    assert record is not None and (record.ori, record.station, record.size) == (ORI_A, "K01", len(sent.data))


def test_replay_returns_the_original_receipt_and_conflict_is_409(intake: Intake, accepted: list[str]) -> None:
    sent = transaction()
    first = intake.submit(CALLER_A, sent.tcn, sent.data)
    again = intake.submit(CALLER_A, sent.tcn, sent.data)
    assert (again.status, again.body) == (200, first.body)
    assert again.headers["Idempotent-Replayed"] == "true"
    other = transaction(case="2024-999", tcn=sent.tcn)
    conflict = intake.submit(CALLER_A, sent.tcn, other.data)
    assert conflict.status == 409 and conflict.body["error"] == "conflict"
    assert accepted == [sent.tcn]


def test_invalid_booking_is_422_with_every_problem_and_kept_as_rejected(
    intake: Intake, store: TransactionStore
) -> None:
    sent = transaction()
    broken = with_subject(sent.booking, sex="Q", race="?", height_inches=20)
    data = build_message(broken).NIST
    reply = intake.submit(CALLER_A, sent.tcn, data)
    assert reply.status == 422
    fields = {problem["field"] for problem in reply.body["problems"]}
    assert {"2.024 SEX", "2.025 RAC", "2.027 HGT"} <= fields
    record = store.get(sent.tcn)
    assert record is not None and record.status == "rejected" and store.body(sent.tcn) is None
    assert intake.submit(CALLER_A, sent.tcn, data) == Reply(422, reply.body, {"Idempotent-Replayed": "true"})
    assert intake.submit(CALLER_A, sent.tcn, sent.data).status == 409  # the fix needs a new TCN


@pytest.mark.parametrize(
    ("key", "status", "error"),
    [
        (None, 400, "missing_idempotency_key"),
        ("", 400, "missing_idempotency_key"),
        ("not-a-tcn", 400, "bad_idempotency_key"),
        ("X" * 5000, 400, "bad_idempotency_key"),
        ("NY0303000K01-20240315143005-000042X", 400, "bad_idempotency_key"),  # wrong check character
    ],
)
def test_bad_idempotency_keys(intake: Intake, key: str | None, status: int, error: str) -> None:
    reply = intake.submit(CALLER_A, key, transaction().data)
    assert (reply.status, reply.body["error"]) == (status, error)
    assert len(str(reply.body)) < 1000  # a hostile key is not echoed back whole


def test_key_must_equal_the_transaction_tcn(intake: Intake, store: TransactionStore) -> None:
    sent, other = transaction(), transaction()
    reply = intake.submit(CALLER_A, other.tcn, sent.data)
    assert reply.status == 400 and reply.body["problems"][0]["field"] == "1.009 TCN"
    assert store.count() == 0


def test_ori_of_another_agency_is_403(intake: Intake, store: TransactionStore) -> None:
    theirs = transaction(STATION_A)
    assert intake.submit(CALLER_B, theirs.tcn, theirs.data).status == 403
    disguised = transaction(STATION_B, ori=ORI_A)  # B's TCN, A's ORI in 1.008
    assert intake.submit(CALLER_B, disguised.tcn, disguised.data).status == 403
    assert store.count() == 0


@pytest.mark.parametrize(
    "mangle",
    [
        lambda data: b"",
        lambda data: data[: len(data) // 2],
        lambda data: data.replace(b"\x1d", b"\x1e", 3),
        lambda data: b"1.001:99999999999999999999\x1d" + data,
        lambda data: data[:40] + bytes(range(256)) * 4,
        lambda data: data + b"2.001:10\x1d2.002:00\x1c",
    ],
    ids=["empty", "truncated", "separators", "huge-len", "binary", "extra-record"],
)
def test_malformed_bytes_are_400_with_problems(intake: Intake, store: TransactionStore, mangle) -> None:
    sent = transaction()
    reply = intake.submit(CALLER_A, sent.tcn, mangle(sent.data))
    assert reply.status == 400 and reply.body["error"] == "malformed" and reply.body["problems"]
    assert store.count() == 0


def test_oversized_body_is_413(store: TransactionStore) -> None:
    sent = transaction()
    reply = Intake(store, clock=lambda: NOW, max_bytes=len(sent.data) - 1).submit(
        CALLER_A, sent.tcn, sent.data
    )
    assert reply.status == 413


def race(intake: Intake, bodies: list[bytes], key: str) -> list[Reply]:
    barrier = threading.Barrier(len(bodies))
    replies: list[Reply] = []

    def deliver(body: bytes) -> None:
        barrier.wait(timeout=10)
        replies.append(intake.submit(CALLER_A, key, body))

    threads = [threading.Thread(target=deliver, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return replies


def test_concurrent_identical_deliveries_store_once(intake: Intake, store: TransactionStore) -> None:
    sent = transaction()
    replies = race(intake, [sent.data] * 8, sent.tcn)
    assert Counter(reply.status for reply in replies) == {202: 1, 200: 7}
    assert len({reply.body["received_at"] for reply in replies}) == 1
    assert store.count() == 1


def test_concurrent_conflicting_deliveries_store_one_of_them(intake: Intake, store: TransactionStore) -> None:
    sent = transaction()
    other = transaction(case="2024-999", tcn=sent.tcn)
    replies = race(intake, [sent.data, other.data] * 3, sent.tcn)
    statuses = Counter(reply.status for reply in replies)
    assert statuses[202] == 1 and statuses[200] == 2 and statuses[409] == 3
    assert store.count() == 1


def test_schema_version_is_recorded_and_a_newer_database_is_refused(database: Database) -> None:
    assert database.schema_version() == SCHEMA_VERSION
    assert database.db().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.db().execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    database.db().execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaError):
        Database(database.path.parent)
