"""A ten-print booking through the station's capture workflow, with the simulator's UART timing on.

The simulated R307 runs in a child process on a pty (``livescan sim``), pacing every byte at the
baud rate; it applies new settings at once, so the sensor worker negotiates 115200 baud / 256-byte
packets when it opens. Each finger is presented the moment the workflow arms it (from the event
callback, before the sensor is asked), with an impression chosen beforehand that the module's
Img2Tz and the quality threshold accept, so the figures measure the station, not print quality.

The module's own instruction latencies are a property of the module, not of the station: the
booking is run once per ``--latency-scale`` (0: an instant module, only the wire paced -- the
issue's "simulated UART timing"; 1: the R307 manual's ceilings, GenImg 0.5 s and Img2Tz 0.5 s).
For each, the same run also measures the floor the hardware sets: the bare driver, no station,
doing GenImg, Img2Tz and UpImage for ten fingers on the same simulator.

Figures (JSON lines):

* ``capture_vs_line_limit``: the numerator is the wall time from ``start()`` (which arms the right
  thumb) to the end of the tenth finger's image upload (its last data packet read): per finger
  the empty-glass check, GenImg, Img2Tz, the commands and acks on the wire, the ~10 ms of
  presenting the finger through the control socket, the UpImage transfer and the host's own
  overhead (events, arming, the worker queue). Processing overlaps the next finger and is not in
  it. ``ratio`` divides it by ten image-upload line limits at the negotiated setting (goal <= 1.05);
  ``ratio_to_floor`` by the bare driver's time for the same ten fingers (``floor_s``).
* ``officer_wait``: from the end of the tenth upload to ``submit`` having returned (the booking is
  "queued" in the outbox: processing of the last finger, auto-accept, the sequence check, TCN,
  encoding, the sealed SQLite write). The simulated officer presses Submit when the booking is
  ready. Goal <= 0.5 s. ``last_processing_s`` is the part until the last print was accepted,
  ``submit_s`` the ``submit`` call (sequence check, TCN, encoding, outbox).

Run: .venv/bin/python bench/capture.py [--bookings N] [--latency-scale X ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from biometrics.worker import Processor, shared_extractor
from drivers import Sensor, Timing
from drivers.profiles import R307
from hw_sim.features import FeatureExtractionError, NbisModuleMatcher
from hw_sim.fingers import SyntheticSource
from hw_sim.process import SimProcess
from station.capture import CaptureSettings
from station.sensor_worker import SensorWorker
from station.workflow import BookingWorkflow
from sync.keyring import KeyFile, create_key_file
from sync.outbox import Outbox
from sync.transaction import Arrest, Offence, Subject, TcnIssuer

SETTINGS = CaptureSettings()  # the defaults: threshold 30, GenImg polling every 0.1 s
SUBJECT = Subject("DOE,JOHN", "NY", (date(1980, 1, 2),), "M", "W", 70, 180, "BRO", "BLK")
MANUAL_LATENCY_S = R307.capture_seconds + R307.convert_seconds  # GenImg + Img2Tz at latency scale 1


def emit(**figures: object) -> None:
    print(json.dumps(figures), flush=True)


def accepted_impressions(directory: Path, subject: str) -> dict[int, Path]:
    """One impression per finger that the module's Img2Tz and the quality threshold accept, as PNG."""
    source, module, extractor = SyntheticSource(256, 288), NbisModuleMatcher(), shared_extractor()
    rng = np.random.default_rng(7)
    chosen = {}
    for fgp in range(1, 11):
        for _ in range(20):
            image = source.impression(subject, fgp, rng)
            try:
                module.extract(image)
            except FeatureExtractionError:
                continue
            if (extractor.process(image, fgp).nfiq2 or 0) >= SETTINGS.quality_threshold + 10:
                break
        chosen[fgp] = directory / f"{fgp}.png"
        Image.fromarray(image, mode="L").save(chosen[fgp])
    return chosen


class Officer:
    """Presents each finger when it is armed and records when things happen."""

    def __init__(self, sim: SimProcess, impressions: dict[int, Path]) -> None:
        self.sim, self.impressions = sim, impressions
        self.ready = threading.Event()
        self.upload_end: dict[int, float] = {}
        self.accepted: dict[int, float] = {}
        self.present_s: list[float] = []
        self.rejections = 0

    def publish(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "progress" and event["done"] == event["total"]:
            self.upload_end[event["fgp"]] = time.perf_counter()
        elif kind == "finger" and event["finger"]["state"] == "lifting":
            self.sim.control.finger(False)
        elif kind == "finger" and event["finger"]["state"] == "waiting":
            mark = time.perf_counter()
            self.sim.control.finger(True, image=str(self.impressions[event["finger"]["fgp"]]))
            self.present_s.append(time.perf_counter() - mark)
            self.rejections += bool(event["finger"]["feedback"])
        elif kind == "finger" and event["finger"]["state"] == "accepted":
            self.accepted[event["finger"]["fgp"]] = time.perf_counter()
        elif kind == "booking" and event["booking"]["state"] == "ready":
            self.ready.set()


def sim_options(run: int, scale: float) -> list[str]:
    immediate = ["--baud-change", "immediate", "--packet-change", "immediate"]
    return [*immediate, "--seed", str(run), "--latency-scale", str(scale)]


def hardware_floor(workdir: Path, impressions: dict[int, Path], run: int, scale: float) -> float:
    """Seconds the bare driver spends on GenImg, Img2Tz and UpImage for the ten fingers."""
    total = 0.0
    with (
        SimProcess(workdir / f"floor{run}-{scale}.sock", *sim_options(run, scale)) as sim,
        Sensor.open(sim.device, timing=Timing()) as sensor,
    ):
        for fgp in range(1, 11):
            sim.control.finger(True, image=str(impressions[fgp]))
            start = time.perf_counter()
            sensor.gen_img()
            sensor.img2tz(1)
            sensor.up_image()
            total += time.perf_counter() - start
            sim.control.finger(False)
        if (sensor.baudrate, sensor.packet_size) != (115200, 256):
            raise RuntimeError("the bare driver did not negotiate 115200/256 as the station does")
    return total


def one_booking(
    workdir: Path, processor: Processor, impressions: dict[int, Path], run: int, scale: float
) -> None:
    with SimProcess(workdir / f"control{run}-{scale}.sock", *sim_options(run, scale)) as sim:
        officer = Officer(sim, impressions)
        worker = SensorWorker(sim.device, timing=Timing(), publish=officer.publish, health_interval_s=60)
        key = workdir / f"outbox{run}-{scale}.key"
        create_key_file(key)
        outbox = Outbox(workdir / f"outbox{run}-{scale}.db", KeyFile(key))
        issuer = TcnIssuer("NY0303000", "K01", lambda: datetime.now(UTC), outbox.next_sequence)
        arrest = Arrest(datetime.now(UTC).astimezone().date(), (Offence("THEFT"),), ("NY0303000",), True)
        workflow = BookingWorkflow(
            worker, processor, outbox, issuer,
            settings=SETTINGS, publish=officer.publish, destination="NYCENTRE0",
        )  # fmt: skip
        try:
            if not worker.wait_ready(60):
                raise RuntimeError(f"the sensor did not open: {worker.status()}")
            status = worker.status()
            started = time.perf_counter()
            workflow.start("bench", SUBJECT, arrest)
            if not officer.ready.wait(300):
                raise RuntimeError(f"the booking did not become ready: {workflow.view()}")
            pressed = time.perf_counter()
            tcn = workflow.submit("bench")
            queued = time.perf_counter()
        finally:
            workflow.close()
            worker.stop()
            outbox.close()
    last_upload = max(officer.upload_end.values())
    capture_wall = last_upload - started
    limit = status["upload_line_limit_s"]
    floor = hardware_floor(workdir, impressions, run, scale)
    load = [round(x, 2) for x in os.getloadavg()]
    emit(
        benchmark="capture_vs_line_limit", run=run, latency_scale=scale,
        module_latency_s_per_finger=round(scale * MANUAL_LATENCY_S, 3), baudrate=status["baudrate"],
        packet_size=status["packet_size"], fingers=len(officer.upload_end), line_limit_s=limit,
        capture_wall_s=round(capture_wall, 3), ratio=round(capture_wall / (10 * limit), 4), goal="<= 1.05",
        floor_s=round(floor, 3), floor_vs_line_limit=round(floor / (10 * limit), 4),
        ratio_to_floor=round(capture_wall / floor, 4),
        present_s_median=round(statistics.median(officer.present_s), 4), rejections=officer.rejections,
        load_average=load,
    )  # fmt: skip
    emit(
        benchmark="officer_wait", run=run, latency_scale=scale, tcn=tcn,
        wait_s=round(queued - last_upload, 3), goal="<= 0.5 s",
        last_processing_s=round(max(officer.accepted.values()) - last_upload, 3),
        submit_s=round(queued - pressed, 3), load_average=load,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=1, help="bookings per latency scale")
    parser.add_argument(
        "--latency-scale", type=float, action="append", dest="scales",
        help="x the module's manual latencies; repeatable [default: 0 and 1]",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-capture-") as work:
        workdir = Path(work)
        impressions = accepted_impressions(workdir, "S0001")
        with Processor() as processor:
            processor.wait_ready(120)
            for scale in args.scales or [0.0, 1.0]:
                for run in range(1, args.bookings + 1):
                    one_booking(workdir, processor, impressions, run, scale)


if __name__ == "__main__":
    main()
