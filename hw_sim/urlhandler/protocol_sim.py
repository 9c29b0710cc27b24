"""``sim://NAME?model=r307&timing=0&seed=7&...``: a simulated module as a pyserial port, in-process.

NAME picks a process-wide device (created on first open with the query's settings, kept after
close like hardware); ``hw_sim.device(NAME)`` controls it.
"""

from __future__ import annotations

import errno
import os
import time
from urllib.parse import parse_qsl, urlsplit

import serial
from serial.serialutil import PortNotOpenError, SerialBase, SerialException, Timeout

from hw_sim.devices import SimSettings, SimulatedDevice, get_or_create_device
from hw_sim.line import DeviceUnplugged

DEFAULT_NAME = "default"


def parse_url(url: str) -> tuple[str, SimSettings]:
    """Device name and settings from a ``sim://`` URL."""
    parts = urlsplit(url)
    if parts.scheme != "sim":
        raise SerialException(f"expected a sim:// URL, not {url!r}")
    try:
        settings = SimSettings.from_query(dict(parse_qsl(parts.query, strict_parsing=bool(parts.query))))
    except ValueError as error:
        raise SerialException(f"{url}: {error}") from None
    return parts.netloc or parts.path.strip("/") or DEFAULT_NAME, settings


class Serial(SerialBase):
    """A pyserial port whose other end is a ``SimulatedDevice``."""

    _device: SimulatedDevice | None = None

    def open(self) -> None:
        if self.is_open:
            raise SerialException("port is already open")
        if self._port is None:
            raise SerialException("port must be configured before it can be used")
        name, settings = parse_url(self._port)
        device = get_or_create_device(name, settings)
        with device.condition:
            if device.opened_by is not None:
                raise SerialException(
                    errno.EBUSY, f"sim://{name} is already open (in use by PID {device.opened_by})"
                )
            if not device.line.plugged:
                raise SerialException(
                    errno.ENOENT, f"could not open port sim://{name}: the device is unplugged"
                )
            device.opened_by = os.getpid()
            self._generation = device.plug_generation
        self._device = device
        self.is_open = True
        self._reconfigure_port()

    def close(self) -> None:
        if self._device is not None:
            with self._device.condition:
                self._device.opened_by = None
            self._device = None
        self.is_open = False

    def _reconfigure_port(self) -> None:
        if self._device is not None:
            with self._device.condition:
                self._device.line.host_baud = self._baudrate

    def _live_device(self) -> SimulatedDevice:
        """The device, or SerialException when the port is closed or the device was unplugged since open."""
        if not self.is_open or self._device is None:
            raise PortNotOpenError()
        if self._device.plug_generation != self._generation or not self._device.line.plugged:
            raise SerialException(errno.EIO, f"sim://{self._device.name}: device disconnected")
        return self._device

    @property
    def in_waiting(self) -> int:
        device = self._live_device()
        with device.condition:
            return device.line.available()

    def read(self, size: int = 1) -> bytes:
        device = self._live_device()
        timeout = Timeout(self._timeout)
        data = bytearray()
        with device.condition:
            while True:
                device = self._live_device()
                try:
                    data += device.line.read(size - len(data))
                except DeviceUnplugged:
                    continue
                if len(data) >= size or timeout.expired():
                    return bytes(data)
                wait = timeout.time_left()
                release = device.line.next_release()
                if release is not None:
                    until_release = max(release - device.line.clock(), 0.0)
                    wait = until_release if wait is None else min(wait, until_release)
                device.condition.wait(wait)

    def write(self, data: bytes) -> int:
        device = self._live_device()
        data = serial.to_bytes(data)
        with device.condition:
            try:
                device.line.write(data)
            except DeviceUnplugged:
                self._live_device()
            device.condition.notify_all()
        return len(data)

    def flush(self) -> None:
        """Return once the written bytes have left (at the line's pace)."""
        device = self._live_device()
        time.sleep(max(device.line.host_sending_until - device.line.clock(), 0.0))

    def reset_input_buffer(self) -> None:
        device = self._live_device()
        with device.condition:
            device.line.reset_input()

    def reset_output_buffer(self) -> None:
        self._live_device()

    def _update_break_state(self) -> None:
        self._live_device()

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True
