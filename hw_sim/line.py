"""The wire between host and module: pacing at the baud rate, baud mismatch, and injected faults.

Nothing here sleeps or runs a thread. The module's answers become a schedule of segments, each
released one byte per byte-time from its start; readers ask what has been released by now and
when the next byte will be. With timing off everything is released at once.
"""

from __future__ import annotations

import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from drivers.codec import START_CODE, wire_seconds
from hw_sim.module import Reply, SimulatedModule

FAULT_KINDS = ("noise", "corrupt", "drop", "no_reply")


class DeviceUnplugged(Exception):
    """The host touched a line whose device has been unplugged."""


@dataclass
class _Segment:
    start: float
    data: bytes
    byte_seconds: float
    taken: int = 0

    def released(self, now: float) -> int:
        """Bytes of ``data`` complete on the host's side at ``now``."""
        if self.byte_seconds == 0:
            return len(self.data) if now >= self.start else 0
        return min(len(self.data), max(0, int((now - self.start) / self.byte_seconds + 1e-9)))


@dataclass
class LineCounters:
    bytes_from_host: int = 0
    bytes_ignored: int = 0
    bytes_to_host: int = 0
    replies: int = 0
    faults_applied: dict[str, int] = field(default_factory=dict)


def garble(data: bytes, sent_baud: int, heard_baud: int) -> bytes:
    """What a receiver at ``heard_baud`` makes of ``data`` sent at ``sent_baud``: a deterministic scramble.

    The byte count scales with the baud ratio; the result never contains the EF 01 start code.
    """
    count = max(1, round(len(data) * heard_baud / sent_baud))
    seed = zlib.crc32(data) ^ (sent_baud << 8) ^ heard_baud
    scrambled = np.random.default_rng(seed).integers(0, 256, count, dtype=np.uint8)
    scrambled[scrambled == START_CODE[0]] ^= 0x11
    return scrambled.tobytes()


class Line:
    """Host-side view of one module on a serial line.

    A new line's module has been powered for a while: it is ready and its power-up byte, if any,
    is long gone. ``power_cycle`` and ``plug`` go through the power-up.
    """

    def __init__(
        self,
        module: SimulatedModule,
        *,
        timing: bool = True,
        latency_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
    ) -> None:
        self.module = module
        self.timing = timing
        self.latency_scale = latency_scale if timing else 0.0
        self.clock = clock
        self.host_baud = module.active_baud
        self.plugged = True
        self.faults: dict[str, int] = {}
        self.counters = LineCounters()
        self._rng = np.random.default_rng(seed)
        self._segments: deque[_Segment] = deque()
        self._host_sending_until = 0.0
        self._module_sending_until = 0.0
        self._ready_at = 0.0

    # --- host side ----------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """The host sends ``data``; the module acts on it once its last byte has arrived."""
        self._require_plugged()
        self.counters.bytes_from_host += len(data)
        now = self.clock()
        arrival = now
        if self.timing:
            arrival = max(now, self._host_sending_until) + wire_seconds(len(data), self.host_baud)
            self._host_sending_until = arrival
        if arrival < self._ready_at or self.host_baud != self.module.active_baud:
            self.counters.bytes_ignored += len(data)
            return
        for reply in self.module.receive(data):
            self._send_reply(reply, arrival)

    @property
    def host_sending_until(self) -> float:
        """When the host's last written byte will have left (clock time)."""
        return self._host_sending_until

    def available(self) -> int:
        self._require_plugged()
        now = self.clock()
        return sum(segment.released(now) - segment.taken for segment in self._segments)

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes that have arrived at the host; never waits."""
        self._require_plugged()
        now = self.clock()
        out = bytearray()
        while self._segments and len(out) < size:
            segment = self._segments[0]
            end = min(segment.released(now), segment.taken + size - len(out))
            out += segment.data[segment.taken : end]
            segment.taken = end
            if segment.taken < len(segment.data):
                break
            self._segments.popleft()
        self.counters.bytes_to_host += len(out)
        return bytes(out)

    def next_release(self) -> float | None:
        """Clock time at which the next unread byte is there to read, or None when nothing is coming.

        A byte that has arrived but not been read is due now.
        """
        now = self.clock()
        for segment in self._segments:
            released = segment.released(now)
            if released > segment.taken:
                return now
            if released < len(segment.data):
                return segment.start + (released + 1) * segment.byte_seconds
        return None

    def reset_input(self) -> None:
        """Discard what has arrived and not been read (bytes still on their way keep coming)."""
        now = self.clock()
        while self._segments:
            segment = self._segments[0]
            segment.taken = max(segment.taken, segment.released(now))
            if segment.taken < len(segment.data):
                break
            self._segments.popleft()

    # --- the module's side --------------------------------------------------------------------

    def _send_reply(self, reply: Reply, arrival: float) -> None:
        packets = self._apply_faults(list(reply.packets))
        if packets is None:
            return
        self.counters.replies += 1
        self._schedule(b"".join(packets), arrival + reply.latency * self.latency_scale, reply.baud)

    def _schedule(self, data: bytes, earliest: float, baud: int) -> None:
        if not self.timing:
            self._segments.append(_Segment(earliest, self._as_heard(data, baud), 0.0))
            return
        start = max(earliest, self._module_sending_until)
        duration = wire_seconds(len(data), baud)
        heard = self._as_heard(data, baud)
        self._segments.append(_Segment(start, heard, duration / len(heard)))
        self._module_sending_until = start + duration

    def _as_heard(self, data: bytes, baud: int) -> bytes:
        return data if baud == self.host_baud else garble(data, baud, self.host_baud)

    # --- faults -------------------------------------------------------------------------------

    def inject(self, kind: str, count: int = 1) -> None:
        """Apply fault ``kind`` to the next ``count`` replies."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if count < 1:
            raise ValueError(f"fault count must be at least 1, not {count}")
        self.faults[kind] = self.faults.get(kind, 0) + count

    def _take_fault(self, kind: str) -> bool:
        if not self.faults.get(kind):
            return False
        self.faults[kind] -= 1
        if not self.faults[kind]:
            del self.faults[kind]
        applied = self.counters.faults_applied
        applied[kind] = applied.get(kind, 0) + 1
        return True

    def _apply_faults(self, packets: list[bytes]) -> list[bytes] | None:
        if self._take_fault("no_reply"):
            return None
        victim = len(packets) // 2  # the ack itself, or a data packet from the middle of a stream
        if self._take_fault("corrupt"):
            packet = bytearray(packets[victim])
            position = len(packet) - 1 if len(packets) == 1 else int(self._rng.integers(9, len(packet) - 2))
            packet[position] ^= 1 << int(self._rng.integers(8))
            packets[victim] = bytes(packet)
        if self._take_fault("drop"):
            packet = packets[victim]
            middle, length = len(packet) // 2, int(self._rng.integers(1, 6))
            packets[victim] = packet[:middle] + packet[middle + length :]
        if self._take_fault("noise"):
            noise = self._rng.integers(0, 256, int(self._rng.integers(3, 13)), dtype=np.uint8)
            noise[noise == START_CODE[0]] ^= 0x11
            packets.insert(0, noise.tobytes())
        return packets

    # --- power and plug -----------------------------------------------------------------------

    def power_cycle(self) -> None:
        """The module restarts: output in flight is lost, commands are ignored until it is ready."""
        self._segments.clear()
        now = self.clock()
        self._module_sending_until = now
        self._ready_at = now + (self.module.profile.power_up_seconds if self.timing else 0.0)
        for reply in self.module.power_cycle():
            self._schedule(reply.data, now + (reply.latency if self.timing else 0.0), reply.baud)

    def unplug(self) -> None:
        self.plugged = False
        self._segments.clear()

    def plug(self) -> None:
        """Reconnect: the module powers up again."""
        self.plugged = True
        self.power_cycle()

    def _require_plugged(self) -> None:
        if not self.plugged:
            raise DeviceUnplugged("the simulated device is unplugged")
