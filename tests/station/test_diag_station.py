"""``livescan diag capture`` and ``gpio`` through a running station: an in-process ``Station`` (the
daemon's own parts: lock, sensor worker on an in-process simulator, processor, workflow, status
panel and TOUCH line on gpiozero's mock pins, the kiosk API on uvicorn) and the diag command line
against it. The daemon takes the test capture and drives the pins; the port is opened once.
"""

from __future__ import annotations

import base64
import io
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from daemon_helpers import FORM, OFFICER, KioskClient, write_toml
from diag_helpers import sim_device
from gpiozero.pins.mock import MockFactory
from PIL import Image

from drivers.sensor import FAST_TIMING
from station.config import StationConfig
from station.daemon import Station
from station.diag.cli import diag
from station.diag.daemon import TOKEN_FILE, TOKEN_HEADER
from station.operators import OperatorFile
from station.systemd import Notifier
from sync.keyring import create_key_file

LEDS = {"led_ready": 17, "led_busy": 27, "led_good": 22, "led_error": 23}
BUZZER, TOUCH = 24, 25


@dataclass
class Running:
    station: Station
    config: StationConfig
    config_file: Path
    factory: MockFactory
    url: str  # the kiosk API, no trailing slash
    sensor_url: str

    def token(self) -> str:
        return (self.config.storage.data_dir / TOKEN_FILE).read_text().strip()

    def diag(self, path: str, body: dict[str, object], token: str | None = None) -> requests.Response:
        headers = {TOKEN_HEADER: token if token is not None else self.token()}
        return requests.post(self.url + path, json=body, headers=headers, timeout=120)

    def cli(self, *arguments: str) -> object:
        return CliRunner().invoke(diag, ["--config", str(self.config_file), *arguments])

    def connects(self) -> dict[str, int]:
        assert self.station.sensor is not None
        return self.station.sensor.status()["counters"]


def _form() -> dict[str, object]:
    return {"form": {**FORM, "arrest_date": date.today().isoformat()}}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("diag-station")
    for file in ("ca.pem", "station.pem", "station.key"):
        (root / file).write_text("unused: the centre is never reached\n")
    sensor_url = f"sim://diag-station-{uuid.uuid4().hex[:8]}?timing=0"
    config = StationConfig.for_demo(
        root / "data",
        sensor_url=sensor_url,
        centre_url="https://127.0.0.1:9",
        ca=root / "ca.pem",
        cert=root / "station.pem",
        key=root / "station.key",
        port=_free_port(),
        sensor__negotiate=False,
        gpio__enabled=True,
        gpio__pin_factory="mock",
        **{f"gpio__{name}": pin for name, pin in LEDS.items()},
        gpio__buzzer=BUZZER,
        gpio__touch=TOUCH,
    )
    config.storage.data_dir.mkdir(parents=True)
    create_key_file(config.storage.key_file)
    OperatorFile(config.storage.operators).add(*OFFICER)
    factory = MockFactory()
    station = Station(
        config, processor_mode="thread", sensor_timing=FAST_TIMING, notifier=Notifier({}), pin_factory=factory
    )
    station.start()
    try:
        assert station.sensor is not None and station.sensor.wait_ready(30), station.sensor.status()
        yield Running(
            station, config, write_toml(config, root / "station.toml"), factory, station.url.rstrip("/"),
            sensor_url,
        )  # fmt: skip
    finally:
        station.stop()
        factory.reset()
    assert not (config.storage.data_dir / TOKEN_FILE).exists()  # removed at shutdown


@pytest.fixture
def booking(running: Running) -> Iterator[KioskClient]:
    """A booking open at the kiosk (cancelled afterwards)."""
    kiosk = KioskClient(running.url, sim=None)  # type: ignore[arg-type]
    kiosk.sign_in()
    opened = kiosk.call(
        "POST", "/api/booking", json={"form": {**FORM, "arrest_date": date.today().isoformat()}}
    )
    assert opened.status_code == 200, opened.text
    try:
        yield kiosk
    finally:
        if kiosk.call("GET", "/api/booking").json().get("state") in ("capturing", "ready"):
            assert kiosk.call("POST", "/api/booking/cancel").status_code == 200


def test_the_diag_token_is_the_daemons_own_and_required(running: Running) -> None:
    path = running.config.storage.data_dir / TOKEN_FILE
    assert path.stat().st_mode & 0o777 == 0o600 and path.stat().st_uid == os.getuid()
    assert len(running.token()) >= 40
    sensor = running.url + "/api/diag/sensor"
    missing = requests.get(sensor, timeout=10)
    assert missing.status_code == 401 and TOKEN_FILE in missing.json()["detail"]
    wrong = requests.get(sensor, headers={TOKEN_HEADER: "x" * len(running.token())}, timeout=10)
    assert wrong.status_code == 403
    assert running.diag("/api/diag/capture", {"wait_s": 1}, token="nope").status_code == 403
    assert requests.post(running.url + "/api/diag/gpio", json={}, timeout=10).status_code == 401
    right = requests.get(sensor, headers={TOKEN_HEADER: running.token()}, timeout=10)
    assert right.status_code == 200 and right.json()["module"]["capacity"] == 1000


def test_capture_and_gpio_are_refused_while_a_booking_is_open(running: Running, booking: KioskClient) -> None:
    refused = running.diag("/api/diag/capture", {"wait_s": 1})
    assert refused.status_code == 409 and "officer's capture has priority" in refused.json()["detail"]
    assert running.diag("/api/diag/gpio", {"blink_s": 0.01}).status_code == 409
    result = running.cli("capture", "--out", str(running.config_file.with_name("never.png")), "--wait", "1")
    assert result.exit_code == 0, result.output  # skipped, not failed
    assert "[skip] capture/capture" in result.output and "officer's capture has priority" in result.output
    assert not running.config_file.with_name("never.png").exists()
    assert booking.call("GET", "/api/booking").json()["state"] == "capturing"  # the booking is untouched


def test_a_booking_opened_during_a_test_capture_takes_the_sensor(running: Running) -> None:
    sim_device(running.sensor_url).finger(False)
    worker = running.station.sensor
    assert worker is not None
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(running.diag, "/api/diag/capture", {"wait_s": 60})
        for _ in range(500):  # until the test capture holds the worker
            if worker.state == "busy" or waiting.done():
                break
            time.sleep(0.02)
        assert worker.state == "busy", waiting.result().text
        kiosk = KioskClient(running.url, sim=None)  # type: ignore[arg-type]
        kiosk.sign_in()
        assert kiosk.call("POST", "/api/booking", json=_form()).status_code == 200
        try:
            answer = waiting.result(timeout=30)
            assert answer.status_code == 409 and "a booking was opened" in answer.json()["detail"]
            fingers = {
                finger["fgp"]: finger["state"]
                for finger in kiosk.call("GET", "/api/booking").json()["fingers"]
            }
            assert fingers[1] in ("lifting", "waiting")  # the officer's job runs on the sensor
        finally:
            assert kiosk.call("POST", "/api/booking/cancel").status_code == 200


def test_diag_capture_through_the_daemon_writes_the_png_and_never_reopens_the_port(
    running: Running, tmp_path: Path
) -> None:
    before = running.connects()
    device = sim_device(running.sensor_url)
    device.finger(True, "S0002", 2)
    out = tmp_path / "print.png"
    result = running.cli("capture", "--out", str(out), "--wait", "10")
    assert result.exit_code == 0, result.output
    assert "capture/capture: NFIQ 2 " in result.output and "(taken by the station daemon)" in result.output
    assert "line limit 6.95 s at 57600 baud" in result.output  # 128-byte packets, as configured
    picture = Image.open(out)
    assert picture.size == (256, 288) and picture.mode == "RGB"
    after = running.connects()
    assert after["connects"] == before["connects"] == 1 and after["disconnects"] == 0
    assert after["jobs"] > before["jobs"]  # the capture ran as a job on the daemon's worker
    assert device.opened_by == os.getpid()  # still the worker's one open port

    answer = running.diag("/api/diag/capture", {"wait_s": 5})
    assert answer.status_code == 200
    figures = answer.json()
    assert figures["minutiae"] > 5 and figures["line_limit_s"] == pytest.approx(6.95, abs=0.01)
    assert Image.open(io.BytesIO(base64.b64decode(figures["png"]))).size == (256, 288)
    assert running.station.outbox is not None
    audited = [e for e in running.station.outbox.audit_trail() if e.event == "diag capture"]
    assert len(audited) == 2 and all(e.actor == "diag" and "minutiae" in (e.detail or "") for e in audited)
    device.finger(False)


def test_diag_capture_without_a_finger_fails_plainly(running: Running, tmp_path: Path) -> None:
    sim_device(running.sensor_url).finger(False)
    result = running.cli("capture", "--out", str(tmp_path / "none.png"), "--wait", "0.5")
    assert result.exit_code == 1
    assert "[FAIL] capture/capture" in result.output and "no finger on the sensor within" in result.output


def test_diag_gpio_through_the_daemon_cues_each_led_beeps_and_watches_touch(running: Running) -> None:
    factory = running.factory
    for pin in (*LEDS.values(), BUZZER):
        factory.pin(pin).clear_states()
    touch = factory.pin(TOUCH)
    done = threading.Event()

    def finger_taps() -> None:  # a technician tapping the glass while the line is watched
        for _ in range(2000):
            if done.is_set():
                return
            touch.drive_low()
            done.wait(0.05)
            touch.drive_high()
            done.wait(0.05)

    tapping = threading.Thread(target=finger_taps, daemon=True)
    tapping.start()
    try:
        result = running.cli("gpio", "--watch", "1", "--blink", "0.05")
    finally:
        done.set()
        tapping.join(5)
    assert result.exit_code == 0, result.output
    for name, pin in LEDS.items():
        assert f"[ok  ] gpio/{name}: the daemon's status panel showed" in result.output
        assert True in [state.state for state in factory.pin(pin).states], f"{name} (GPIO {pin}) never lit"
    assert True in [state.state for state in factory.pin(BUZZER).states], "the buzzer never sounded"
    assert f"[ok  ] gpio/touch: GPIO {TOUCH} saw a finger" in result.output
    for _ in range(250):  # the panel is back to "off" once the listener has the last cue
        if not any(factory.pin(pin).state for pin in LEDS.values()):
            break
        time.sleep(0.02)
    assert not any(factory.pin(pin).state for pin in LEDS.values())
    assert running.connects()["connects"] == 1
    assert running.station.outbox is not None
    assert any(e.event == "diag gpio" for e in running.station.outbox.audit_trail())
