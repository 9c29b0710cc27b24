"""Personal data at rest: sealed under a 0600 key file, nothing in plaintext in the database or its
WAL, keys rotated without losing a row, payloads destroyed for good after the retention period."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from outbox_helpers import SUBJECT_NAME, FakeClock, booking_transaction, new_outbox, raw_files

from sync.keyring import (
    KeyFile,
    KeyFileError,
    UnknownKey,
    create_key_file,
    load_key_ring,
    retire_keys,
    rotate_key_file,
)
from sync.lock import ExclusiveLock
from sync.outbox import Outbox
from sync.sealing import Sealer, SealError, envelope_key_id

LEASE = timedelta(minutes=5)
RESULTS = {
    "criminal": {"hit": True, "candidates": [{"subject_id": "C-SECRET-77"}]},
    "immigration": {"hit": False},
}
PROBLEMS = [{"field": "2.018 NAM", "message": f"name {SUBJECT_NAME} is too long"}]


def answered(outbox: Outbox, data: bytes) -> str:
    tcn = outbox.submit(data, actor="officer")
    claim = outbox.claim("worker", LEASE)
    assert claim is not None and outbox.accepted(claim, {"tcn": tcn}, outbox._clock())
    assert outbox.answered(tcn, RESULTS)
    return tcn


def secrets_of(data: bytes, images: list[bytes]) -> dict[str, bytes]:
    """What must never be found in the files: the name, each image, pieces of the transaction."""
    found = {"name": SUBJECT_NAME.encode(), "surname": b"BEEBLEBROX", "subject id": b"C-SECRET-77"}
    found.update({f"image {index}": image[:48] for index, image in enumerate(images)})
    found.update(
        {f"transaction @{offset}": data[offset : offset + 64] for offset in range(0, len(data), 512)}
    )
    return found


def test_the_key_file_is_created_0600_and_a_readable_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "outbox.key"
    ring = create_key_file(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600" and len(ring.active_key) == 32
    with pytest.raises(KeyFileError, match="never overwritten"):
        create_key_file(path)
    for mode in (0o640, 0o604, 0o660):
        path.chmod(mode)
        with pytest.raises(KeyFileError, match=rf"mode 0{mode:o}.*chmod 600 {path}"):
            load_key_ring(path)
        with pytest.raises(KeyFileError):
            KeyFile(path)
    missing = tmp_path / "missing.key"
    with pytest.raises(KeyFileError, match=f"no key file at {missing}; restore it from its backup") as caught:
        load_key_ring(missing)
    assert "livescan" not in str(caught.value)  # the station and the centre each name their own command
    with pytest.raises(
        KeyFileError, match="if nothing was sealed yet, create one with `make-key`, else restore"
    ):
        KeyFile(missing, create_with="make-key")
    path.chmod(0o600)
    path.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(
        KeyFileError, match=r"not a readable key file .*something else.*restore it from its backup"
    ):
        load_key_ring(path)


def test_an_envelope_names_its_key_and_opens_only_where_it_was_sealed(tmp_path: Path) -> None:
    ring = create_key_file(tmp_path / "k")
    sealer = Sealer(ring)
    envelope = sealer.seal(b"DOE,JOHN", "details:TCN1")
    assert envelope_key_id(envelope) == ring.active_id and b"DOE" not in envelope
    assert sealer.open(envelope, "details:TCN1") == b"DOE,JOHN"
    with pytest.raises(SealError, match="belongs elsewhere"):
        sealer.open(envelope, "details:TCN2")  # copied into another booking's row
    tampered = envelope[:-1] + bytes([envelope[-1] ^ 1])
    with pytest.raises(SealError):
        sealer.open(tampered, "details:TCN1")
    with pytest.raises(UnknownKey, match="restore the key file"):
        Sealer(create_key_file(tmp_path / "other")).open(envelope, "details:TCN1")
    garbled = envelope[:2] + b"\xff" + envelope[3:]  # a damaged header, not a key id
    with pytest.raises(SealError, match="not ASCII"):
        sealer.open(garbled, "details:TCN1")


def test_a_sealer_on_a_key_file_follows_its_rotation_and_retirement(tmp_path: Path) -> None:
    path = tmp_path / "k"
    first = create_key_file(path).active_id
    sealer = Sealer(KeyFile(path))
    old = sealer.seal(b"DOE,JOHN", "details:TCN1")
    assert sealer.open(old, "details:TCN1") == b"DOE,JOHN"  # the first key's cipher is now cached
    second = rotate_key_file(path).active_id
    new = sealer.seal(b"ROE,JANE", "details:TCN2")
    assert envelope_key_id(new) == second != first
    assert sealer.open(old, "details:TCN1") == b"DOE,JOHN" and sealer.open(new, "details:TCN2") == b"ROE,JANE"
    assert retire_keys(path, in_use=[second]) == [first]
    with pytest.raises(UnknownKey, match=first):  # a retired key is gone from the sealer too
        sealer.open(old, "details:TCN1")
    assert sealer.open(new, "details:TCN2") == b"ROE,JANE"


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_root_rotating_the_services_key_file_leaves_it_the_services(tmp_path: Path) -> None:
    path = tmp_path / "outbox.key"
    create_key_file(path)
    os.chown(path, 4242, 4343)  # the service user's, as install.sh --system leaves it
    rotate_key_file(path)
    retire_keys(path, in_use=[])
    info = path.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (4242, 4343, 0o600)
    assert len(load_key_ring(path).entries) == 1


def test_no_name_image_or_transaction_byte_is_in_the_database_or_its_wal(tmp_path: Path) -> None:
    outbox = new_outbox(tmp_path)
    sent = booking_transaction()
    tcn = answered(outbox, sent.data)
    claim_free = outbox.submit(booking_transaction().data, actor="officer")
    claim = outbox.claim("worker", LEASE)
    assert claim is not None and claim.tcn == claim_free
    outbox.rejected(claim.tcn, PROBLEMS, "HTTP 422: 1 problem(s) in 2.018 NAM", claim=claim)
    files = raw_files(outbox.path)
    assert len(files["outbox.db-wal"]) > len(sent.data)  # the rows are in the WAL, not yet checkpointed
    secrets = secrets_of(sent.data, [finger.wsq for finger in sent.booking.fingers])
    for name, content in files.items():
        leaks = [what for what, needle in secrets.items() if needle in content]
        assert leaks == [], f"{name} holds {leaks} in plaintext"
    assert tcn.encode() in files["outbox.db-wal"]  # metadata is readable: the search above is meaningful
    outbox.database.db().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    main = raw_files(outbox.path)["outbox.db"]
    assert not [what for what, needle in secrets.items() if needle in main]
    outbox.close()


def test_retention_destroys_the_payload_and_keeps_metadata_answers_and_audit(tmp_path: Path) -> None:
    clock = FakeClock()
    outbox = new_outbox(tmp_path, clock=clock)
    tcn = answered(outbox, booking_transaction().data)
    waiting = outbox.submit(booking_transaction().data, actor="officer")  # not answered: kept
    envelope = outbox.database.db().execute("SELECT payload FROM outbox WHERE tcn = ?", [tcn]).fetchone()[0]
    details = outbox.database.db().execute("SELECT details FROM bookings WHERE tcn = ?", [tcn]).fetchone()[0]
    clock.advance(days=29)
    assert outbox.purge_expired(timedelta(days=30)) == []
    clock.advance(days=2)
    assert outbox.purge_expired(timedelta(days=30)) == [tcn]
    assert outbox.purge_expired(timedelta(days=30)) == []
    files = raw_files(outbox.path)
    assert files.get("outbox.db-wal", b"") == b""  # checkpointed and truncated
    for name, content in files.items():
        for offset in range(0, len(envelope) - 64, 256):
            assert envelope[offset : offset + 64] not in content, f"payload ciphertext left in {name}"
        assert details[-32:] not in content, f"details ciphertext left in {name}"
    item = outbox.item(tcn)
    assert item is not None and item.purged_at and item.state == "responded" and item.sha256
    assert outbox.results(tcn, "officer") == RESULTS
    with pytest.raises(Exception, match="purged"):
        outbox.payload(tcn)
    assert outbox.audit_trail(tcn)[-2].event == "payload destroyed"
    assert outbox.payload(waiting)  # untouched
    assert outbox.integrity_check() == "ok"
    outbox.close()


def test_only_dead_or_rejected_payloads_are_purged_by_hand(tmp_path: Path) -> None:
    outbox = new_outbox(tmp_path)
    queued = outbox.submit(booking_transaction().data, actor="officer")
    with pytest.raises(Exception, match="only dead or rejected"):
        outbox.purge(queued, "tech")
    claim = outbox.claim("worker", LEASE)
    assert claim is not None and outbox.give_up(claim, "gave up")
    outbox.purge(queued, "tech")
    assert outbox.item(queued).purged_at  # type: ignore[union-attr]
    with pytest.raises(Exception, match="purged"):
        outbox.retry(queued, "tech")
    outbox.close()


def test_rotation_keeps_old_rows_readable_and_reseal_lets_old_keys_go(tmp_path: Path) -> None:
    outbox = new_outbox(tmp_path)
    key_file = tmp_path / "outbox.key"
    old = load_key_ring(key_file).active_id
    first = answered(outbox, booking_transaction().data)
    new = rotate_key_file(key_file).active_id  # the running outbox picks the new key up
    second = outbox.submit(booking_transaction().data, actor="officer")
    assert outbox.key_ids_in_use() == {old, new}
    assert outbox.payload(first) and outbox.payload(second)
    assert retire_keys(key_file, outbox.key_ids_in_use()) == []  # still in use
    assert outbox.reseal("tech") == 4  # the first booking: payload, details, two responses
    assert outbox.key_ids_in_use() == {new}
    assert retire_keys(key_file, outbox.key_ids_in_use()) == [old]
    assert outbox.results(first, "officer") == RESULTS
    assert outbox.details(first, "officer")["name"] == SUBJECT_NAME
    outbox.close()


def test_a_key_change_while_another_is_in_progress_is_refused_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "outbox.key"
    first = create_key_file(path).active_id
    with ExclusiveLock(path.with_name(path.name + ".lock")):  # another rotation holds the file
        with pytest.raises(KeyFileError, match="another process is changing"):
            rotate_key_file(path)
        with pytest.raises(KeyFileError, match="another process is changing"):
            retire_keys(path, in_use=())
    assert [entry.id for entry in load_key_ring(path).entries] == [first]
    assert rotate_key_file(path).active_id != first  # once it is done, the change goes through
