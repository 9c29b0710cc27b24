"""The station daemon: a real `livescan station run` process against a real centre and a simulator on
a pty; in-process ``Station`` for start-up refusals and configuration audit; the logging filter."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import io
import json
import logging
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from daemon_helpers import (
    FORM,
    OFFICER,
    SECRETS,
    KioskClient,
    NotifyListener,
    station_config,
    surroundings,
    write_toml,
)

import hw_sim
from drivers.sensor import FAST_TIMING
from station.config import StationConfig
from station.daemon import (
    REDACTED,
    NotLoopback,
    PersonalDataFilter,
    Station,
    StationBusy,
    StationError,
    configure_logging,
    loopback_host,
)
from station.operators import OperatorFile
from station.systemd import Notifier
from sync.keyring import KeyFile, create_key_file
from sync.lock import ExclusiveLock
from sync.outbox import ACCEPTED, Outbox

REPO = Path(__file__).resolve().parents[2]
RUN = [sys.executable, "-m", "station.station_cli", "run", "--config"]


def _port_open(url: str) -> bool:
    host, port = url.split("//")[1].rstrip("/").rsplit(":", 1)
    with socket.socket() as probe:
        probe.settimeout(2.0)
        return probe.connect_ex((host, int(port))) == 0


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short directory: unix socket paths must stay under 108 bytes."""
    with tempfile.TemporaryDirectory(prefix="lsd-") as directory:
        yield Path(directory)


@pytest.mark.timeout(420)
def test_station_run_serves_books_refuses_a_second_instance_and_stops_on_sigterm(short_tmp: Path) -> None:
    with surroundings(short_tmp) as where:
        config_path = write_toml(station_config(where, short_tmp / "station"), short_tmp / "station.toml")
        notify = NotifyListener(short_tmp / "notify.sock")
        environment = {**os.environ, "NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "2000000"}
        environment.pop("JOURNAL_STREAM", None)
        log_path = short_tmp / "daemon.log"
        with log_path.open("wb") as log_file:
            daemon = subprocess.Popen(
                [*RUN, str(config_path)], stdout=log_file, stderr=subprocess.STDOUT, env=environment, cwd=REPO
            )
        try:
            try:
                ready = notify.wait_for("READY", timeout=120)
            except AssertionError as exc:
                output = log_path.read_text(encoding="utf-8", errors="replace")
                raise AssertionError(f"{exc}; exit {daemon.poll()}; output: {output[-3000:]}") from None
            url = ready["STATUS"].removeprefix("kiosk at ")
            assert url.startswith("http://127.0.0.1:")
            assert requests.get(url + "api/station", timeout=10).json()["ori"] == "NY0303000"
            assert notify.wait_for("WATCHDOG", timeout=30) == {"WATCHDOG": "1"}

            second = subprocess.run(
                [*RUN, str(config_path)],
                capture_output=True,
                text=True,
                timeout=60,
                env=environment,
                cwd=REPO,
            )
            assert second.returncode == 1
            assert "StationBusy" in second.stderr and f"pid {daemon.pid}" in second.stderr

            client = KioskClient(url, where.sim)
            client.sign_in()
            tcn = client.book("S0002")
            client.wait_for_queue_state(tcn, (ACCEPTED,))

            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=60) == 0
            assert notify.wait_for("STOPPING", timeout=5)["STOPPING"] == "1"
            assert not _port_open(url)
            with ExclusiveLock(short_tmp / "station" / "station.lock"):
                pass  # released
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait(10)
            notify.close()
        output = log_path.read_text(encoding="utf-8", errors="replace")
        assert f"{tcn} accepted by the centre" in output
        assert "station stopped" in output
        leaked = [secret for secret in SECRETS if secret in output]
        assert leaked == [], f"personal data in the daemon's log: {leaked}"
        assert all(not line.startswith(" ") for line in output.splitlines())  # one line per event


@pytest.mark.timeout(180)
def test_station_in_process_unlocks_the_sensor_and_audits_configuration_changes(tmp_path: Path) -> None:
    name = f"daemon-{os.getpid()}"
    password = 0x5EC12E7
    config = _in_process_config(
        tmp_path, name, sim_query=f"&password={password}", **{"sensor.password": password}
    )
    first = Station(config, processor_mode="thread", sensor_timing=FAST_TIMING, notifier=Notifier({}))
    first.start()
    try:
        assert requests.get(first.url + "api/station", timeout=10).status_code == 200
        assert first.sensor is not None and first.sensor.wait_ready(30), first.sensor.status()
        assert hw_sim.device(name).status()["params"]["password_verified"]  # sensor.password was used
        assert first.healthy()
        with pytest.raises(StationBusy, match="another station daemon"):
            Station(config, processor_mode="thread", notifier=Notifier({})).start()
    finally:
        first.stop()
    assert not first.healthy()
    changed = config.updated({"capture.quality_threshold": 45, "kiosk.idle_lock_minutes": 10})
    second = Station(changed, processor_mode="thread", sensor_timing=FAST_TIMING, notifier=Notifier({}))
    second.start()
    second.stop()
    outbox = Outbox(config.storage.outbox, KeyFile(config.storage.key_file))
    try:
        entries = [(entry.event, entry.detail) for entry in outbox.audit_trail() if entry.actor == "station"]
    finally:
        outbox.close()
    assert entries[0][0] == "configuration applied"
    assert entries[1] == (
        "configuration changed",
        "2 key(s): capture.quality_threshold, kiosk.idle_lock_minutes",
    )
    assert len(entries) == 2  # an unchanged start adds nothing
    # The stored digests are keyed with the station's 0600 secret: a 32-bit password hashed plainly
    # could be found by trying every value.
    salt = config.storage.data_dir / "config.salt"
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600
    digests = json.loads((config.storage.data_dir / "config.applied.json").read_text())
    plain = hashlib.sha256(json.dumps(password).encode()).hexdigest()[:16]
    keyed = hmac.new(salt.read_bytes(), json.dumps(password).encode(), "sha256").hexdigest()[:16]
    assert digests["sensor.password"] == keyed != plain


@pytest.mark.timeout(180)
def test_a_station_refuses_an_unaudited_booking_and_a_dead_processor_stops_the_watchdog(
    tmp_path: Path,
) -> None:
    config = _in_process_config(tmp_path, f"health-{os.getpid()}")
    OperatorFile(config.storage.operators).add(OFFICER[0], OFFICER[1], OFFICER[2], OFFICER[3])
    pings: list[int] = []
    station = Station(config, processor_mode="thread", sensor_timing=FAST_TIMING, notifier=Notifier({}))
    station.watchdog.notifier.watchdog = lambda: pings.append(1) or True  # type: ignore[method-assign]
    station.start()
    try:
        kiosk = requests.Session()
        signed = kiosk.post(station.url + "api/session", json={"operator": OFFICER[0], "pin": OFFICER[3]})
        assert signed.status_code == 200
        # the daemon's workflow is given an audit that fails loudly (it used to be logged and ignored)
        with sqlite3.connect(config.storage.outbox) as db:
            db.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        form = {**FORM, "arrest_date": date.today().isoformat()}
        refused = kiosk.post(station.url + "api/booking", json={"form": form}, timeout=30)
        assert refused.status_code == 503 and refused.json()["error"] == "audit_unavailable"
        assert station.workflow is not None and station.workflow.view() is None

        assert station.healthy() and station.watchdog.ping() and pings == [1]
        assert station.processor is not None
        station.processor.close()  # the processing thread ends: no more pings
        assert not station.healthy()
        assert not station.watchdog.ping() and pings == [1]
    finally:
        station.stop()


def test_a_missing_key_file_stops_the_start_with_the_command_to_run(tmp_path: Path) -> None:
    config = _in_process_config(tmp_path, "no-key")
    config.storage.key_file.unlink()
    with pytest.raises(StationError, match=r"`livescan queue --key-file \S+ key init`"):
        Station(config, processor_mode="thread", notifier=Notifier({})).start()
    with ExclusiveLock(config.storage.data_dir / "station.lock"):
        pass  # a failed start releases the lock


def test_a_busy_kiosk_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = _in_process_config(tmp_path, f"busy-{os.getpid()}", port=port)
        station = Station(config, processor_mode="thread", sensor_timing=FAST_TIMING, notifier=Notifier({}))
        with pytest.raises(StationError, match=f"cannot listen on 127.0.0.1:{port}.*kiosk.port"):
            station.start()
    assert station.sensor is not None and station.sensor.state == "stopped"  # the started parts stopped


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "kiosk.example", "::"])
def test_a_non_loopback_kiosk_host_is_refused(tmp_path: Path, host: str) -> None:
    with pytest.raises(NotLoopback, match=r"127\.0\.0\.1, ::1 or localhost"):
        loopback_host(host)
    config = _in_process_config(tmp_path, "open")
    exposed = dataclasses.replace(config, kiosk=dataclasses.replace(config.kiosk, host=host))
    with pytest.raises(NotLoopback):
        Station(exposed)


@pytest.mark.parametrize(
    ("host", "bound"), [("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1"), ("::1", "::1")]
)
def test_loopback_hosts_are_accepted(host: str, bound: str) -> None:
    assert loopback_host(host) == bound


# --- logging ---------------------------------------------------------------------------------------


def _capture_log() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", stream)
    return logging.getLogger("station.test"), stream


def test_the_filter_blanks_personal_values_binary_payloads_and_keeps_one_line() -> None:
    logger, stream = _capture_log()
    logger.info("sign-in by officer with pin=86420135")
    logger.info("form %s", {"name": "Beeblebrox, Zaphod", "dob": "1980-01-02", "sex": "M"})
    logger.info("frame %s template %s", np.zeros((288, 256), np.uint8), b"\x01\x02" * 400)
    logger.info("blob %s", "QUJD" * 40)
    try:
        raise ValueError('bad field "name": "Beeblebrox, Zaphod"\nsecond line')
    except ValueError:
        logger.exception("parsing failed")
    lines = stream.getvalue().splitlines()
    text = "\n".join(lines)
    for secret in ("86420135", "Beeblebrox", "Zaphod", "1980-01-02", "QUJDQUJD"):
        assert secret not in text
    assert f"pin={REDACTED}" in lines[0]
    assert "'sex': 'M'" in lines[1]  # other values stay readable
    assert "<array 288x256>" in lines[2] and "<800 bytes>" in lines[2]
    assert "<data>" in lines[3]
    assert len(lines) == 5 and "Traceback" in lines[4] and "ValueError" in lines[4]


def test_the_filter_covers_other_libraries_loggers() -> None:
    _, stream = _capture_log()
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "POST /api/session?pin=1234 HTTP/1.1" 200')
    assert "1234" not in stream.getvalue() and "POST /api/session" in stream.getvalue()


def test_journald_gets_a_priority_prefix_instead_of_the_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    logger, stream = _capture_log()
    logger.warning("sensor lost")
    logger.error("dead letter")
    assert stream.getvalue().splitlines() == [
        "<4>WARNING station.test: sensor lost",
        "<3>ERROR station.test: dead letter",
    ]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_filter_is_a_plain_logging_filter() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token: %s", ("s3cr3t",), None)
    assert PersonalDataFilter().filter(record)
    assert record.getMessage() == f"token: {REDACTED}"


# --- helpers ---------------------------------------------------------------------------------------


_SIM_DEVICES: list[str] = []  # made by _in_process_config; removed after each test


@pytest.fixture(autouse=True)
def _remove_sim_devices() -> Iterator[None]:
    yield
    while _SIM_DEVICES:
        hw_sim.remove_device(_SIM_DEVICES.pop())


def _in_process_config(root: Path, name: str, sim_query: str = "", **changes: object) -> StationConfig:
    """A station on an in-process simulator (``sim://``, ``sim_query`` appended to its URL) whose centre
    is not there (sync retries)."""
    _SIM_DEVICES.append(name)
    data = root / "station"
    data.mkdir(parents=True, exist_ok=True)
    for file in ("ca.pem", "station.pem", "station.key"):
        (root / file).write_text("unused: the centre is never reached\n")
    config = StationConfig.for_demo(
        data,
        sensor_url=f"sim://{name}?timing=0{sim_query}",
        centre_url="https://127.0.0.1:9",
        ca=root / "ca.pem",
        cert=root / "station.pem",
        key=root / "station.key",
        sensor__negotiate=False,
        **{key.replace(".", "__"): value for key, value in changes.items()},
    )
    create_key_file(config.storage.key_file)
    return config
