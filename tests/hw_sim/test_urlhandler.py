from __future__ import annotations

import itertools
import os

import pytest
import serial

import hw_sim
from drivers import codec
from drivers.codec import Instruction

_names = itertools.count()


@pytest.fixture
def name():
    device_name = f"test{next(_names)}"
    yield device_name
    hw_sim.remove_device(device_name)


def open_port(name: str, query: str = "timing=0&seed=7", **options) -> serial.SerialBase:
    options.setdefault("baudrate", 57600)
    options.setdefault("timeout", 1)
    return serial.serial_for_url(f"sim://{name}?{query}", **options)


def test_round_trip_and_device_kept_after_close(name):
    with open_port(name) as port:
        port.write(codec.command(Instruction.WRITE_NOTEPAD, b"\x03" + b"x" * 32))
        assert port.read(12) == codec.ack(0)
    assert hw_sim.device(name).module.flash.notepad[3] == b"x" * 32
    with open_port(name, "model=r503") as port:  # settings of a later open are ignored
        port.write(codec.command(Instruction.READ_NOTEPAD, b"\x03"))
        assert port.read(44)[10:42] == b"x" * 32
    assert hw_sim.device(name).module.profile.name == "r307"


def test_second_open_is_busy(name):
    with open_port(name), pytest.raises(serial.SerialException) as caught:
        open_port(name)
    assert caught.value.errno == 16
    assert str(caught.value).endswith(f"sim://{name} is already open (in use by PID {os.getpid()})")


def test_read_timeouts(name):
    with open_port(name, timeout=0) as port:
        assert port.read(5) == b""
        port.timeout = 0.05
        assert port.read(5) == b""
        port.write(codec.command(Instruction.TEMPLATE_NUM))
        assert port.in_waiting == 14
        port.timeout = None
        assert port.read(14) == codec.ack(0, b"\x00\x00")


def test_blocking_read_waits_for_paced_bytes(name):
    with open_port(name, "timing=1", timeout=None) as port:
        port.write(codec.command(Instruction.READ_SYS_PARA))
        assert len(port.read(28)) == 28


def test_reset_input_buffer(name):
    with open_port(name) as port:
        port.write(codec.command(Instruction.TEMPLATE_NUM))
        port.reset_input_buffer()
        assert port.in_waiting == 0


def test_wrong_baud_gets_no_answer(name):
    with open_port(name, baudrate=9600, timeout=0.05) as port:
        port.write(codec.command(Instruction.TEMPLATE_NUM))
        assert port.read(12) == b""
        port.baudrate = 57600
        port.write(codec.command(Instruction.TEMPLATE_NUM))
        assert port.read(14) == codec.ack(0, b"\x00\x00")


def test_unplug_breaks_the_open_port_until_reopened(name):
    port = open_port(name)
    device = hw_sim.device(name)
    device.unplug()
    with pytest.raises(serial.SerialException, match="disconnected"):
        port.read(1)
    with pytest.raises(serial.SerialException, match="disconnected"):
        port.write(b"\x00")
    port.close()
    with pytest.raises(serial.SerialException, match="unplugged"):
        open_port(name)
    device.plug()
    with open_port(name) as again:
        again.write(codec.command(Instruction.TEMPLATE_NUM))
        assert again.read(14) == codec.ack(0, b"\x00\x00")


def test_device_controls(name):
    with open_port(name) as port:
        device = hw_sim.device(name)
        port.write(codec.command(Instruction.GEN_IMG))
        assert port.read(12) == codec.ack(0x02)
        assert device.finger(True, "S0009", 3) == {"finger": {"subject": "S0009", "finger": 3}}
        port.write(codec.command(Instruction.GEN_IMG))
        assert port.read(12) == codec.ack(0)
        device.fault("no_reply")
        port.timeout = 0.05
        port.write(codec.command(Instruction.GEN_IMG))
        assert port.read(12) == b""
        device.finger(False)
        status = device.status()
        assert status["finger"] is None and status["counters"]["faults_applied"] == {"no_reply": 1}
        assert status["params"]["baud"] == 57600 and status["open_by"] == os.getpid()


def test_bad_query_is_a_serial_exception(name):
    with pytest.raises(serial.SerialException, match="unknown sim:// parameter"):
        open_port(name, "colour=blue")
    with pytest.raises(serial.SerialException, match="baud_change"):
        open_port(name, "baud_change=sometimes")
    with pytest.raises(serial.SerialException, match="latency_scale must be a number"):
        open_port(name, "latency_scale=fast")
    with pytest.raises(serial.SerialException, match=r"latency_scale must be 0\.\.10"):
        open_port(name, "latency_scale=11")


def test_latency_scale_and_image_clearing_come_from_the_query(name):
    with open_port(name, "latency_scale=0.25&convert_clears_image=yes"):
        device = hw_sim.device(name)
        assert device.line.latency_scale == 0.25 and device.module.convert_clears_image
