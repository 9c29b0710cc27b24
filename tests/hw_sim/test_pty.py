from __future__ import annotations

import os

import pytest
import serial
from PIL import Image
from pyfingerprint.pyfingerprint import PyFingerprint

from drivers import codec
from drivers.codec import Instruction
from hw_sim.control import ControlError
from hw_sim.process import SimProcess


@pytest.fixture
def sim(tmp_path):
    socket_path = tmp_path / "control.sock"
    process = SimProcess(socket_path, "--no-timing", "--seed", "3", "--flash", str(tmp_path / "flash.json"))
    try:
        yield process
        assert process.stop() == 0
        assert not socket_path.exists()
    finally:
        process.kill()


def test_pyfingerprint_works_unchanged(sim, tmp_path):
    sensor = PyFingerprint(sim.device, 57600, 0xFFFFFFFF, 0x00000000)
    assert sensor.verifyPassword()
    assert sensor.getTemplateCount() == 0
    assert not sensor.readImage()
    sim.control.finger(True, "S0005", 2)
    assert sensor.readImage()
    picture = tmp_path / "finger.bmp"
    sensor.downloadImage(str(picture))
    with Image.open(picture) as image:
        assert image.size == (256, 288)
    sensor.convertImage(0x01)
    sim.control.finger(True, "S0005", 2)
    assert sensor.readImage()
    sensor.convertImage(0x02)
    assert sensor.compareCharacteristics() >= 50
    sensor.createTemplate()
    assert sensor.storeTemplate() == 0
    assert sensor.getTemplateCount() == 1
    sim.control.finger(True, "S0005", 2)
    sensor.readImage()
    sensor.convertImage(0x01)
    position, score = sensor.searchTemplate()
    assert position == 0 and score >= 50
    sim.control.finger(True, "S0006", 2)
    sensor.readImage()
    sensor.convertImage(0x01)
    assert sensor.searchTemplate() == (-1, -1)
    del sensor


def exchange(port: serial.Serial, instruction: int, size: int, params: bytes = b"") -> bytes:
    port.write(codec.command(instruction, params))
    return port.read(size)


def test_control_status_and_faults(sim):
    status = sim.control.status()
    assert status["device"] == sim.device and status["params"]["baud"] == 57600
    with serial.Serial(sim.device, 57600, timeout=1) as port:
        sim.control.fault("corrupt")
        corrupted = exchange(port, Instruction.TEMPLATE_NUM, 14)
        assert corrupted[:9] == codec.ack(0, b"\x00\x00")[:9] and corrupted != codec.ack(0, b"\x00\x00")
        assert exchange(port, Instruction.TEMPLATE_NUM, 14) == codec.ack(0, b"\x00\x00")
        sim.control.fault("no_reply")
        port.timeout = 0.2
        assert exchange(port, Instruction.TEMPLATE_NUM, 14) == b""
    assert sim.control.status()["counters"]["faults_applied"] == {"corrupt": 1, "no_reply": 1}
    with pytest.raises(ControlError, match="unknown fault"):
        sim.control.fault("gremlins")


def test_wrong_baud_gets_no_answer_on_the_pty(sim):
    with serial.Serial(sim.device, 9600, timeout=0.2) as port:
        assert exchange(port, Instruction.TEMPLATE_NUM, 14) == b""
        port.baudrate = 57600
        assert exchange(port, Instruction.TEMPLATE_NUM, 14) == codec.ack(0, b"\x00\x00")


def test_unplug_hangs_up_and_plug_brings_a_new_pty(sim):
    port = serial.Serial(sim.device, 57600, timeout=1)
    sim.control.unplug()
    assert sim.control.status()["device"] is None
    with pytest.raises((serial.SerialException, OSError)):
        exchange(port, Instruction.TEMPLATE_NUM, 14)
        port.read(1)
    port.close()
    new_device = sim.control.plug()["device"]
    assert os.path.exists(new_device)
    with serial.Serial(new_device, 57600, timeout=1) as again:
        assert exchange(again, Instruction.TEMPLATE_NUM, 14) == codec.ack(0, b"\x00\x00")
