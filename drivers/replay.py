"""Recorded sensor traffic, played back: a pyserial port that answers from a transcript.

``livescan diag record`` (or any ``spy:///dev/...?file=trace.txt`` URL) writes pyserial's spy
hexdump: one ``TX`` block per write, one ``RX`` block per read. ``ReplayPort`` plays it back to the
driver: every write must be the next recorded write, byte for byte, and is answered with what was
read after it in the recording. A read with nothing left returns no bytes (the driver then sees
the same timeout the recording saw). ::

    port = ReplayPort.from_file(Path("trace.txt"))
    sensor = Sensor(port)                 # then the same calls, in the same order, as recorded

A write that differs from the recording raises ``ReplayMismatch``: the code under test no longer
talks to the module as it did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from serial.serialutil import PortNotOpenError, SerialBase

TX, RX = "TX", "RX"
_LINE = re.compile(r"^\s*\d+\.\d+ (TX|RX)\s+([0-9A-F]{4})  (.*)$")
_HEX_WIDTH = 16 * 3 + 1  # sixteen "XX " groups and the gap after the eighth


class TranscriptError(ValueError):
    """The file is not a spy transcript (or holds no traffic); record it with ``livescan diag record``."""


class ReplayMismatch(AssertionError):
    """The host wrote something other than the recording's next write."""


@dataclass(frozen=True)
class Chunk:
    direction: str  # TX (host to module) or RX (module to host)
    data: bytes


def read_transcript(text: str) -> list[Chunk]:
    """The writes and reads of a spy hexdump, in order (adjacent reads joined)."""
    chunks: list[Chunk] = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _LINE.match(line)
        if match is None:
            continue  # control lines: Q-RX reset_input_buffer, Q-TX flush, ...
        direction, offset, row = match.groups()
        try:
            data = bytes.fromhex(row[:_HEX_WIDTH])
        except ValueError:
            raise TranscriptError(f"line {number}: {row[:_HEX_WIDTH]!r} is not a hexdump row") from None
        continues = int(offset, 16) > 0 or (direction == RX and chunks and chunks[-1].direction == RX)
        if continues and chunks and chunks[-1].direction == direction:
            chunks[-1] = Chunk(direction, chunks[-1].data + data)
        else:
            chunks.append(Chunk(direction, data))
    if not any(chunk.direction == TX for chunk in chunks):
        raise TranscriptError("no traffic in the transcript; record it with `livescan diag record`")
    return chunks


class ReplayPort(SerialBase):
    """A port whose module is a recording (see the module docstring). Baud rate changes are accepted
    and ignored: the recording already holds what was heard at each rate."""

    def __init__(self, chunks: list[Chunk], name: str = "replay") -> None:
        self._chunks = chunks
        self._position = 0
        self._input = bytearray()
        super().__init__()
        self._port = name
        self.is_open = True

    @classmethod
    def from_file(cls, path: Path) -> ReplayPort:
        return cls(read_transcript(Path(path).read_text(encoding="utf-8")), str(path))

    @property
    def finished(self) -> bool:
        """Every recorded write has been replayed."""
        return not any(chunk.direction == TX for chunk in self._chunks[self._position :])

    def open(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def _reconfigure_port(self) -> None:
        pass

    @property
    def in_waiting(self) -> int:
        self._require_open()
        return len(self._input)

    def read(self, size: int = 1) -> bytes:
        self._require_open()
        data = bytes(self._input[:size])
        del self._input[:size]
        return data

    def write(self, data: bytes) -> int:
        self._require_open()
        data = bytes(data)
        position = self._position
        expected = self._chunks[position] if position < len(self._chunks) else None
        if expected is None or expected.direction != TX or expected.data != data:
            recorded = (
                expected.data.hex(" ") if expected is not None and expected.direction == TX else "nothing"
            )
            number = 1 + sum(chunk.direction == TX for chunk in self._chunks[:position])
            raise ReplayMismatch(
                f"write #{number} differs from the recording: sent {data.hex(' ')}, recorded {recorded}"
            )
        position += 1
        while position < len(self._chunks) and self._chunks[position].direction == RX:
            self._input += self._chunks[position].data
            position += 1
        self._position = position
        return len(data)

    def flush(self) -> None:
        self._require_open()

    def reset_input_buffer(self) -> None:
        self._require_open()
        self._input.clear()

    def reset_output_buffer(self) -> None:
        self._require_open()

    def _require_open(self) -> None:
        if not self.is_open:
            raise PortNotOpenError()
