"""The serial port under a sensor: opened by URL, held exclusively, read packet by packet.

``open_port`` turns every way opening can fail into a ``PortError`` that says what to do.
``Link`` exchanges packets with a time bound for every read, and drains the line after a
timeout or a corrupt packet so the next command starts clean.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import re
import termios
import time
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

import serial

from drivers import codec
from drivers.codec import Packet, PacketParser, PacketType
from drivers.errors import (
    CorruptTransfer,
    DeviceDisconnected,
    DeviceNotFound,
    PortError,
    PortInUse,
    PortPermissionDenied,
    ProtocolError,
    SensorTimeout,
    UnexpectedPacketType,
    UnknownURLScheme,
)

URL_HANDLER_GROUP = "livescan.serial_url_handlers"


def register_url_handlers() -> None:
    """Make the URL schemes that installed plugins provide (e.g. ``sim://``) known to pyserial."""
    for entry in entry_points(group=URL_HANDLER_GROUP):
        if entry.value not in serial.protocol_handler_packages:
            serial.protocol_handler_packages.append(entry.value)


def open_port(url: str, baudrate: int, *, exclusive: bool = True) -> serial.SerialBase:
    """Open the serial port named by ``url``: a device path or a pyserial URL."""
    register_url_handlers()
    kwargs: dict[str, object] = {"baudrate": baudrate, "timeout": 0.0, "write_timeout": 5.0}
    if exclusive:
        kwargs["exclusive"] = True
    try:
        return serial.serial_for_url(url, **kwargs)
    except ValueError as exc:
        match = re.search(r"protocol '?([\w+-]+)'? not known", str(exc))
        if match:
            raise UnknownURLScheme(f"unknown port URL scheme {match.group(1)!r} in {url!r}") from None
        raise PortError(f"cannot open {url!r}: {exc}", hint="check the URL's form and parameters") from None
    except serial.SerialException as exc:
        raise _port_error(url, exc) from None


def _port_error(url: str, exc: serial.SerialException) -> PortError:
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code in (errno.EAGAIN, errno.EBUSY, errno.EWOULDBLOCK) or "exclusively lock" in text:
        pid = _lock_holder(url) if code != errno.EBUSY else _pid_in(text)
        who = f"in use by PID {pid}{_describe_pid(pid)}" if pid else "in use by another process"
        return PortInUse(f"{url} is {who}", pid=pid)
    if code == errno.ENOENT or "No such file" in text:
        return DeviceNotFound(f"no serial device at {url}")
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return PortPermissionDenied(f"permission denied opening {url}{_group_note(url)}")
    if "Connection refused" in text or "timed out" in text:
        return DeviceNotFound(
            f"nothing is listening at {url}",
            hint="start the serial server or simulator (livescan sim --tcp PORT)",
        )
    return PortError(f"cannot open {url}: {text}")


def _pid_in(text: str) -> int | None:
    match = re.search(r"PID (\d+)", text)
    return int(match.group(1)) if match else None


def _lock_holder(path: str) -> int | None:
    """The PID holding a flock on ``path``, from /proc/locks."""
    try:
        st = os.stat(path)
        locks = Path("/proc/locks").read_text()
    except OSError:
        return None
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in locks.splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == wanted:
            return int(fields[4])
    return None


def _describe_pid(pid: int | None) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" ({cmdline[:80]})" if cmdline else ""


def _group_note(path: str) -> str:
    try:
        group = grp.getgrgid(os.stat(path).st_gid).gr_name
        user = pwd.getpwuid(os.geteuid()).pw_name
    except (OSError, KeyError):
        return ""
    groups = {grp.getgrgid(g).gr_name for g in os.getgroups()}
    if group in groups:
        return f": the device belongs to group {group!r}, which user {user!r} is in"
    return f": the device belongs to group {group!r} and user {user!r} is not a member"


ProgressCallback = Callable[[int, int], None]


class _Disconnects:
    """Turns a port failing mid-conversation into ``DeviceDisconnected``."""

    def __init__(self, port: serial.SerialBase) -> None:
        self.port = port

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, serial.SerialException | OSError | termios.error):
            raise DeviceDisconnected(f"{self.port.port} failed while in use: {exc}") from exc


class Link:
    """Packets to and from one module over an open port, each read bounded in time.

    ``deadline`` arguments are ``time.monotonic()`` values. ``inactivity`` is the longest silence
    tolerated in the middle of a packet or a data phase.
    """

    def __init__(self, port: serial.SerialBase, address: int, *, inactivity: float = 1.0) -> None:
        self.port = port
        self.address = address
        self.inactivity = inactivity
        self.parser = PacketParser(address=address)
        self._disconnects = _Disconnects(port)

    @property
    def baudrate(self) -> int:
        return int(self.port.baudrate)

    def wire_seconds(self, n_bytes: int) -> float:
        return codec.wire_seconds(n_bytes, self.baudrate)

    @property
    def _read_timeout(self) -> float:
        """The longest one read may block: silence allowed plus one largest packet's wire time."""
        return self.inactivity + self.wire_seconds(codec.HEADER_SIZE + codec.MAX_LENGTH)

    def send(self, data: bytes) -> None:
        """Write ``data`` after discarding anything stale that the module sent unasked."""
        with self._disconnects:
            self.port.reset_input_buffer()
            self.parser.clear()
            self.port.write(data)

    def read_packet(self, deadline: float, *, address: int | None = None) -> Packet:
        """The next well-formed packet; raises ``ProtocolError`` or ``SensorTimeout``."""
        parser = self.parser
        parser.address = self.address if address is None else address
        while True:
            packet = parser.next_packet()
            if packet is not None:
                return packet
            now = time.monotonic()
            if now >= deadline:
                raise SensorTimeout(f"no complete reply from the module in time (at {self.baudrate} baud)")
            with self._disconnects:
                wanted = max(parser.needed(), self.port.in_waiting)
                self._set_timeout(min(deadline - now, self._read_timeout))
                chunk = self.port.read(wanted)
            if not chunk:
                raise SensorTimeout(
                    f"the module went silent for {self.port.timeout:.2f} s at {self.baudrate} baud"
                )
            parser.feed(chunk)

    def _set_timeout(self, seconds: float) -> None:
        # Setting a pyserial timeout reconfigures the port, so only do it when the value changes.
        if self.port.timeout != seconds:
            self.port.timeout = seconds

    def read_ack(self, deadline: float, *, address: int | None = None) -> Packet:
        packet = self.read_packet(deadline, address=address)
        if packet.kind != PacketType.ACK or not packet.payload:
            raise UnexpectedPacketType(f"expected an acknowledge packet, got PID 0x{packet.kind:02X}")
        return packet

    def read_data(
        self,
        deadline: float,
        *,
        expected: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> tuple[bytes, int]:
        """Data packets up to and including the end-of-data packet.

        Returns the data and the size of its full packets (0 when it came in one packet). Every
        packet but the last must have the same size; ``expected`` (total bytes) is checked.
        """
        data = bytearray()
        seen_size = 0
        total = expected or 0
        while True:
            try:
                packet = self.read_packet(deadline)
            except ProtocolError as exc:
                raise CorruptTransfer(f"corrupt data packet after {len(data)} bytes: {exc}") from exc
            if packet.kind not in (PacketType.DATA, PacketType.END_DATA):
                raise CorruptTransfer(
                    f"PID 0x{packet.kind:02X} inside a data transfer after {len(data)} bytes"
                )
            size = len(packet.payload)
            if packet.kind == PacketType.DATA:
                seen_size = seen_size or size
                if size != seen_size:
                    raise CorruptTransfer(
                        f"data packet of {size} bytes after {len(data)} bytes of {seen_size}"
                    )
            data += packet.payload
            if expected is not None and len(data) > expected:
                raise CorruptTransfer(f"received more than the {expected} bytes expected")
            if progress is not None:
                progress(len(data), total)
            if packet.kind == PacketType.END_DATA:
                break
        if expected is not None and len(data) != expected:
            raise CorruptTransfer(f"received {len(data)} bytes, expected {expected}")
        return bytes(data), seen_size

    def drain(self, limit: float) -> int:
        """Discard what the module is still sending until the line is quiet; bytes discarded."""
        quiet = max(0.05, self.wire_seconds(32))
        end = time.monotonic() + limit
        discarded = self.parser.buffered
        self.parser.clear()
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                break
            with self._disconnects:
                self._set_timeout(min(quiet, remaining))
                chunk = self.port.read(max(4096, self.port.in_waiting))
            if not chunk:
                break
            discarded += len(chunk)
        with self._disconnects:
            self.port.reset_input_buffer()
        return discarded

    def write_frames(self, frames: list[bytes]) -> None:
        with self._disconnects:
            for frame in frames:
                self.port.write(frame)
            self.port.flush()
