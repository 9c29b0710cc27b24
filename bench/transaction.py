"""Transaction benchmark: build, serialise, validate and parse a ten-print CAR booking; JSON lines.

    .venv/bin/python bench/transaction.py [--runs 300] [--image-bytes 8000]

The booking has ten 256x288 fingers with WSQ-sized random image bytes (no codec involved: the
transaction layer treats the image as opaque), every optional Type-2 field, and one alias.
Stages: ``build`` (typed booking -> nistitl message), ``serialise`` (message -> bytes, LEN and
CNT), ``validate`` (every EBTS rule), ``encode`` (validate + build + serialise, what the station
calls), ``parse_nistitl`` (nistitl alone) and ``parse`` (framing + nistitl + typed booking, what the
centre calls). Medians and 90th percentiles in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import nistitl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sync.transaction import (
    Arrest,
    Booking,
    CaptureDevice,
    FingerImage,
    InMemorySequence,
    Offence,
    Subject,
    TcnIssuer,
    TransactionHeader,
    build_message,
    decode,
    encode,
    validate,
)

NOW = datetime(2024, 3, 15, 14, 30, tzinfo=UTC)


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def ten_print_booking(image_bytes: int) -> Booking:
    rng = random.Random(7)
    tcn = TcnIssuer("NY0303000", "K01", lambda: NOW, InMemorySequence()).issue()
    fingers = tuple(
        FingerImage(p, rng.randbytes(image_bytes), 256, 288, rng.randrange(20, 90), NOW.date())
        for p in range(1, 11)
    )
    return Booking(
        header=TransactionHeader.for_tcn(tcn, destination="NYCENTRE0", local_zone=UTC, priority=4),
        subject=Subject(
            name="DOE,JOHN",
            place_of_birth="NY",
            dates_of_birth=(date(1980, 1, 2),),
            sex="M",
            race="W",
            height_inches=70,
            weight_pounds=180,
            eye_colour="BRO",
            hair_colour="BLK",
            aliases=("SMITH,JACK",),
            citizenship=("US",),
        ),
        arrest=Arrest(
            date=NOW.date(),
            offences=(Offence("THEFT OF PROPERTY", date(2024, 3, 14)), Offence("RESISTING ARREST")),
            controlling_agencies=("NY0303000",),
            retain=True,
            case_number="2024-000123",
        ),
        fingers=fingers,
        device=CaptureDevice("ZHIANTEC", "R307", "SN-000123"),
    )


def timed(run: Callable[[], object], runs: int) -> dict[str, float]:
    run()  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"median": round(statistics.median(samples), 3), "p90": round(samples[int(0.9 * len(samples))], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="timed runs per stage (at least 200)")
    parser.add_argument("--image-bytes", type=int, default=8000, help="bytes of image data per finger")
    args = parser.parse_args()
    runs = max(args.runs, 200)
    booking = ten_print_booking(args.image_bytes)
    message = build_message(booking)
    data = encode(booking, now=NOW)
    stages: dict[str, Callable[[], object]] = {
        "build": lambda: build_message(booking),
        "serialise": lambda: message.NIST,
        "validate": lambda: validate(booking, now=NOW),
        "encode": lambda: encode(booking, now=NOW),
        "parse_nistitl": lambda: nistitl.Message().parse(data),
        "parse": lambda: decode(data),
    }
    for stage, run in stages.items():
        emit(bench="transaction", stage=stage, fingers=10, runs=runs, unit="ms", **timed(run, runs))
    images = sum(len(finger.wsq) for finger in booking.fingers)
    emit(
        bench="transaction_size",
        fingers=10,
        image_bytes=images,
        bytes=len(data),
        overhead_bytes=len(data) - images,
        round_trip_equal=decode(data) == booking,
    )


if __name__ == "__main__":
    main()
