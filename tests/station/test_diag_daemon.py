"""``livescan diag`` beside a running station daemon: it asks the daemon (``/api/diag/sensor``, with
the token the daemon wrote) and never opens the port a second time; module changes and recording
are refused with the reason. Capture and GPIO through a whole station: ``test_diag_station.py``.

The "daemon" here is the daemon's own parts: its lock on ``<data_dir>/station.lock``, a real
``SensorWorker`` owning a simulated module, and the diag router served by uvicorn on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from click.testing import CliRunner
from diag_helpers import TIMING, WINDOW, sim_device, sim_url
from fastapi import FastAPI

from station.config import StationConfig
from station.daemon import ApiServer
from station.diag.api import router
from station.diag.cli import diag
from station.diag.daemon import LOCK_FILE, TOKEN_FILE, TOKEN_HEADER, find_daemon, lock_holder
from station.diag.report import FAIL, OK
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
    (tmp_path / "data").mkdir()
    server = diag_server(SimpleNamespace(workflow=SimpleNamespace(sensor=worker), data_dir=tmp_path / "data"))
    lock = ExclusiveLock(tmp_path / "data" / LOCK_FILE)
    lock.acquire()
    config, path = write_config(tmp_path, url, server.port)
    try:
        yield RunningDaemon(config, path, worker, server.url.rstrip("/"))
    finally:
        lock.release()
        server.stop()
        worker.stop()


def diag_server(services: SimpleNamespace) -> ApiServer:
    """The diag router on uvicorn over ``services``, started (its lifespan writes the token)."""
    app = FastAPI()
    app.state.services = services
    app.include_router(router)
    server = ApiServer(app, "127.0.0.1", 0)
    server.start()
    return server


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


def test_the_diag_endpoints_need_the_token_the_daemon_wrote(daemon: RunningDaemon) -> None:
    token_file = daemon.config.storage.data_dir / TOKEN_FILE
    token = token_file.read_text().strip()
    assert token_file.stat().st_mode & 0o777 == 0o600
    sensor = daemon.url + "/api/diag/sensor"
    assert requests.get(sensor, timeout=10).status_code == 401
    assert requests.get(sensor, headers={TOKEN_HEADER: token[:-1] + "?"}, timeout=10).status_code == 403
    assert requests.get(sensor, headers={TOKEN_HEADER: token}, timeout=10).status_code == 200
    found = find_daemon(daemon.config)
    assert found is not None and found.token == token


def test_a_missing_token_file_is_named(daemon: RunningDaemon, tmp_path: Path) -> None:
    (daemon.config.storage.data_dir / TOKEN_FILE).unlink()
    findings = diagnostics(daemon, tmp_path).sensor()
    assert findings[0].status == FAIL and "HTTP 401" in findings[0].summary
    assert f"{TOKEN_FILE} is missing" in findings[0].summary


def test_the_token_lives_as_long_as_the_api_and_nothing_is_served_without_one(tmp_path: Path) -> None:
    server = diag_server(SimpleNamespace(workflow=SimpleNamespace(sensor=None), data_dir=tmp_path))
    try:
        assert (tmp_path / TOKEN_FILE).exists()
    finally:
        server.stop()
    assert not (tmp_path / TOKEN_FILE).exists()
    tokenless = diag_server(SimpleNamespace(workflow=SimpleNamespace(sensor=None)))  # no data_dir
    try:
        answer = requests.get(tokenless.url + "api/diag/sensor", headers={TOKEN_HEADER: "x"}, timeout=10)
        assert answer.status_code == 503 and "no diag token" in answer.json()["detail"]
    finally:
        tokenless.stop()


def test_module_changes_and_recording_are_refused_while_the_daemon_runs(
    daemon: RunningDaemon, tmp_path: Path
) -> None:
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
