"""``livescan diag record``: the raw traffic of one probe of the sensor, written as a transcript
(pyserial's ``spy://`` hexdump) that ``drivers.replay.ReplayPort`` plays back in tests.

The recording is of the module's answers to the probe, password check, parameter reads and the
template count: no image is uploaded, so a transcript holds no biometric data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from drivers.codec import DEFAULT_PASSWORD
from drivers.profiles import profile as profile_named
from drivers.replay import ReplayPort
from drivers.sensor import Sensor, Timing
from station import sensor_tools

DEFAULT_TIMING = Timing()


class NotADevice(ValueError):
    """spy:// records a serial device (a path such as /dev/ttyAMA0 or a pty), not another URL."""


def spy_url(device: str, transcript: Path) -> str:
    """The ``spy://`` URL that opens ``device`` and writes its traffic to ``transcript``."""
    if "://" in device:
        raise NotADevice(
            f"{device} is a URL; record a serial device such as /dev/ttyAMA0 or a simulator's pty "
            "(livescan sim prints its device path)"
        )
    return f"spy://{device}?file={quote(str(transcript), safe='/')}"


def record(
    device: str,
    transcript: Path,
    *,
    model: str = "r307",
    baudrate: int = 57600,
    password: int = DEFAULT_PASSWORD,
    timing: Timing = DEFAULT_TIMING,
) -> dict[str, Any]:
    """Open the module at ``device`` through spy (no negotiation: its settings stay as they are),
    describe it and close it; the description (the transcript is at ``transcript``)."""
    url = spy_url(device, transcript)
    with Sensor.open(
        url, profile=model, baudrate=baudrate, password=password, negotiate=False, timing=timing
    ) as found:
        info = sensor_tools.describe(found)
    info["port"] = device
    return info


def replay_describe(
    transcript: Path,
    *,
    model: str = "r307",
    baudrate: int = 57600,
    password: int = DEFAULT_PASSWORD,
    timing: Timing = DEFAULT_TIMING,
) -> dict[str, Any]:
    """What ``record`` did, played back from ``transcript``: the same description, no module needed."""
    port = ReplayPort.from_file(transcript)
    sensor = Sensor(port, profile=profile_named(model), password=password, timing=timing)
    sensor.probe(baudrate)
    sensor.verify_password()
    sensor.read_sys_para()
    info = sensor_tools.describe(sensor)
    info["port"] = None
    return info
