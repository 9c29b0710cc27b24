"""Image upload from the simulated R307 on a pty, as JSON lines.

1. With the simulator's UART timing on, at 57600 baud / 128-byte packets and at the fastest
   setting negotiated: wall time of ``up_image`` as a ratio to the line limit (bytes on the wire
   x 10 / baud). Goal: <= 1.02.
2. With timing off, CPU seconds of this process per image upload: our driver against
   pyfingerprint 1.5 on the same simulator, as a ratio in one run. Goal: ours <= 1/20 of theirs.
   pyfingerprint is measured twice: its ``downloadImage`` call (which also builds and saves the
   picture) and its packet reading alone (UpImage and every data packet, nothing else).

Run: .venv/bin/python bench/upload.py [--uploads N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pyfingerprint.pyfingerprint import FINGERPRINT_COMMANDPACKET, FINGERPRINT_ENDDATAPACKET, PyFingerprint

from drivers import FAST_TIMING, Sensor, Timing
from hw_sim.process import SimProcess
from station.sensor_tools import upload_line_limit


def emit(**figures: object) -> None:
    print(json.dumps(figures), flush=True)


def timed_uploads(sensor: Sensor, uploads: int) -> list[float]:
    walls = []
    for _ in range(uploads):
        start = time.perf_counter()
        sensor.up_image()
        walls.append(time.perf_counter() - start)
    return walls


def line_limit_ratios(uploads: int) -> None:
    with tempfile.TemporaryDirectory() as workdir, SimProcess(Path(workdir) / "c.sock") as sim:
        sim.control.finger(True, "S0001", 1)
        with Sensor.open(sim.device, negotiate=False, timing=Timing()) as sensor:
            sensor.gen_img()
            _report_line_ratio("factory 57600/128", sensor, timed_uploads(sensor, uploads))
            sensor.negotiate()
            sim.control.power_cycle()
            sensor.reconnect()
            sensor.gen_img()
            _report_line_ratio("negotiated", sensor, timed_uploads(sensor, uploads))


def _report_line_ratio(setting: str, sensor: Sensor, walls: list[float]) -> None:
    limit = upload_line_limit(sensor)
    median = statistics.median(walls)
    emit(
        benchmark="upload_vs_line_limit", setting=setting, baudrate=sensor.baudrate,
        packet_size=sensor.packet_size, uploads=len(walls), line_limit_s=round(limit, 4),
        wall_median_s=round(median, 4), wall_max_s=round(max(walls), 4),
        ratio=round(median / limit, 4), goal="<= 1.02",
    )  # fmt: skip


def cpu_per_upload(upload: Callable[[], object], uploads: int) -> float:
    upload()  # warm-up
    cpu = []
    for _ in range(uploads):
        start = time.process_time()
        upload()
        cpu.append(time.process_time() - start)
    return statistics.median(cpu)


def pyfingerprint_packets_only(reader: PyFingerprint) -> None:
    """pyfingerprint's own transport: send UpImage, read the ack and every data packet."""
    reader._PyFingerprint__writePacket(FINGERPRINT_COMMANDPACKET, (0x0A,))
    reader._PyFingerprint__readPacket()
    while reader._PyFingerprint__readPacket()[0] != FINGERPRINT_ENDDATAPACKET:
        pass


def cpu_ratio(uploads: int) -> None:
    with tempfile.TemporaryDirectory() as workdir, SimProcess(Path(workdir) / "c.sock", "--no-timing") as sim:
        sim.control.finger(True, "S0001", 1)
        with Sensor.open(sim.device, negotiate=False, timing=FAST_TIMING) as sensor:
            sensor.gen_img()
            ours = cpu_per_upload(sensor.up_image, uploads)
        reader = PyFingerprint(sim.device, 57600, 0xFFFFFFFF, 0x00000000)
        assert reader.verifyPassword()
        picture = str(Path(workdir) / "pyfingerprint.bmp")
        theirs = cpu_per_upload(lambda: reader.downloadImage(picture), uploads)
        theirs_packets = cpu_per_upload(lambda: pyfingerprint_packets_only(reader), uploads)
        reader._PyFingerprint__serial.close()
    emit(
        benchmark="upload_cpu", baudrate=57600, packet_size=128, uploads=uploads,
        ours_cpu_s=round(ours, 5), pyfingerprint_download_image_cpu_s=round(theirs, 5),
        pyfingerprint_packets_only_cpu_s=round(theirs_packets, 5),
        ratio=round(ours / theirs, 4), ratio_packets_only=round(ours / theirs_packets, 4), goal="<= 0.05",
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--uploads", type=int, default=5, help="uploads per measurement")
    args = parser.parse_args()
    cpu_ratio(args.uploads)
    line_limit_ratios(max(2, args.uploads // 2))


if __name__ == "__main__":
    main()
