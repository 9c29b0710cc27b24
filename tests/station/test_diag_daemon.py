"""``livescan diag`` beside a running station daemon: it asks the daemon (``/api/diag/sensor``) and
never opens the port a second time; what needs the hardware is skipped or refused with the reason.

The "daemon" here is the daemon's own parts: its lock on ``<data_dir>/station.lock``, a real
``SensorWorker`` owning a simulated module, and the diag router served by uvicorn on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from diag_helpers import TIMING, WINDOW, sim_device, sim_url
from fastapi import FastAPI

from station.config import StationConfig
from station.daemon import ApiServer
from station.diag.api import router
from station.diag.cli import diag
from station.diag.daemon import LOCK_FILE, find_daemon, lock_holder
from station.diag.report import FAIL, OK, SKIP
from station.diag.runner import Diagnostics
from station.diag.system import SystemRoot
from station.sensor_worker import SensorWorker
from sync.lock import ExclusiveLock


@dataclass
class RunningDaemon:
    config: StationConfig
    config_file: Path
    worker: SensorWorker
    url: str


def write_config(tmp_path: Path, sensor_url: str, port: int, **extra: str) -> tuple[StationConfig, Path]:
    text = (
        f'[sensor]\nurl = "{sensor_url}"\n[storage]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[kiosk]\nport = {port}\n[gpio]\nenabled = true\npin_factory = "mock"\n'
    )
    path = tmp_path / "station.toml"
    path.write_text(text)
    from station.config import load_config

    return load_config(path), path


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[RunningDaemon]:
    url = sim_url()
    worker = SensorWorker(url, timing=TIMING, health_interval_s=30)
    worker.start()
    assert worker.wait_ready(10)
    app = FastAPI()
    app.state.services = SimpleNamespace(workflow=SimpleNamespace(sensor=worker))
    app.include_router(router)
    server = ApiServer(app, "127.0.0.1", 0)
    server.start()
    (tmp_path / "data").mkdir()
    lock = ExclusiveLock(tmp_path / "data" / LOCK_FILE)
    lock.acquire()
    config, path = write_config(tmp_path, url, server.port)
    try:
        yield RunningDaemon(config, path, worker, server.url.rstrip("/"))
    finally:
        lock.release()
        server.stop()
        worker.stop()


def diagnostics(daemon: RunningDaemon, tmp_path: Path) -> Diagnostics:
    return Diagnostics(daemon.config, SystemRoot(tmp_path), window=WINDOW, timing=TIMING)


def test_the_daemon_is_found_by_its_lock(daemon: RunningDaemon) -> None:
    import os

    found = find_daemon(daemon.config)
    assert found is not None and found.pid == os.getpid() and found.url == daemon.url
    assert lock_holder(daemon.config.storage.data_dir / LOCK_FILE) == os.getpid()


def test_the_sensor_is_asked_through_the_daemon_not_opened(daemon: RunningDaemon, tmp_path: Path) -> None:
    device = sim_device(daemon.config.sensor.url)
    findings = diagnostics(daemon, tmp_path).sensor()
    assert [(f.name, f.status) for f in findings] == [("daemon", OK), ("module", OK)]
    assert "sensor is ready" in findings[0].summary
    assert findings[1].data["capacity"] == 1000 and findings[1].data["templates_stored"] == 0
    assert daemon.worker.status()["counters"]["connects"] == 1
    assert device.opened_by is not None  # still the worker's port, never reopened


def test_a_disconnected_sensor_in_the_daemon_is_a_failure(daemon: RunningDaemon, tmp_path: Path) -> None:
    sim_device(daemon.config.sensor.url).unplug()
    assert daemon.worker.describe().exception(timeout=10) is not None  # the worker notices on its next use
    assert daemon.worker.state == "disconnected"
    findings = diagnostics(daemon, tmp_path).sensor()
    assert findings[0].status == FAIL and "disconnected" in findings[0].summary
    assert "systemctl stop livescan-station" in findings[0].advice


def test_capture_and_gpio_are_skipped_and_changes_refused(daemon: RunningDaemon, tmp_path: Path) -> None:
    checks = diagnostics(daemon, tmp_path)
    capture = checks.capture(tmp_path / "x.png", 1.0)
    assert capture[0].status == SKIP and "owns the sensor" in capture[0].summary
    assert not (tmp_path / "x.png").exists()
    gpio = checks.gpio()
    assert gpio[0].status == SKIP and "daemon drives the GPIO" in gpio[0].summary
    base = ["--config", str(daemon.config_file), "--root", str(tmp_path)]
    refused = CliRunner().invoke(diag, [*base, "sensor", "set-baud", "115200", "--yes"])
    assert refused.exit_code == 1 and "stop it (systemctl stop livescan-station)" in refused.output
    record = CliRunner().invoke(diag, [*base, "record", str(tmp_path / "t.txt")])
    assert record.exit_code == 1 and "owns the sensor" in record.output
    report = CliRunner().invoke(diag, [*base, "report"])
    assert "[ok  ] station/daemon: the station daemon runs" in report.output


def test_a_daemon_whose_api_does_not_answer(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    config, _ = write_config(tmp_path, sim_url(), 9)  # the discard port: nothing answers
    with ExclusiveLock(tmp_path / "data" / LOCK_FILE):
        findings = Diagnostics(config, SystemRoot(tmp_path), window=WINDOW, timing=TIMING).sensor()
    assert findings[0].status == FAIL and "does not answer" in findings[0].summary
    assert "not opened while the daemon runs" in findings[0].advice


def test_no_daemon_without_the_lock(tmp_path: Path) -> None:
    config, _ = write_config(tmp_path, sim_url(), 1)
    assert find_daemon(config) is None
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / LOCK_FILE).write_text("123\n")  # left behind by a daemon that stopped
    assert find_daemon(config) is None
