"""Drain of a full outbox to a local centre (matching off, mutual TLS on 127.0.0.1); JSON lines.

    .venv/bin/python bench/outbox_drain.py [--bookings 1000] [--image-bytes 7000]

A fresh PKI, key file and outbox; ``livescan central serve --matching off`` in a child process.
``--bookings`` ten-print CAR transactions (``bench/transaction.py``'s booking, a TCN from the
outbox's own sequence each) are queued while no worker runs (``queue``: submissions per second,
each one committed with ``synchronous=FULL``), then one ``SyncWorker`` starts and the clock runs
until every booking holds the centre's receipt (``drain``; goal <= 60 s for 1,000). The centre's
rows are counted afterwards: every TCN stored exactly once.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transaction import ten_print_booking  # bench/transaction.py

from central.db import DATABASE_FILE
from central.pki import PkiLayout, StationName, init_pki
from central.process import CentralProcess
from sync.backoff import Backoff
from sync.client import CentreClient, CentreEndpoint
from sync.clock import utc_now
from sync.keyring import KeyFile, create_key_file
from sync.outbox import ACCEPTED, Outbox
from sync.transaction import TcnIssuer, TransactionHeader, encode
from sync.worker import DeliveryPolicy, SyncWorker

STATION = StationName("NY0303000", "K01")


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def queue_bookings(outbox: Outbox, count: int, image_bytes: int) -> float:
    """Queue ``count`` bookings; the seconds it took."""
    booking = ten_print_booking(image_bytes)
    issuer = TcnIssuer(STATION.ori, STATION.station_id, utc_now, outbox.next_sequence)
    started = time.perf_counter()
    for _ in range(count):
        header = TransactionHeader.for_tcn(
            issuer.issue(), destination="NYCENTRE0", local_zone=UTC, priority=4
        )
        outbox.submit(encode(replace(booking, header=header), now=datetime.now(UTC)), actor="bench")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=1000)
    parser.add_argument(
        "--image-bytes", type=int, default=7000, help="per finger; WSQ of 256x288 at 0.75 bpp"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        layout = PkiLayout(root / "pki")
        init_pki(layout.root, stations=[STATION], site="bench")
        create_key_file(root / "outbox.key")
        outbox = Outbox(root / "outbox.db", KeyFile(root / "outbox.key"))
        queued_s = queue_bookings(outbox, args.bookings, args.image_bytes)
        size = outbox.items(limit=1)[0].size
        emit(bench="outbox_queue", bookings=args.bookings, bytes_per_transaction=size,
             wall_s=round(queued_s, 3), per_second=round(args.bookings / queued_s, 1))  # fmt: skip
        with CentralProcess(
            layout.root, root / "data", log=root / "central.log", options=["--matching", "off"]
        ) as c:
            endpoint = CentreEndpoint(
                c.url, layout.ca_cert, layout.station_cert(STATION), layout.station_key(STATION)
            )
            client = CentreClient(endpoint)
            policy = DeliveryPolicy(
                backoff=Backoff(0.05, 1.0), poll_interval=timedelta(minutes=10), retention=None
            )
            worker = SyncWorker(outbox, client, policy)
            started = time.perf_counter()
            worker.start()
            deadline = time.monotonic() + args.timeout
            while outbox.counts()[ACCEPTED] < args.bookings and time.monotonic() < deadline:
                time.sleep(0.05)
            drain_s = time.perf_counter() - started
            worker.stop()
            client.close()
        counts = outbox.counts()
        accepted = counts[ACCEPTED]
        emit(bench="outbox_drain", bookings=args.bookings, accepted=accepted, wall_s=round(drain_s, 3),
             per_second=round(accepted / drain_s, 1), goal_s=60, states=counts)  # fmt: skip
        outbox.close()
        with closing(sqlite3.connect(root / "data" / DATABASE_FILE)) as database:
            rows, tcns = database.execute("SELECT count(*), count(DISTINCT tcn) FROM transactions").fetchone()
        emit(bench="outbox_drain_stored", expected=args.bookings, rows=rows, tcns=tcns)


if __name__ == "__main__":
    main()
