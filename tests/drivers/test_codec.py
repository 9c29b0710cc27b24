"""The packet codec: worked examples from the manuals, and properties over arbitrary bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import codec
from drivers.codec import Instruction, Packet, PacketParser, PacketType
from drivers.errors import AddressMismatch, BadLength, ChecksumError, ProtocolError, UnexpectedPacketType

# Reference §1.4: each command exactly as the manuals' checksums give it.
GOLDEN_COMMANDS = [
    (Instruction.GEN_IMG, b"", "EF 01 FF FF FF FF 01 00 03 01 00 05"),
    (Instruction.VFY_PWD, bytes(4), "EF 01 FF FF FF FF 01 00 07 13 00 00 00 00 00 1B"),
    (Instruction.READ_SYS_PARA, b"", "EF 01 FF FF FF FF 01 00 03 0F 00 13"),
    (Instruction.IMG2TZ, b"\x01", "EF 01 FF FF FF FF 01 00 04 02 01 00 08"),
    (Instruction.UP_IMAGE, b"", "EF 01 FF FF FF FF 01 00 03 0A 00 0E"),
]
ACK_OK = bytes.fromhex("EF 01 FF FF FF FF 07 00 03 00 00 0A")


@pytest.mark.parametrize(("instruction", "params", "wire"), GOLDEN_COMMANDS)
def test_commands_encode_to_the_manuals_bytes(instruction: Instruction, params: bytes, wire: str) -> None:
    assert codec.command(instruction, params) == bytes.fromhex(wire)


@pytest.mark.parametrize(("instruction", "params", "wire"), GOLDEN_COMMANDS)
def test_golden_commands_decode(instruction: Instruction, params: bytes, wire: str) -> None:
    packet = codec.decode(bytes.fromhex(wire))
    assert packet == Packet(PacketType.COMMAND, bytes((instruction,)) + params)


def test_ok_ack_golden() -> None:
    assert codec.ack(0x00) == ACK_OK
    assert codec.decode(ACK_OK).payload == b"\x00"


def test_checksum_drops_carries_above_16_bits() -> None:
    payload = b"\xff" * 256
    assert codec.checksum(PacketType.DATA, payload) == (2 + 1 + 2 + 255 * 256) & 0xFFFF


def test_data_packets_split_at_packet_size_with_only_the_last_marked_end() -> None:
    data = bytes(range(256)) * 2 + b"xyz"  # 515 bytes: not a multiple of the packet size
    frames = codec.data_packets(data, 128)
    packets = [codec.decode(f) for f in frames]
    assert [p.kind for p in packets] == [PacketType.DATA] * 4 + [PacketType.END_DATA]
    assert [len(p.payload) for p in packets] == [128, 128, 128, 128, 3]
    assert b"".join(p.payload for p in packets) == data


def test_data_packets_reject_a_size_the_protocol_lacks() -> None:
    with pytest.raises(ValueError, match="one of"):
        codec.data_packets(b"abc", 100)


def test_decode_rejects_a_bad_checksum() -> None:
    bad = bytearray(ACK_OK)
    bad[-1] ^= 0x01
    with pytest.raises(ChecksumError):
        codec.decode(bytes(bad))


def test_decode_rejects_another_address() -> None:
    other = codec.ack(0, address=0x12345678)
    with pytest.raises(AddressMismatch):
        codec.decode(other)
    assert codec.decode(other, address=None).address == 0x12345678


def test_decode_rejects_an_unknown_packet_type() -> None:
    frame = bytearray(ACK_OK)
    frame[6] = 0x05
    with pytest.raises(UnexpectedPacketType):
        codec.decode(bytes(frame))


@pytest.mark.parametrize("length", [0, 1, 2, 259, 0xFFFF])
def test_decode_rejects_an_impossible_length(length: int) -> None:
    frame = bytearray(ACK_OK)
    frame[7:9] = length.to_bytes(2, "big")
    with pytest.raises(BadLength):
        codec.decode(bytes(frame))


def test_parser_skips_garbage_and_the_power_up_byte() -> None:
    parser = PacketParser()
    parser.feed(b"\x55" + ACK_OK + b"\x13\x37\xef" + ACK_OK)
    assert parser.next_packet() == Packet(PacketType.ACK, b"\x00")
    assert parser.next_packet() == Packet(PacketType.ACK, b"\x00")
    assert parser.next_packet() is None
    assert parser.power_up_bytes == 1
    assert parser.skipped == 3


def test_parser_resumes_after_a_corrupt_packet() -> None:
    bad = bytearray(codec.ack(0x02))
    bad[9] ^= 0xFF
    parser = PacketParser()
    parser.feed(bytes(bad) + ACK_OK)
    with pytest.raises(ChecksumError):
        parser.next_packet()
    assert parser.next_packet() == Packet(PacketType.ACK, b"\x00")


def test_parser_needed_never_asks_for_more_than_the_packet_lacks() -> None:
    parser = PacketParser()
    frame = codec.ack(0x00, b"\x00\x05")
    position = 0
    while True:
        need = parser.needed()
        assert 1 <= need <= len(frame) - position or position == len(frame)
        parser.feed(frame[position : position + need])
        position += need
        packet = parser.next_packet()
        if packet is not None:
            break
    assert position == len(frame)
    assert packet.payload == b"\x00\x00\x05"


# --- properties -----------------------------------------------------------------------------

packets = st.builds(
    Packet,
    kind=st.sampled_from(list(PacketType)),
    payload=st.binary(min_size=1, max_size=codec.MAX_PAYLOAD),
    address=st.integers(0, 0xFFFFFFFF),
)


@given(packets)
def test_round_trip(packet: Packet) -> None:
    assert codec.decode(codec.encode(packet), address=packet.address) == packet


@settings(max_examples=500)
@given(st.lists(packets, min_size=1, max_size=5), st.binary(max_size=64), st.integers(1, 300))
def test_resynchronises_after_arbitrary_garbage(packets: list[Packet], garbage: bytes, chunk: int) -> None:
    """Packets after garbage come through whole, however the stream is cut into reads."""
    stream = garbage + b"".join(codec.encode(p) for p in packets)
    parser = PacketParser(address=None)
    received: list[Packet] = []
    for i in range(0, len(stream), chunk):
        parser.feed(stream[i : i + chunk])
        while True:
            try:
                packet = parser.next_packet()
            except ProtocolError:
                continue
            if packet is None:
                break
            received.append(packet)
    # A start code inside the garbage makes a false header; its checksum fails and scanning
    # resumes inside the garbage, so every real packet still arrives whole.
    assert received[-len(packets) :] == packets


@settings(max_examples=300)
@given(st.binary(max_size=600), st.integers(1, 64))
def test_arbitrary_bytes_raise_only_named_errors_and_always_finish(data: bytes, chunk: int) -> None:
    parser = PacketParser()
    steps = 0
    for i in range(0, len(data), chunk):
        parser.feed(data[i : i + chunk])
        while True:
            steps += 1
            assert steps < 10 * (len(data) + 10), "parser made no progress"
            try:
                if parser.next_packet() is None:
                    break
            except ProtocolError:
                pass
    assert 1 <= parser.needed() <= codec.HEADER_SIZE + codec.MAX_LENGTH
