"""The driver against the simulated R307: every instruction and every fault.

Each test runs twice: with the simulator in this process (``sim://``) and with ``livescan sim``
in a child process on a pseudo-terminal, so the driver meets a real tty.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hw_sim
from drivers import FAST_TIMING, SearchResult, Sensor, errors
from drivers.codec import AuraColour, AuraMode, Instruction
from hw_sim import SimSettings
from hw_sim.process import SimProcess

_names = itertools.count()


@dataclass
class Rig:
    """A simulated module and how to reach it: ``url`` for the driver, ``controls`` for the test."""

    url: str
    controls: Any  # hw_sim.SimulatedDevice in process, hw_sim.control.SimControl across processes
    reopen_url: Callable[[], str]

    def open(self, **options: Any) -> Sensor:
        options.setdefault("timing", FAST_TIMING)
        return Sensor.open(self.url, **options)


@pytest.fixture(params=["in-process", "pty"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    if request.param == "in-process":
        name = f"driver-test-{next(_names)}"
        device = hw_sim.get_or_create_device(name, SimSettings(timing=False, seed=5))
        yield Rig(f"sim://{name}", device, lambda: f"sim://{name}")
        hw_sim.remove_device(name)
    else:
        with SimProcess(tmp_path / "control.sock", "--no-timing", "--seed", "5") as process:
            yield Rig(process.device, process.control, lambda: process.control.status()["device"])


@pytest.fixture
def sensor(rig: Rig) -> Iterator[Sensor]:
    """The module at its factory settings: a power cycle does not move it to another rate."""
    with rig.open(negotiate=False) as opened:
        yield opened


def capture(sensor: Sensor, rig: Rig, subject: str, finger: int, buffer: int = 1, tries: int = 5) -> None:
    """Place the finger until the module takes it, as an officer retakes a faint placement."""
    for attempt in range(tries):
        rig.controls.finger(True, subject, finger)
        sensor.gen_img()
        try:
            sensor.img2tz(buffer)
            return
        except (errors.TooFewFeatures, errors.ImageTooMessy):
            if attempt + 1 == tries:
                raise


def search_with_retakes(
    sensor: Sensor, rig: Rig, subject: str, finger: int, tries: int = 3
) -> SearchResult | None:
    """One placement matches its enrolled template most of the time; an officer tries again."""
    for _ in range(tries):
        capture(sensor, rig, subject, finger)
        found = sensor.search(1)
        if found is not None:
            return found
    return None


# --- opening ----------------------------------------------------------------------------------


def test_open_finds_verifies_and_reads_the_module(sensor: Sensor) -> None:
    params = sensor.parameters
    assert params is not None
    assert params.capacity == 1000
    assert params.security_level == 3
    assert params.address == 0xFFFFFFFF
    assert params.password_verified


def test_open_probes_other_baud_rates(rig: Rig) -> None:
    with rig.open(baudrate=9600, negotiate=False) as found:
        assert found.baudrate == 57600


def test_wrong_password_is_named(rig: Rig) -> None:
    with rig.open() as first:
        first.set_password(0x12345678)
    rig.controls.power_cycle()
    with pytest.raises(errors.WrongPassword):
        rig.open(password=0x1)
    with rig.open(password=0x12345678) as unlocked:
        assert unlocked.template_num() == 0


def test_a_module_at_another_address_is_not_found(rig: Rig) -> None:
    with rig.open() as first:
        first.set_address(0x0A0B0C0D)
        assert first.template_num() == 0  # the reply came from the new address
    with pytest.raises(errors.SensorNotFound):
        rig.open()
    with rig.open(address=0x0A0B0C0D) as found:
        assert found.parameters is not None and found.parameters.address == 0x0A0B0C0D


def test_second_opener_is_refused(rig: Rig, sensor: Sensor) -> None:
    with pytest.raises(errors.PortInUse, match="in use by PID"):
        rig.open()


# --- images -----------------------------------------------------------------------------------


def test_gen_img_without_a_finger(sensor: Sensor, rig: Rig) -> None:
    rig.controls.finger(False)
    with pytest.raises(errors.NoFinger) as info:
        sensor.gen_img()
    assert info.value.code == 0x02
    assert "place a finger" in str(info.value)
    assert sensor.capture() is False


def test_up_image_returns_the_frame_with_progress(sensor: Sensor, rig: Rig) -> None:
    rig.controls.finger(True, "S0001", 3)
    assert sensor.capture() is True
    progress: list[tuple[int, int]] = []
    image = sensor.up_image(progress=lambda done, total: progress.append((done, total)))
    assert image.shape == (288, 256) and image.dtype == np.uint8
    assert not np.any(image % 17)  # 4-bit values scaled by 17
    assert image.std() > 20  # a print, not a blank
    assert progress[-1] == (36864, 36864)
    assert len(progress) == 36864 // sensor.packet_size
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


def test_down_image_then_up_image_round_trips(sensor: Sensor) -> None:
    rng = np.random.default_rng(1)
    image = (rng.integers(0, 16, (288, 256)) * 17).astype(np.uint8)
    sensor.down_image(image)
    assert np.array_equal(sensor.up_image(), image)


def test_down_image_rejects_the_wrong_size(sensor: Sensor) -> None:
    with pytest.raises(ValueError, match="288 rows"):
        sensor.down_image(np.zeros((100, 100), np.uint8))


def test_img2tz_on_an_empty_image_buffer(sensor: Sensor, rig: Rig) -> None:
    rig.controls.power_cycle()
    with pytest.raises(errors.NoValidImage):
        sensor.img2tz(1)


# --- character files, matching, library -------------------------------------------------------


def test_match_same_and_different_fingers(sensor: Sensor, rig: Rig) -> None:
    capture(sensor, rig, "S0002", 4, buffer=1)
    capture(sensor, rig, "S0002", 4, buffer=2)
    same = sensor.match()
    capture(sensor, rig, "S0003", 7, buffer=2)
    different = sensor.match()
    assert same.matched and same.score > different.score
    assert not different.matched


def test_enrol_store_search_delete(sensor: Sensor, rig: Rig) -> None:
    capture(sensor, rig, "S0004", 1, buffer=1)
    capture(sensor, rig, "S0004", 1, buffer=2)
    sensor.reg_model()
    sensor.store(17)
    assert sensor.template_num() == 1
    assert sensor.read_index_table(0) == {17}
    assert sensor.stored_templates() == [17]

    found = search_with_retakes(sensor, rig, "S0004", 1)
    assert found is not None and found.page == 17 and found.score > 0
    fast = sensor.high_speed_search(1)
    assert fast is not None and fast.page == 17

    capture(sensor, rig, "S0009", 9, buffer=1)
    assert sensor.search(1) is None

    sensor.delete_char(17)
    assert sensor.template_num() == 0


def test_template_up_and_down_round_trip(sensor: Sensor, rig: Rig) -> None:
    capture(sensor, rig, "S0005", 2, buffer=1)
    template = sensor.up_char(1)
    assert len(template) == 512
    sensor.down_char(template, 2)
    assert sensor.up_char(2) == template
    assert sensor.match().matched


def test_load_char_and_page_errors(sensor: Sensor, rig: Rig) -> None:
    capture(sensor, rig, "S0006", 5, buffer=1)
    sensor.store(3)
    sensor.load_char(3, 2)
    assert sensor.up_char(2) == sensor.up_char(1)
    with pytest.raises(errors.PageOutOfRange):
        sensor.store(1000)
    with pytest.raises(errors.TemplateReadError):
        sensor.load_char(4)
    sensor.empty()
    assert sensor.template_num() == 0


def test_merge_of_different_fingers_fails(sensor: Sensor, rig: Rig) -> None:
    capture(sensor, rig, "S0007", 1, buffer=1)
    capture(sensor, rig, "S0008", 6, buffer=2)
    with pytest.raises(errors.MergeFailed):
        sensor.reg_model()


def test_buffer_ids_are_checked_before_sending(sensor: Sensor) -> None:
    with pytest.raises(ValueError, match=r"1\.\.2"):
        sensor.img2tz(3)


# --- system -----------------------------------------------------------------------------------


def test_notepad_random_and_security_level(sensor: Sensor) -> None:
    sensor.write_notepad(15, b"booking room 2")
    assert sensor.read_notepad(15) == b"booking room 2".ljust(32, b"\0")
    with pytest.raises(errors.BadNotepadPage):
        sensor._exchange(Instruction.READ_NOTEPAD, bytes((16,)))
    assert len({sensor.get_random_code() for _ in range(5)}) > 1
    sensor.set_security_level(5)
    assert sensor.read_sys_para().security_level == 5
    with pytest.raises(errors.InvalidRegister):
        sensor.set_sys_para(9, 1)


def test_handshake(sensor: Sensor) -> None:
    assert sensor.handshake() is True


def test_password_is_verified_again_after_a_power_cycle(sensor: Sensor, rig: Rig) -> None:
    sensor.set_password(0xCAFEF00D)
    rig.controls.power_cycle()
    assert sensor.template_num() == 0  # answered 0x21 first; the driver re-verified
    assert rig.controls.status()["params"]["password_verified"]


def test_library_and_parameters_survive_a_power_cycle(sensor: Sensor, rig: Rig) -> None:
    capture(sensor, rig, "S0010", 3, buffer=1)
    sensor.store(0)
    sensor.set_security_level(4)
    rig.controls.power_cycle()
    assert sensor.template_num() == 1
    assert sensor.read_sys_para().security_level == 4


def test_port_control_off_makes_the_module_deaf_until_power_up(sensor: Sensor, rig: Rig) -> None:
    sensor.port_control(False)
    assert sensor.handshake() is False
    rig.controls.power_cycle()
    assert sensor.handshake() is True


def test_led_ring_only_where_the_model_has_one(sensor: Sensor) -> None:
    with pytest.raises(errors.UnsupportedInstruction):
        sensor.aura_led(3)


# --- negotiation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "baud", "packet", "pending"),
    [
        ("immediate", 115200, 256, None),
        ("next_boot", 57600, 128, 115200),
        ("ignored", 57600, 128, None),
    ],
)
def test_negotiation_detects_how_the_module_applies_changes(
    behaviour: str, baud: int, packet: int, pending: int | None
) -> None:
    name = f"negotiate-{behaviour}"
    settings = SimSettings(timing=False, baud_change=behaviour, packet_change=behaviour)  # type: ignore[arg-type]
    device = hw_sim.get_or_create_device(name, settings)
    try:
        with Sensor.open(f"sim://{name}", timing=FAST_TIMING) as sensor:
            assert (sensor.baudrate, sensor.packet_size) == (baud, packet)
            assert sensor.negotiation.baud_behaviour == behaviour
            assert sensor.negotiation.pending_baudrate == pending
            template = np.arange(512, dtype=np.uint16).astype(np.uint8).tobytes()
            sensor.down_char(template, 1)  # downloads use the size the module really has
            assert sensor.up_char(1) == template
        device.power_cycle()
        with Sensor.open(f"sim://{name}", timing=FAST_TIMING, negotiate=False) as again:
            expected = 115200 if behaviour != "ignored" else 57600
            assert again.baudrate == expected  # found wherever the module came up
    finally:
        hw_sim.remove_device(name)


def test_a_change_stored_by_an_earlier_open_is_reported_as_pending(rig: Rig) -> None:
    with rig.open():
        pass
    with rig.open() as again:
        assert again.baudrate == 57600
        assert again.negotiation.pending_baudrate == 115200
        assert again.negotiation.baud_behaviour == "next_boot"


def test_reconnect_after_the_module_comes_up_at_its_new_rate(rig: Rig) -> None:
    with rig.open() as sensor:
        assert sensor.negotiation.pending_baudrate == 115200
        rig.controls.power_cycle()
        with pytest.raises(errors.SensorTimeout):
            sensor.template_num()  # the module now listens at 115200
        sensor.reconnect()
        assert sensor.baudrate == 115200
        assert sensor.template_num() == 0


# --- faults -----------------------------------------------------------------------------------


def test_noise_before_a_reply_is_skipped(sensor: Sensor, rig: Rig) -> None:
    rig.controls.fault("noise")
    assert sensor.template_num() == 0


@pytest.mark.parametrize("kind", ["corrupt", "no_reply"])
def test_a_bad_reply_raises_a_named_error_and_the_next_command_is_clean(
    sensor: Sensor, rig: Rig, kind: str
) -> None:
    sensor.retries = 0
    rig.controls.fault(kind)
    with pytest.raises(errors.TransportError) as info:
        sensor.template_num()
    assert isinstance(info.value, errors.ChecksumError if kind == "corrupt" else errors.SensorTimeout)
    assert sensor.template_num() == 0


@pytest.mark.parametrize("kind", ["corrupt", "no_reply", "noise"])
def test_retry_hides_one_bad_reply(sensor: Sensor, rig: Rig, kind: str) -> None:
    rig.controls.fault(kind)
    assert sensor.read_sys_para().capacity == 1000


@pytest.mark.parametrize("kind", ["drop", "corrupt"])
def test_a_broken_image_transfer_is_named_and_drained(sensor: Sensor, rig: Rig, kind: str) -> None:
    sensor.retries = 0
    rig.controls.finger(True, "S0011", 1)
    sensor.gen_img()
    rig.controls.fault(kind)
    with pytest.raises((errors.CorruptTransfer, errors.SensorTimeout)):
        sensor.up_image()
    image = sensor.up_image()  # the line was drained: the next transfer starts clean
    assert image.shape == (288, 256)


def test_unplugged_device_raises_device_disconnected(sensor: Sensor, rig: Rig) -> None:
    rig.controls.unplug()
    with pytest.raises(errors.DeviceDisconnected, match="check the cable"):
        sensor.template_num()
    sensor.close()
    rig.controls.plug()
    with Sensor.open(rig.reopen_url(), timing=FAST_TIMING) as again:
        assert again.template_num() == 0


# --- other models and URLs ------------------------------------------------------------------


def test_r503_led_ring_and_information_page() -> None:
    device = hw_sim.get_or_create_device("r503", SimSettings(model="r503", timing=False))
    try:
        with Sensor.open("sim://r503", profile="r503", timing=FAST_TIMING, negotiate=False) as sensor:
            sensor.aura_led(AuraMode.BREATHING, AuraColour.PURPLE, speed=0x40, count=3)
            assert device.status()["led"] == {"mode": 1, "speed": 0x40, "colour": 3, "count": 3}
            assert len(sensor.read_inf_page()) == 512
            assert sensor.handshake() is True  # R503 has its own HandShake instruction
            device.finger(True, "S0001", 1)
            sensor.gen_img()
            assert sensor.up_image().shape == (192, 192)
    finally:
        hw_sim.remove_device("r503")


def test_spy_url_records_the_traffic(tmp_path: Path) -> None:
    trace = tmp_path / "trace.txt"
    with SimProcess(tmp_path / "control.sock", "--no-timing") as sim:
        url = f"spy://{sim.device}?file={trace}"
        with Sensor.open(url, timing=FAST_TIMING, negotiate=False) as sensor:
            assert sensor.template_num() == 0
    text = " ".join(trace.read_text().lower().split())
    assert "tx 0000 ef 01 ff ff ff ff 01 00 03 1d 00 21" in text  # the TemplateNum command went out
    assert "rx 0000 ef 01 ff ff ff ff 07 00 05 00 00" in text  # and its answer came back
