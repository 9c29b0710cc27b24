"""The real driver over pyserial's ``socket://HOST:PORT`` against ``livescan sim --tcp``.

TCP carries no baud rate: pyserial's socket handler accepts any ``baudrate`` and ignores it, and
the simulator treats a TCP host as always at the module's rate. The serial server owns the line's
rate, so the driver neither probes nor changes it; the data packet size is still negotiated.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers import FAST_TIMING, Sensor, errors
from hw_sim.process import SimProcess


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimProcess]:
    process = SimProcess(tmp_path / "control.sock", "--no-timing", "--seed", "5", "--tcp", "0")
    try:
        yield process
        assert process.stop() == 0
    finally:
        process.kill()


def url(sim: SimProcess) -> str:
    return f"socket://{sim.tcp}"


def capture_and_upload(sensor: Sensor, sim: SimProcess) -> None:
    sim.control.finger(True, "S0001", 1)
    sensor.gen_img()
    image = sensor.up_image()
    assert image.shape == (288, 256)
    assert image.std() > 10  # a print, not a blank buffer


def test_open_without_negotiation(sim: SimProcess) -> None:
    with Sensor.open(url(sim), timing=FAST_TIMING, negotiate=False) as sensor:
        assert sensor.baudrate == 57600
        assert sensor.parameters is not None and sensor.parameters.password_verified
        assert sensor.template_num() == 0
        capture_and_upload(sensor, sim)
        assert sim.control.status()["tcp"]["connected"]


def test_negotiation_leaves_the_baud_rate_to_the_serial_server(sim: SimProcess) -> None:
    """Every rate "answers" over TCP, so the driver must not probe or change it."""
    with Sensor.open(url(sim), timing=FAST_TIMING) as sensor:
        assert sensor.sets_line_rate is False
        assert sensor.negotiation.baud_behaviour == "set_by_serial_server"
        assert sensor.baudrate == 57600
        params = sim.control.status()["params"]
        assert (params["baud"], params["stored_baud"]) == (57600, 57600)  # flash untouched
        # The packet size is observed on real data, so that one is found out correctly.
        assert sensor.negotiation.packet_behaviour == "next_boot"
        assert sensor.packet_size == 128
        capture_and_upload(sensor, sim)


def test_negotiation_with_a_module_that_switches_at_once(tmp_path: Path) -> None:
    options = ("--no-timing", "--tcp", "0", "--baud-change", "immediate", "--packet-change", "immediate")
    with (
        SimProcess(tmp_path / "control.sock", *options) as process,
        Sensor.open(f"socket://{process.tcp}", timing=FAST_TIMING) as sensor,
    ):
        assert sensor.negotiation.baud_behaviour == "set_by_serial_server"
        assert sensor.negotiation.packet_behaviour == "immediate"
        assert sensor.packet_size == 256
        assert process.control.status()["params"]["baud"] == 57600
        assert sensor.template_num() == 0
        capture_and_upload(sensor, process)


def test_a_second_opener_is_cut_off(sim: SimProcess) -> None:
    with Sensor.open(url(sim), timing=FAST_TIMING, negotiate=False) as sensor:
        with pytest.raises(errors.PortInUse, match="hung up at once"):
            Sensor.open(url(sim), timing=FAST_TIMING, negotiate=False)
        assert sensor.template_num() == 0  # the first opener keeps the module
