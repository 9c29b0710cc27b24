from __future__ import annotations

import numpy as np
import pytest

from drivers import codec
from drivers.codec import Instruction, PacketParser, wire_seconds
from drivers.errors import ChecksumError, ProtocolError
from drivers.profiles import R307
from hw_sim.line import DeviceUnplugged, Line, garble
from hw_sim.module import COMMAND_SECONDS, SimulatedModule


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_line(clock: FakeClock, *, timing: bool = True, **module_options) -> Line:
    return Line(SimulatedModule(R307, **module_options), timing=timing, clock=clock)


def test_reply_is_paced_at_the_baud_rate(clock):
    line = make_line(clock)
    command = codec.command(Instruction.READ_SYS_PARA)
    line.write(command)
    first_byte = 100.0 + wire_seconds(len(command), 57600) + COMMAND_SECONDS + wire_seconds(1, 57600)
    assert line.available() == 0
    assert line.next_release() == pytest.approx(first_byte)
    clock.now = first_byte + wire_seconds(9, 57600)
    assert line.available() == 10
    clock.now += 1
    assert line.read(100) == codec.ack(0, bytes.fromhex("0000 0000 03e8 0003 ffffffff 0002 0006"))
    assert line.next_release() is None


def test_without_timing_everything_is_released_at_once(clock):
    line = make_line(clock, timing=False)
    line.write(codec.command(Instruction.TEMPLATE_NUM))
    assert line.available() == 14 and line.next_release() == clock.now  # all there, due at once


def test_reset_input_discards_only_what_arrived(clock):
    line = make_line(clock)
    line.write(codec.command(Instruction.READ_SYS_PARA))
    clock.now = line.next_release() + wire_seconds(4, 57600)
    line.reset_input()
    clock.now += 1
    assert line.available() == 28 - 5


def test_commands_during_power_up_are_ignored(clock):
    line = make_line(clock, power_up_byte=True)
    line.power_cycle()
    line.write(codec.command(Instruction.TEMPLATE_NUM))
    assert line.counters.bytes_ignored == 12
    clock.now += R307.power_up_seconds + 0.01
    assert line.read(1) == b"\x55"
    line.write(codec.command(Instruction.TEMPLATE_NUM))
    clock.now += 1
    assert line.available() == 14


def test_wrong_host_baud_is_garbage_to_the_module(clock):
    line = make_line(clock, timing=False)
    line.host_baud = 9600
    line.write(codec.command(Instruction.TEMPLATE_NUM))
    assert line.available() == 0 and line.counters.bytes_ignored == 12


def test_host_at_the_wrong_baud_hears_garble(clock):
    line = make_line(clock, timing=False, baud_change="immediate", power_up_byte=True)
    line.write(codec.command(Instruction.SET_SYS_PARA, b"\x04\x02"))  # module moves to 19200 after the ack
    assert line.read(12) == codec.ack(0)
    line.power_cycle()  # its 0x55 goes out at 19200 while the host listens at 57600
    heard = line.read(100)
    assert len(heard) == 3 and b"\x55" not in heard


def test_garble_is_deterministic_and_scaled():
    data = codec.ack(0) * 10
    assert garble(data, 57600, 9600) == garble(data, 57600, 9600)
    assert len(garble(data, 57600, 9600)) == 20
    assert len(garble(data, 57600, 115200)) == 240
    assert b"\xef" not in garble(data, 9600, 115200)


def parse_all(data: bytes) -> tuple[list, list]:
    parser = PacketParser(address=None)
    parser.feed(data)
    packets, errors = [], []
    while True:
        try:
            packet = parser.next_packet()
        except ProtocolError as error:
            errors.append(error)
            continue
        if packet is None:
            return packets, errors
        packets.append(packet)


def test_corrupt_fault_breaks_the_checksum_once(clock):
    line = make_line(clock, timing=False)
    line.inject("corrupt")
    for _ in range(2):
        line.write(codec.command(Instruction.TEMPLATE_NUM))
    packets, errors = parse_all(line.read(100))
    assert len(packets) == 1 and isinstance(errors[0], ChecksumError)
    assert line.counters.faults_applied == {"corrupt": 1}


def test_corrupt_fault_hits_a_data_packet_of_a_stream(clock):
    line = make_line(clock, timing=False)
    line.inject("corrupt")
    line.write(codec.command(Instruction.UP_CHAR, b"\x01"))
    packets, errors = parse_all(line.read(1000))
    assert packets[0].payload == b"\x00" and len(errors) == 1


def test_drop_fault_shortens_the_reply(clock):
    line = make_line(clock, timing=False)
    line.inject("drop")
    line.write(codec.command(Instruction.UP_CHAR, b"\x01"))
    assert 0 < line.available() < 12 + 4 * (128 + 11)


def test_noise_fault_precedes_the_reply(clock):
    line = make_line(clock, timing=False)
    line.inject("noise", count=2)
    for _ in range(3):
        line.write(codec.command(Instruction.TEMPLATE_NUM))
    data = line.read(1000)
    assert not data.startswith(b"\xef\x01")
    packets, errors = parse_all(data)
    assert len(packets) == 3 and not errors


def test_no_reply_fault_swallows_n_replies(clock):
    line = make_line(clock, timing=False)
    line.inject("no_reply", count=2)
    for _ in range(3):
        line.write(codec.command(Instruction.TEMPLATE_NUM))
    assert line.available() == 14
    assert line.faults == {}


def test_unknown_fault_is_refused(clock):
    with pytest.raises(ValueError, match="unknown fault"):
        make_line(clock).inject("gremlins")


def test_unplugged_line_refuses_io_and_plug_powers_up(clock):
    line = make_line(clock, timing=False)
    line.module.flash.security_level = 5
    line.unplug()
    with pytest.raises(DeviceUnplugged):
        line.write(codec.command(Instruction.TEMPLATE_NUM))
    with pytest.raises(DeviceUnplugged):
        line.read(1)
    line.plug()
    line.write(codec.command(Instruction.READ_SYS_PARA))
    assert line.read(28)[17] == 5


def test_a_byte_that_arrived_unread_is_due_now() -> None:
    """A server that computes its next wake-up after the last byte arrived must not sleep for ever."""
    clock = [100.0]
    line = Line(SimulatedModule(R307), timing=True, clock=lambda: clock[0])
    line.write(codec.command(Instruction.TEMPLATE_NUM))
    clock[0] += 1.0  # the whole reply has arrived, nothing read yet
    assert line.next_release() == clock[0]
    assert len(line.read(100)) == 14
    assert line.next_release() is None


@pytest.mark.parametrize("scale", [0.0, 0.4, 1.0])
def test_instruction_latency_is_scaled_and_the_wire_is_not(clock, scale):
    line = Line(SimulatedModule(R307), timing=True, latency_scale=scale, clock=clock)
    line.module.place_finger(np.full((288, 256), 128, dtype=np.uint8))
    command = codec.command(Instruction.GEN_IMG)
    line.write(command)
    on_the_wire = wire_seconds(len(command), 57600) + wire_seconds(1, 57600)
    assert line.next_release() == pytest.approx(100.0 + on_the_wire + scale * R307.capture_seconds)
