"""The centre's data at rest: sealed under a 0600 key file, nothing personal or biometric in plaintext
in ``central.db``, ``galleries.db`` or their WAL; envelopes bound to their row; the key checked at
start; version-1 (plaintext) databases sealed by the migration; keys rotated without losing a row."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_matcher import FakeMatcher
from outbox_helpers import SUBJECT_NAME, booking_transaction, raw_files
from test_galleries import iso_template
from transaction_samples import NOW

from central import answers
from central.cli import central
from central.db import DATABASE_FILE, Database
from central.db import migrations as central_migrations
from central.galleries import (
    GALLERY_FILE,
    Demographics,
    EnrolledTemplate,
    Enrolment,
    Gallery,
    GalleryDatabase,
)
from central.gallery_index import prefilter_template
from central.gallery_schema import migrations as gallery_migrations
from central.identity import ClientIdentity
from central.intake import Intake
from central.levels import Disposition, OffenceCategory, RecordEntry
from central.notifications import NotificationStore
from central.pki import PkiLayout
from central.sealed_store import KEY_FILE, CentralKeyError
from central.search import Matcher
from central.transactions import TransactionStore
from sync.keyring import create_key_file, load_key_ring
from sync.sealing import Sealer, SealError
from sync.sqlite_store import statements
from sync.transaction import decode

CALLER = ClientIdentity(ori="NY0303000", station_id="K01")
GALLERY_NAME = "PREFECT,FORD"
OFFENCE = "IMPERSONATING A HITCHHIKER"
PERSON = Demographics(
    name=GALLERY_NAME, sex="M", race="W", date_of_birth=date(1979, 10, 12), place_of_birth="MX"
)
RECORD = (RecordEntry(date(2015, 1, 2), OFFENCE, OffenceCategory.FRAUD, Disposition.CONVICTED, 400, "2699"),)
TEMPLATES = tuple(EnrolledTemplate(p, "tcn-1", iso_template(100 + p, position=p), 50) for p in (1, 2, 3))


def transaction_secrets(data: bytes, images: list[bytes]) -> dict[str, bytes]:
    found = {"name": SUBJECT_NAME.encode(), "surname": b"BEEBLEBROX"}
    found.update({f"image {index}": image[:48] for index, image in enumerate(images)})
    found.update(
        {f"transaction @{offset}": data[offset : offset + 64] for offset in range(0, len(data), 512)}
    )
    return found


def gallery_secrets() -> dict[str, bytes]:
    found = {"name": GALLERY_NAME.encode(), "surname": b"PREFECT", "offence": OFFENCE.encode()}
    for enrolled in TEMPLATES:
        template = enrolled.template
        found[f"template {enrolled.position}"] = template[32:80]  # minutiae, past the generic header
        found[f"prefilter {enrolled.position}"] = prefilter_template(template)[32:80]
    return found


def leaks(files: dict[str, bytes], secrets: dict[str, bytes]) -> list[str]:
    return [
        f"{name}: {what}"
        for name, content in files.items()
        for what, needle in secrets.items()
        if needle in content
    ]


def enrol_ford(database: GalleryDatabase, subject_id: str = "P0042") -> None:
    database.enrol(
        Enrolment(subject_id, {Gallery.CRIMINAL, Gallery.IMMIGRATION}, PERSON, TEMPLATES, RECORD, "test")
    )


# --- central.db ------------------------------------------------------------------------------


def test_intake_answers_and_notifications_leave_no_plaintext_in_central_db_or_its_wal(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    database = Database(data_dir)
    key_file = data_dir / KEY_FILE
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"  # created on first use
    notifications = NotificationStore(database)
    store = TransactionStore(database, notifications)
    sent = booking_transaction()
    assert Intake(store, clock=lambda: NOW).submit(CALLER, sent.tcn, sent.data).status == 202
    booking = decode(sent.data)
    outcome = FakeMatcher().search(replace(booking, arrest=replace(booking.arrest, case_number="CRIM-IMM")))
    results = {**answers.results(outcome), "extra": {"name": SUBJECT_NAME}}
    record = store.get(sent.tcn)
    assert record is not None
    notice = answers.notification(record, booking, outcome, "2024-03-15T14:31:00.000Z")
    assert notice is not None and notice.payload["subject"]["name"] == SUBJECT_NAME
    assert store.complete(sent.tcn, results, "2024-03-15T14:31:00.000Z", notice)
    rejected = booking_transaction()
    store.add(
        replace(record, tcn=rejected.tcn, status="rejected", problems=[{"message": SUBJECT_NAME}]), None
    )

    files = raw_files(database.path)
    assert len(files[f"{DATABASE_FILE}-wal"]) > len(
        sent.data
    )  # the rows are in the WAL, not yet checkpointed
    assert set(files) == {DATABASE_FILE, f"{DATABASE_FILE}-wal", f"{DATABASE_FILE}-shm"}
    secrets = transaction_secrets(sent.data, [finger.wsq for finger in sent.booking.fingers])
    assert leaks(files, secrets) == []
    assert (
        sent.tcn.encode() in files[f"{DATABASE_FILE}-wal"]
    )  # metadata is plain: the search above means something
    # everything still reads back through the store
    assert store.body(sent.tcn) == sent.data
    assert store.get(sent.tcn).results == results  # type: ignore[union-attr]
    assert store.get(rejected.tcn).problems == [{"message": SUBJECT_NAME}]  # type: ignore[union-attr]
    (due,) = notifications.due("2099-01-01T00:00:00.000Z")
    assert due.payload == notice.payload
    database.db().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert leaks(raw_files(database.path), secrets) == []
    database.close()


def test_an_envelope_moved_to_another_row_or_column_is_refused(tmp_path: Path) -> None:
    database = Database(tmp_path / "data")
    store = TransactionStore(database, NotificationStore(database))
    first, second = booking_transaction(), booking_transaction()
    for sent in (first, second):
        assert Intake(store, clock=lambda: NOW).submit(CALLER, sent.tcn, sent.data).status == 202
    db = database.db()
    body = db.execute("SELECT body FROM transactions WHERE tcn = ?", [first.tcn]).fetchone()[0]
    db.execute("UPDATE transactions SET body = ? WHERE tcn = ?", [body, second.tcn])
    with pytest.raises(SealError, match=r"transactions\.body envelope .* belongs elsewhere"):
        store.body(second.tcn)
    db.execute("UPDATE transactions SET results = ? WHERE tcn = ?", [body, first.tcn])  # another column
    with pytest.raises(SealError, match=r"transactions\.results"):
        store.get(first.tcn)
    database.close()


# --- galleries.db ----------------------------------------------------------------------------


def test_enrolment_and_index_load_leave_no_plaintext_in_galleries_db_or_its_wal(tmp_path: Path) -> None:
    path = tmp_path / GALLERY_FILE
    database = GalleryDatabase(path)
    enrol_ford(database)
    enrol_ford(database)  # again: the record entry is still stored once
    assert database.record("P0042") == RECORD and database.demographics("P0042") == PERSON
    assert database.templates("P0042") == list(TEMPLATES)
    with Matcher(path) as matcher:
        index = matcher.index(Gallery.CRIMINAL)  # opened in memory, at load
        assert set(index.fingers[2].templates) == {TEMPLATES[1].template}
        assert set(index.fingers[2].prefilter) == {prefilter_template(TEMPLATES[1].template)}
    summary = database.record_summary("P0042")
    assert summary is not None and summary["name"] == GALLERY_NAME and summary["level"] == 2
    files = raw_files(path)
    assert f"{GALLERY_FILE}-wal" in files and leaks(files, gallery_secrets()) == []
    assert b"P0042" in b"".join(files.values())  # subject ids are plain (the queries need them)
    database.close()


def test_a_template_moved_to_another_subject_or_finger_is_refused(tmp_path: Path) -> None:
    database = GalleryDatabase(tmp_path / GALLERY_FILE)
    enrol_ford(database, "P1")
    enrol_ford(database, "P2")
    db = database.db()
    stolen = db.execute("SELECT template FROM templates WHERE subject_id = 'P1' AND position = 1").fetchone()[
        0
    ]
    db.execute("UPDATE templates SET template = ? WHERE subject_id = 'P2' AND position = 1", [stolen])
    with pytest.raises(SealError, match=r"templates\.template"):
        database.templates("P2")
    db.execute("UPDATE templates SET template = ? WHERE subject_id = 'P1' AND position = 2", [stolen])
    with pytest.raises(SealError):
        database.templates("P1")
    entry = db.execute("SELECT entry FROM record_entries WHERE subject_id = 'P1'").fetchone()[0]
    db.execute("UPDATE record_entries SET entry = ? WHERE subject_id = 'P2'", [entry])
    with pytest.raises(SealError, match=r"record_entries\.entry"):
        database.record("P2")
    database.close()


# --- the key -----------------------------------------------------------------------------------


def test_a_wrong_missing_or_open_key_file_is_a_named_error_that_says_what_to_do(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    enrol_ford(galleries := GalleryDatabase(data_dir / GALLERY_FILE))
    galleries.close()
    Database(data_dir).close()
    key_file = data_dir / KEY_FILE
    other = tmp_path / "other.key"
    create_key_file(other)
    with pytest.raises(CentralKeyError, match=r"which the key file .*other.key does not hold.*--key-file"):
        Database(data_dir, keys=other)
    with pytest.raises(CentralKeyError, match="restore it from its backup"):
        GalleryDatabase(data_dir / GALLERY_FILE, keys=other)
    key_file.rename(tmp_path / "moved.key")
    with pytest.raises(CentralKeyError, match=r"no key file at .*, but .* is sealed under key .*restore"):
        GalleryDatabase(data_dir / GALLERY_FILE)
    assert not key_file.exists()  # a new key is never made for sealed data
    (tmp_path / "moved.key").rename(key_file)
    key_file.chmod(0o644)
    with pytest.raises(CentralKeyError, match=f"chmod 600 {key_file}"):
        Database(data_dir)
    key_file.chmod(0o600)
    with closing(GalleryDatabase(data_dir / GALLERY_FILE)) as reopened:
        assert reopened.demographics("P0042") == PERSON


def test_serve_and_enroll_refuse_a_wrong_key_file(pki: PkiLayout, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    Database(data_dir).close()
    other = tmp_path / "other.key"
    create_key_file(other)
    runner = CliRunner()
    result = runner.invoke(
        central,
        ["serve", "--port", "0", "--pki", str(pki.root), "--data", str(data_dir), "--matching", "off",
         "--key-file", str(other)],
    )  # fmt: skip
    assert result.exit_code != 0 and "does not hold" in result.output and "--key-file" in result.output
    GalleryDatabase(data_dir / GALLERY_FILE).close()
    result = runner.invoke(
        central,
        ["enroll", "--db", str(data_dir / GALLERY_FILE), "--key-file", str(other), "--synthetic", "1"],
    )
    assert result.exit_code != 0 and "does not hold" in result.output


def test_key_rotate_reseals_both_databases_and_keeps_them_readable(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with closing(GalleryDatabase(data_dir / GALLERY_FILE)) as galleries:
        enrol_ford(galleries)
    database = Database(data_dir)
    store = TransactionStore(database, NotificationStore(database))
    sent = booking_transaction()
    assert Intake(store, clock=lambda: NOW).submit(CALLER, sent.tcn, sent.data).status == 202
    old = load_key_ring(data_dir / KEY_FILE).active_id
    assert database.key_ids_in_use() == {old}
    result = CliRunner().invoke(central, ["key", "rotate", "--data", str(data_dir)])
    assert result.exit_code == 0, result.output
    ring = load_key_ring(data_dir / KEY_FILE)
    assert ring.active_id != old and old in ring.by_id  # the old key stays: nothing becomes unreadable
    assert "central.db 2" in result.output  # the body and the key check
    assert "galleries.db 9" in result.output  # demographics, record entry, 3 x 2 templates, key check
    assert database.key_ids_in_use() == {ring.active_id}
    assert store.body(sent.tcn) == sent.data  # the running store reads the re-sealed row
    database.close()
    with closing(GalleryDatabase(data_dir / GALLERY_FILE)) as galleries:
        assert galleries.key_ids_in_use() == {ring.active_id}
        assert galleries.templates("P0042") == list(TEMPLATES)


# --- migration of version-1 (plaintext) databases ----------------------------------------------


def version_1(path: Path, sql: str) -> sqlite3.Connection:
    """A database as version 1 of the centre made it: the plaintext schema, ``user_version`` 1."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    for statement in statements(sql):
        connection.execute(statement)
    connection.execute("PRAGMA user_version = 1")
    return connection


def test_a_plaintext_central_db_is_sealed_by_the_migration(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    sent = booking_transaction()
    summary = {"criminal": {"record_summary": {"name": SUBJECT_NAME}}}
    payload = {"subject": {"name": SUBJECT_NAME}}
    with closing(
        version_1(
            data_dir / DATABASE_FILE, central_migrations(Sealer(create_key_file(tmp_path / "x")))[0].sql
        )
    ) as old:
        old.execute(
            "INSERT INTO transactions (tcn, ori, sha256, size, body, received_at, status, results) "
            "VALUES (?, 'NY0303000', 'x', ?, ?, 't', 'complete', ?)",
            [sent.tcn, len(sent.data), sent.data, json.dumps(summary)],
        )
        old.execute(
            "INSERT INTO notifications (tcn, ori, kind, payload, created_at, status, next_attempt_at) "
            "VALUES (?, 'NY0303000', 'immigration_hit', ?, 't', 'pending', 't')",
            [sent.tcn, json.dumps(payload)],
        )
    assert SUBJECT_NAME.encode() in b"".join(raw_files(data_dir / DATABASE_FILE).values())
    database = Database(data_dir)  # no key file yet: made now, and the rows sealed under it
    store = TransactionStore(database, NotificationStore(database))
    assert store.body(sent.tcn) == sent.data and store.get(sent.tcn).results == summary  # type: ignore[union-attr]
    assert NotificationStore(database).due("z")[0].payload == payload
    versions = database.db().execute("SELECT version, name FROM schema_migrations").fetchall()
    assert [v for v, _ in versions] == [1, 2, 3] and "adopted" in versions[0][1]
    assert database.db().execute("PRAGMA user_version").fetchone()[0] == 3  # version-1 code refuses it
    assert leaks(raw_files(database.path), transaction_secrets(sent.data, [])) == []  # compacted too
    database.close()


def test_a_plaintext_gallery_db_is_sealed_by_the_migration(tmp_path: Path) -> None:
    path = tmp_path / GALLERY_FILE
    sql = gallery_migrations(Sealer(create_key_file(tmp_path / "x")))[0].sql
    with closing(version_1(path, sql)) as old:
        old.execute(
            "INSERT INTO subjects (id, name, sex, race, date_of_birth, place_of_birth, citizenship, "
            "created_at) VALUES ('P0042', ?, 'M', 'W', '1979-10-12', 'MX', '[]', 't')",
            [GALLERY_NAME],
        )
        old.execute("INSERT INTO subjects (id, created_at) VALUES ('P0043', 't')")
        old.execute(
            "INSERT INTO memberships VALUES ('P0042', 'criminal', 't'), ('P0042', 'immigration', 't')"
        )
        old.execute(
            "INSERT INTO record_entries (subject_id, date, offence, category, disposition, sentence_days, "
            "code) VALUES ('P0042', '2015-01-02', ?, 'fraud', 'convicted', 400, '2699')",
            [OFFENCE],
        )
        for enrolled in TEMPLATES:
            old.execute(
                "INSERT INTO templates (subject_id, position, impression, template, prefilter, nfiq2, "
                "minutiae, created_at) VALUES ('P0042', ?, ?, ?, ?, 50, 30, 't')",
                [
                    enrolled.position,
                    enrolled.impression,
                    enrolled.template,
                    prefilter_template(enrolled.template),
                ],
            )
    assert leaks(raw_files(path), gallery_secrets())  # the starting point really is plaintext
    database = GalleryDatabase(path)
    assert database.demographics("P0042") == PERSON and database.demographics("P0043") == Demographics()
    assert database.record("P0042") == RECORD
    assert database.templates("P0042") == list(TEMPLATES)
    assert database.members(Gallery.IMMIGRATION) == ["P0042"]
    columns = {row[1] for row in database.db().execute("PRAGMA table_info(subjects)")}
    assert columns == {"id", "source", "created_at", "demographics"}
    assert leaks(raw_files(path), gallery_secrets()) == []
    database.close()
