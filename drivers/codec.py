"""The ZFM "EF01" packet format: constants, encode, decode and a streaming parser. No I/O.

A packet on the wire::

    EF 01 | address (4) | PID (1) | length (2) | payload (length - 2) | checksum (2)

``length`` counts the payload and the checksum; the checksum is the 16-bit sum of the PID, both
length bytes and every payload byte. All multi-byte fields are big-endian.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from drivers.errors import AddressMismatch, BadLength, ChecksumError, UnexpectedPacketType

START_CODE = b"\xef\x01"
DEFAULT_ADDRESS = 0xFFFFFFFF
DEFAULT_PASSWORD = 0x00000000
POWER_UP_BYTE = 0x55
HEADER_SIZE = 9  # start code, address, PID, length
CHECKSUM_SIZE = 2
MAX_LENGTH = 258  # a 256-byte data payload plus the checksum
MAX_PAYLOAD = MAX_LENGTH - CHECKSUM_SIZE
BITS_PER_BYTE_ON_WIRE = 10  # 8N1: start bit, 8 data bits, stop bit
BAUD_UNIT = 9600  # baud = 9600 x N
PACKET_SIZES = (32, 64, 128, 256)  # data packet size codes 0..3
NOTEPAD_PAGES = 16
NOTEPAD_PAGE_SIZE = 32
SYS_PARA_SIZE = 16


class PacketType(IntEnum):
    COMMAND = 0x01
    DATA = 0x02
    ACK = 0x07
    END_DATA = 0x08


class Instruction(IntEnum):
    GEN_IMG = 0x01
    IMG2TZ = 0x02
    MATCH = 0x03
    SEARCH = 0x04
    REG_MODEL = 0x05
    STORE = 0x06
    LOAD_CHAR = 0x07
    UP_CHAR = 0x08
    DOWN_CHAR = 0x09
    UP_IMAGE = 0x0A
    DOWN_IMAGE = 0x0B
    DELETE_CHAR = 0x0C
    EMPTY = 0x0D
    SET_SYS_PARA = 0x0E
    READ_SYS_PARA = 0x0F
    SET_PWD = 0x12
    VFY_PWD = 0x13
    GET_RANDOM_CODE = 0x14
    SET_ADDER = 0x15
    READ_INF_PAGE = 0x16
    PORT_CONTROL = 0x17
    WRITE_NOTEPAD = 0x18
    READ_NOTEPAD = 0x19
    HIGH_SPEED_SEARCH = 0x1B
    TEMPLATE_NUM = 0x1D
    READ_INDEX_TABLE = 0x1F
    AURA_LED_CONFIG = 0x35
    HANDSHAKE = 0x40
    GET_ECHO = 0x53


class Register(IntEnum):
    """SetSysPara register numbers."""

    BAUD = 4
    SECURITY_LEVEL = 5
    PACKET_SIZE = 6


class AuraMode(IntEnum):
    BREATHING = 1
    FLASHING = 2
    ON = 3
    OFF = 4
    FADE_IN = 5
    FADE_OUT = 6


class AuraColour(IntEnum):
    RED = 1
    BLUE = 2
    PURPLE = 3
    GREEN = 4
    YELLOW = 5
    CYAN = 6
    WHITE = 7


@dataclass(frozen=True, slots=True)
class Packet:
    kind: int
    payload: bytes
    address: int = DEFAULT_ADDRESS

    @property
    def wire_size(self) -> int:
        return HEADER_SIZE + len(self.payload) + CHECKSUM_SIZE


def checksum(kind: int, payload: bytes) -> int:
    """16-bit sum of the PID, the two length bytes and the payload; carries are dropped."""
    length = len(payload) + CHECKSUM_SIZE
    return (kind + (length >> 8) + (length & 0xFF) + sum(payload)) & 0xFFFF


def _check_length(kind: int, length: int) -> None:
    minimum = 2 if kind in (PacketType.DATA, PacketType.END_DATA) else 3
    if not minimum <= length <= MAX_LENGTH:
        raise BadLength(f"length field {length} outside {minimum}..{MAX_LENGTH} for PID 0x{kind:02X}")


def encode(packet: Packet) -> bytes:
    """The packet's bytes on the wire."""
    length = len(packet.payload) + CHECKSUM_SIZE
    _check_length(packet.kind, length)
    if packet.kind not in _KNOWN_PIDS:
        raise UnexpectedPacketType(f"unknown packet identifier 0x{packet.kind:02X}")
    return b"".join(
        (
            START_CODE,
            packet.address.to_bytes(4, "big"),
            bytes((packet.kind,)),
            length.to_bytes(2, "big"),
            packet.payload,
            checksum(packet.kind, packet.payload).to_bytes(2, "big"),
        )
    )


def command(instruction: int, params: bytes = b"", address: int = DEFAULT_ADDRESS) -> bytes:
    """A command packet on the wire."""
    return encode(Packet(PacketType.COMMAND, bytes((instruction,)) + params, address))


def ack(code: int, results: bytes = b"", address: int = DEFAULT_ADDRESS) -> bytes:
    """An acknowledge packet on the wire."""
    return encode(Packet(PacketType.ACK, bytes((code,)) + results, address))


def data_packets(data: bytes, packet_size: int, address: int = DEFAULT_ADDRESS) -> list[bytes]:
    """``data`` split into data packets of ``packet_size``; only the last is END_DATA."""
    if packet_size not in PACKET_SIZES:
        raise ValueError(f"data packet size must be one of {PACKET_SIZES}, not {packet_size}")
    chunks = [data[i : i + packet_size] for i in range(0, len(data), packet_size)] or [b""]
    kinds = [PacketType.DATA] * (len(chunks) - 1) + [PacketType.END_DATA]
    return [encode(Packet(kind, chunk, address)) for kind, chunk in zip(kinds, chunks, strict=True)]


def wire_seconds(n_bytes: int, baudrate: int) -> float:
    """Time ``n_bytes`` take on an 8N1 line."""
    return n_bytes * BITS_PER_BYTE_ON_WIRE / baudrate


_KNOWN_PIDS = frozenset(int(p) for p in PacketType)


def pack_image(image: np.ndarray) -> bytes:
    """An 8-bit image in the UART form: the top 4 bits of each pixel, two pixels per byte.

    Rows run top to bottom; the high nibble holds the left (even-x) pixel of each pair.
    """
    if image.ndim != 2 or image.dtype != np.uint8 or image.shape[1] % 2:
        raise ValueError(f"expected a 2-D uint8 image of even width, got {image.shape} {image.dtype}")
    top = image >> 4
    return (top[:, 0::2] << 4 | top[:, 1::2]).tobytes()


def unpack_image(data: bytes, width: int, height: int) -> np.ndarray:
    """The 8-bit ``height`` x ``width`` image that UART image ``data`` describes (4-bit values x 17)."""
    if len(data) * 2 != width * height:
        raise ValueError(f"{len(data)} image bytes cannot fill {width}x{height} pixels")
    nibbles = np.frombuffer(data, np.uint8)
    image = np.empty(nibbles.size * 2, np.uint8)
    image[0::2] = nibbles >> 4
    image[1::2] = nibbles & 0x0F
    image *= 17
    return image.reshape(height, width)


def decode(data: bytes, address: int | None = DEFAULT_ADDRESS) -> Packet:
    """Exactly one packet from ``data`` (no leading or trailing bytes allowed).

    ``address=None`` accepts any address.
    """
    if len(data) < HEADER_SIZE + CHECKSUM_SIZE:
        raise BadLength(f"{len(data)} bytes is shorter than the smallest packet")
    if data[:2] != START_CODE:
        raise UnexpectedPacketType(f"packet starts with {data[:2].hex(' ')}, not EF 01")
    parser = PacketParser(address=address)
    parser.feed(data)
    packet = parser.next_packet()
    if packet is None or parser.buffered:
        raise BadLength(f"{len(data)} bytes do not hold exactly one packet")
    return packet


class PacketParser:
    """Turns a byte stream into packets, resynchronising on the start code.

    ``feed`` bytes as they arrive and call ``next_packet`` until it returns None. Bytes before a
    start code are skipped (counted in ``skipped``; lone power-up bytes 0x55 in
    ``power_up_bytes``). A malformed packet raises a ``ProtocolError`` subclass after the parser
    has moved past its start code, so the next call continues with the rest of the stream.
    ``needed`` says how many more bytes complete the packet in progress, so a reader can ask the
    port for exactly that many.
    """

    def __init__(self, address: int | None = DEFAULT_ADDRESS) -> None:
        self.address = address
        self._buffer = bytearray()
        self.skipped = 0
        self.power_up_bytes = 0

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def clear(self) -> None:
        self._buffer.clear()

    def needed(self) -> int:
        """The fewest bytes that can complete the packet in progress (never more than it lacks)."""
        buf = self._buffer
        start = buf.find(START_CODE)
        if start < 0:
            return HEADER_SIZE + CHECKSUM_SIZE - (1 if buf[-1:] == START_CODE[:1] else 0)
        available = len(buf) - start
        if available < HEADER_SIZE:
            return HEADER_SIZE - available
        length = int.from_bytes(buf[start + 7 : start + 9], "big")
        return max(1, HEADER_SIZE + min(length, MAX_LENGTH) - available)

    def next_packet(self) -> Packet | None:
        buf = self._buffer
        start = buf.find(START_CODE)
        if start < 0:
            keep = 1 if buf[-1:] == START_CODE[:1] else 0
            self._skip(len(buf) - keep)
            return None
        if start:
            self._skip(start)
        if len(buf) < HEADER_SIZE:
            return None
        kind = buf[6]
        length = int.from_bytes(buf[7:9], "big")
        if kind not in _KNOWN_PIDS:
            self._drop_start_code()
            raise UnexpectedPacketType(f"unknown packet identifier 0x{kind:02X}")
        try:
            _check_length(kind, length)
        except BadLength:
            self._drop_start_code()
            raise
        total = HEADER_SIZE + length
        if len(buf) < total:
            return None
        payload = bytes(buf[HEADER_SIZE : total - CHECKSUM_SIZE])
        received = int.from_bytes(buf[total - CHECKSUM_SIZE : total], "big")
        address = int.from_bytes(buf[2:6], "big")
        expected = checksum(kind, payload)
        if received != expected:
            self._drop_start_code()
            raise ChecksumError(f"checksum 0x{received:04X}, expected 0x{expected:04X}")
        if self.address is not None and address != self.address:
            del buf[:total]
            raise AddressMismatch(f"packet from address 0x{address:08X}, expected 0x{self.address:08X}")
        del buf[:total]
        return Packet(kind, payload, address)

    def _skip(self, n: int) -> None:
        if n <= 0:
            return
        run = bytes(self._buffer[:n])
        if POWER_UP_BYTE in run and not run.strip(b"\x55\x00"):
            self.power_up_bytes += run.count(POWER_UP_BYTE)
        else:
            self.skipped += n
        del self._buffer[:n]

    def _drop_start_code(self) -> None:
        self.skipped += 2
        del self._buffer[:2]
