"""Central intake over mutual TLS on 127.0.0.1, matching off; JSON lines.

    .venv/bin/python bench/central_intake.py [--transactions 400] [--threads 2] [--image-bytes 7000]

A fresh PKI and data directory; ``livescan central serve --matching off`` in a child process.
Ten-print CAR transactions (``bench/transaction.py``'s booking, WSQ-sized image bytes, a new TCN
each) are POSTed from ``--threads`` client threads, each a station with its own certificate and
a keep-alive connection. Figures: ``first_delivery`` (202, validated and committed with
``synchronous=FULL``) and ``replay`` (the same bytes again: 200 with the original receipt), as
transactions per second over the wall time and per-request latency (median, p90, ms). The rows
in the database are counted afterwards: every transaction stored exactly once.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transaction import NOW, ten_print_booking  # bench/transaction.py

from central.db import DATABASE_FILE
from central.pki import PkiLayout, StationName, init_pki
from central.process import CentralProcess
from sync.transaction import InMemorySequence, TcnIssuer, encode

Batch = list[tuple[str, bytes]]


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def batches(issuers: list[TcnIssuer], count: int, image_bytes: int) -> list[Batch]:
    """``count`` encoded transactions shared out over the stations, each under a new TCN of its station."""
    booking = ten_print_booking(image_bytes)
    result: list[Batch] = [[] for _ in issuers]
    for index in range(count):
        slot = index % len(issuers)
        tcn = issuers[slot].issue().text
        header = replace(booking.header, tcn=tcn, ori=issuers[slot].ori)
        result[slot].append((tcn, encode(replace(booking, header=header), now=NOW)))
    return result


def session(layout: PkiLayout, station: StationName) -> requests.Session:
    client = requests.Session()
    client.trust_env = False  # REQUESTS_CA_BUNDLE would replace the site CA
    client.verify = str(layout.ca_cert)
    client.cert = (str(layout.station_cert(station)), str(layout.station_key(station)))
    return client


def post_all(url: str, client: requests.Session, batch: Batch, expected: int) -> list[float]:
    latencies = []
    for tcn, data in batch:
        started = time.perf_counter()
        response = client.post(url, data=data, headers={"Idempotency-Key": tcn}, timeout=30)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != expected:
            raise RuntimeError(f"{tcn}: {response.status_code} {response.text[:300]}")
    return latencies


def run_phase(
    url: str, clients: list[requests.Session], work: list[Batch], expected: int
) -> dict[str, object]:
    started = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        per_thread = list(pool.map(post_all, [url] * len(clients), clients, work, [expected] * len(clients)))
    wall = time.perf_counter() - started
    latencies = sorted(latency for thread in per_thread for latency in thread)
    return {
        "transactions": len(latencies),
        "wall_s": round(wall, 3),
        "per_second": round(len(latencies) / wall, 1),
        "latency_ms": {
            "median": round(statistics.median(latencies), 2),
            "p90": round(latencies[int(0.9 * len(latencies))], 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--image-bytes", type=int, default=7000, help="per finger; WSQ of 256x288 at 0.75 bpp"
    )
    args = parser.parse_args()
    stations = [StationName("NY0303000", f"K{number:02d}") for number in range(1, args.threads + 1)]
    issuers = [TcnIssuer(s.ori, s.station_id, lambda: NOW, InMemorySequence()) for s in stations]
    warm_up = batches(issuers, len(stations), args.image_bytes)
    work = batches(issuers, args.transactions, args.image_bytes)
    size = len(work[0][0][1])
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        layout = PkiLayout(root / "pki")
        init_pki(layout.root, stations=stations, site="bench")
        with CentralProcess(
            layout.root, root / "data", log=root / "central.log", options=["--matching", "off"]
        ) as c:
            url = f"{c.url}/v1/transactions"
            clients = [session(layout, station) for station in stations]
            run_phase(url, clients, warm_up, 202)  # TLS handshakes and first-request costs
            common = {"bench": "central_intake", "threads": len(clients), "bytes_per_transaction": size}
            emit(**common, phase="first_delivery", status=202, **run_phase(url, clients, work, 202))
            emit(**common, phase="replay", status=200, **run_phase(url, clients, work, 200))
            for client in clients:
                client.close()
        with sqlite3.connect(root / "data" / DATABASE_FILE) as database:
            stored = database.execute("SELECT count(*), count(DISTINCT tcn) FROM transactions").fetchone()
    emit(
        bench="central_intake_stored",
        expected=args.transactions + len(stations),
        rows=stored[0],
        tcns=stored[1],
    )


if __name__ == "__main__":
    main()
