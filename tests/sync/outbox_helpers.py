"""Outboxes, bookings, a real centre and its certificates for the outbox and delivery tests."""

from __future__ import annotations

import sqlite3
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "central"))  # central_helpers, fake_matcher

from central_helpers import HERE as CENTRAL_TESTS
from central_helpers import STATION_A, STATION_B, Transaction, booking_for
from transaction_samples import NOW, finger, image_bytes, with_subject

from central.pki import PkiLayout, StationName, init_pki
from central.process import CentralProcess
from sync.backoff import Backoff
from sync.client import CentreEndpoint
from sync.keyring import KeyFile, create_key_file
from sync.outbox import Outbox
from sync.transaction import build_message, encode
from sync.worker import DeliveryPolicy

SUBJECT_NAME = "BEEBLEBROX,ZAPHOD"  # searched for in the raw database files
FAST = DeliveryPolicy(
    backoff=Backoff(0.05, 0.3), poll_interval=timedelta(seconds=0.05), idle_wait=2.0, retention=None
)

__all__ = ["CENTRAL_TESTS", "NOW", "STATION_A", "STATION_B", "image_bytes"]


class FakeClock:
    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def booking_transaction(
    station: StationName = STATION_A, *, case: str = "2024-000123", image_size: int = 256
) -> Transaction:
    """A valid transaction (a fresh TCN) for ``SUBJECT_NAME``, eight prints of ``image_size`` bytes."""
    booking = with_subject(booking_for(station, case=case), name=SUBJECT_NAME)
    booking = replace(
        booking, fingers=tuple(finger(print_.position, image_size) for print_ in booking.fingers)
    )
    return Transaction(booking, encode(booking, now=NOW))


def invalid_transaction(station: StationName = STATION_A) -> Transaction:
    """Bytes that read back as a booking but break EBTS rules (the centre answers 422)."""
    booking = with_subject(booking_for(station), sex="Q", height_inches=20)
    return Transaction(booking, build_message(booking).NIST)


def other_bytes(sent: Transaction) -> Transaction:
    """The same TCN with different content (the centre answers 409)."""
    booking = replace(sent.booking, arrest=replace(sent.booking.arrest, comments="CHANGED"))
    return Transaction(booking, encode(booking, now=NOW))


def new_outbox(directory: Path, *, clock: Callable[[], datetime] | None = None, **options: object) -> Outbox:
    key_file = directory / "outbox.key"
    if not key_file.exists():
        create_key_file(key_file)
    extra = {"clock": clock} if clock else {}
    return Outbox(directory / "outbox.db", KeyFile(key_file), **extra, **options)  # type: ignore[arg-type]


def raw_files(database: Path) -> dict[str, bytes]:
    """The bytes of the database file and its -wal and -shm companions, as they are on disk."""
    paths = [database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")]
    return {path.name: path.read_bytes() for path in paths if path.exists()}


def wait_until(condition: Callable[[], bool], timeout: float = 15.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiLayout:
    root = tmp_path_factory.mktemp("pki")
    init_pki(root, stations=[STATION_A, STATION_B], site="test")
    return PkiLayout(root)


def start_centre(pki: PkiLayout, work: Path, *, matching: bool = True) -> CentralProcess:
    options = ["--matcher", "fake_matcher:open_matcher"] if matching else ["--matching", "off"]
    work.mkdir(parents=True, exist_ok=True)
    process = CentralProcess(
        pki.root, work / "data", log=work / "central.log", options=options, python_path=[CENTRAL_TESTS]
    )
    process.start()
    return process


@pytest.fixture(scope="module")
def centre(pki: PkiLayout, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralProcess]:
    process = start_centre(pki, tmp_path_factory.mktemp("centre"))
    yield process
    process.stop()


def centre_counts(process: CentralProcess, prefix: str = "") -> dict[str, int]:
    """TCN -> rows in the centre's database (each TCN should be there exactly once)."""
    data_dir = Path(process.command[process.command.index("--data") + 1])
    with closing(sqlite3.connect(f"file:{data_dir / 'central.db'}?mode=ro", uri=True)) as connection:
        rows = connection.execute(
            "SELECT tcn, count(*) FROM transactions WHERE tcn LIKE ? GROUP BY tcn", [prefix + "%"]
        ).fetchall()
    return dict(rows)


def endpoint(url: str, pki: PkiLayout, station: StationName = STATION_A, **timeouts: float) -> CentreEndpoint:
    return CentreEndpoint(url, pki.ca_cert, pki.station_cert(station), pki.station_key(station), **timeouts)


def server_context(pki: PkiLayout) -> ssl.SSLContext:
    """The centre's certificate, for a proxy that answers in its name."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    return context


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])
