"""What a technician does with a sensor by hand: describe it, wait for a finger, capture to PNG."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from drivers import codec
from drivers.sensor import Sensor


def describe(sensor: Sensor) -> dict[str, Any]:
    """The module's identity and settings, as plain values."""
    params = sensor.parameters or sensor.read_sys_para()
    negotiation = sensor.negotiation
    return {
        "port": sensor.link.port.port,
        "model": sensor.profile.name,
        "baudrate": sensor.baudrate,
        "packet_size": sensor.packet_size,
        "capacity": params.capacity,
        "security_level": params.security_level,
        "address": f"0x{params.address:08X}",
        "templates_stored": sensor.template_num(),
        "baud_change": negotiation.baud_behaviour,
        "packet_size_change": negotiation.packet_behaviour,
        "pending_baudrate": negotiation.pending_baudrate,
        "pending_packet_size": negotiation.pending_packet_size,
    }


class NoFingerInTime(TimeoutError):
    """No finger was placed on the sensor before the wait ended."""


def wait_for_finger(
    sensor: Sensor,
    timeout: float,
    *,
    poll_interval: float = 0.1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll GenImg until a finger is captured; ``NoFingerInTime`` after ``timeout`` seconds."""
    end = clock() + timeout
    while not sensor.capture():
        if clock() >= end:
            raise NoFingerInTime(f"no finger on the sensor within {timeout:.0f} s")
        sleep(poll_interval)


def upload_line_limit(sensor: Sensor) -> float:
    """The fastest an image upload can be at the sensor's baud rate and packet size, in seconds."""
    data = sensor.profile.image_bytes
    packets = -(-data // sensor.packet_size)
    frame = codec.HEADER_SIZE + codec.CHECKSUM_SIZE
    wire_bytes = data + packets * frame + 2 * (frame + 1)  # data, the command and its ack
    return codec.wire_seconds(wire_bytes, sensor.baudrate)


@dataclass(frozen=True)
class Capture:
    image: np.ndarray
    upload_seconds: float
    line_limit_seconds: float


def capture_image(sensor: Sensor, progress: Callable[[int, int], None] | None = None) -> Capture:
    """Upload the image buffer, timing it against the line limit."""
    start = time.perf_counter()
    image = sensor.up_image(progress=progress)
    return Capture(image, time.perf_counter() - start, upload_line_limit(sensor))


def save_png(image: np.ndarray, path: Path) -> Path:
    """Write a print as PNG readable by its owner only (0600): it is a person's fingerprint."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(descriptor, "wb") as handle:
        Image.fromarray(image, mode="L").save(handle, format="PNG")
    return path
