"""``livescan diag gpio | network | queue | report | bundle | record``, against real things: mock
GPIO pins, a mutual-TLS server, a real outbox, a simulator on a pty, the spy transcript replayed."""

from __future__ import annotations

import json
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from diag_helpers import TIMING, WINDOW, fake_pi, sim_device, sim_url, tls_centre
from gpiozero.pins.mock import MockFactory
from outbox_helpers import SUBJECT_NAME, booking_transaction, new_outbox
from PIL import Image

from central.pki import StationName, init_pki
from drivers.replay import ReplayMismatch, ReplayPort, TranscriptError, read_transcript
from drivers.sensor import Sensor
from hw_sim.process import SimProcess
from station.config import StationConfig
from station.diag import bundle, record
from station.diag.cli import diag
from station.diag.gpio import check_gpio
from station.diag.network import check_network
from station.diag.queue import check_queue
from station.diag.report import FAIL, OK, SKIP, WARN, Finding, Report
from station.diag.runner import Diagnostics
from station.diag.system import SystemRoot

PINS = {"led_ready": 17, "led_busy": 27, "led_good": 22, "led_error": 23, "buzzer": 24, "touch": 25}
STATION = StationName("NY0303000", "K01")


def named(findings: list[Finding], name: str) -> Finding:
    return next(f for f in findings if f.name == name)


# --- gpio --------------------------------------------------------------------------------------


@pytest.fixture
def factory():
    mock = MockFactory()
    yield mock
    mock.reset()


def test_each_led_and_the_buzzer_go_on_then_off_in_turn(factory: MockFactory) -> None:
    lit_while_sleeping: list[list[int]] = []

    def sleep(_: float) -> None:  # what is on at each pause, as the technician would see it
        lit_while_sleeping.append([pin for pin in (17, 27, 22, 23, 24) if factory.pin(pin).state])

    findings = check_gpio({k: v for k, v in PINS.items() if k != "touch"}, factory=factory, sleep=sleep)
    assert lit_while_sleeping == [[17], [27], [22], [23], [24]]
    for pin in (17, 27, 22, 23, 24):
        factory.pin(pin).assert_states([False, True, False])
    assert [f.name for f in findings] == ["led_ready", "led_busy", "led_good", "led_error", "buzzer"]
    assert all(f.status == OK for f in findings)


def test_touch_presses_are_counted_during_the_watch(factory: MockFactory) -> None:
    touch = factory.pin(25)
    polls = iter(range(1000))

    def sleep(_: float) -> None:  # a finger goes on and off twice while the line is watched
        step = next(polls)
        if step in (3, 10):
            touch.drive_low()
        if step in (6, 13):
            touch.drive_high()

    finding = named(check_gpio({"touch": 25}, factory=factory, watch_s=0.4, sleep=sleep), "touch")
    assert finding.status == OK and finding.data["presses"] == 2
    assert "saw a finger 2 time(s)" in finding.summary


def test_no_touch_and_a_stuck_touch_line_are_warnings(factory: MockFactory) -> None:
    quiet = named(check_gpio({"touch": 25}, factory=factory, watch_s=0.1, sleep=lambda _: None), "touch")
    assert quiet.status == WARN and "no finger seen on GPIO 25" in quiet.summary
    factory.reset()
    high = named(
        check_gpio({"touch": 25}, factory=factory, touch_active_low=False, watch_s=0.1, sleep=lambda _: None),
        "touch",
    )
    assert high.status == WARN and high.data["active_low"] is False and "go high" in high.advice
    factory.reset()
    held = named(
        check_gpio({"touch": 25}, factory=factory, watch_s=0.1, sleep=lambda _: factory.pin(25).drive_low()),
        "touch",
    )  # the line goes "pressed" at once and stays there
    assert held.status == WARN and "reads a finger all the time" in held.summary
    assert "touch_active_low" in held.advice


def test_a_pin_in_use_and_an_unknown_factory_fail_clearly(factory: MockFactory) -> None:
    from gpiozero import LED

    holder = LED(17, pin_factory=factory)
    try:
        busy = named(check_gpio({"led_ready": 17}, factory=factory, sleep=lambda _: None), "led_ready")
    finally:
        holder.close()
    assert busy.status == FAIL and "GPIO 17 cannot be used" in busy.summary
    unknown = check_gpio({"led_ready": 17}, factory="nosuch")
    assert unknown[0].status == FAIL and "no pin factory 'nosuch'" in unknown[0].summary


# --- capture -----------------------------------------------------------------------------------


def test_a_test_capture_is_saved_with_its_minutiae_and_scores(tmp_path: Path, pki: Path) -> None:
    url = sim_url()
    config = station_config(tmp_path, pki, url, "https://centre.example:8443", sensor__negotiate=False)
    checks = Diagnostics(config, SystemRoot(tmp_path), window=WINDOW, timing=TIMING)
    refused = checks.capture(tmp_path / "none.png", 0.5)  # nobody touches the glass
    assert refused[0].status == FAIL and "no finger on the sensor within" in refused[0].summary
    sim_device(url).finger(True, "S0002", 2)
    finding = checks.capture(tmp_path / "print.png", 5.0)[0]
    assert finding.status in (OK, WARN), finding
    assert finding.data["nfiq2"] is not None and finding.data["minutiae"] > 5
    assert finding.data["line_limit_s"] == pytest.approx(6.95, abs=0.01)  # 128-byte packets at 57600
    assert f"NFIQ 2 {finding.data['nfiq2']}, {finding.data['minutiae']} minutiae" in finding.summary
    picture = Image.open(tmp_path / "print.png")
    pixels = np.asarray(picture)
    assert picture.size == (256, 288) and picture.mode == "RGB"
    marked = (pixels[..., 0].astype(int) - pixels[..., 2]) > 100  # the red ridge-ending marks
    assert marked.sum() > 50


# --- network -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pki")
    init_pki(root, stations=[STATION], site="test")
    return root


def network(centre, **options: object) -> list[Finding]:
    return check_network(centre.url, ca=centre.ca, cert=centre.cert, key=centre.key, timeout=5, **options)


def test_network_all_good(pki: Path) -> None:
    with tls_centre(pki) as centre:
        findings = network(centre)
    assert [(f.name, f.status) for f in findings] == [
        ("certificate", OK), ("dns", OK), ("tcp", OK), ("tls", OK), ("clock", OK),
    ]  # fmt: skip
    assert "127.0.0.1" in named(findings, "dns").summary
    assert "mutual TLS" in named(findings, "tls").summary
    assert named(findings, "certificate").data["days_left"] >= 364


def test_clock_skew_over_a_minute_is_a_warning(pki: Path) -> None:
    with tls_centre(pki, clock_offset_s=-300) as centre:
        clock = named(network(centre), "clock")
    assert clock.status == WARN and "ahead of the centre's" in clock.summary
    assert 295 <= clock.data["skew_s"] <= 305 and "timedatectl set-ntp true" in clock.advice


def test_a_certificate_expiring_soon_is_a_warning(pki: Path) -> None:
    with tls_centre(pki) as centre:
        later = lambda: datetime.now(UTC) + timedelta(days=350)  # noqa: E731
        expiring = named(network(centre, clock=later), "certificate")
        gone = named(network(centre, clock=lambda: datetime.now(UTC) + timedelta(days=400)), "certificate")
    assert expiring.status == WARN and "expires in 1" in expiring.summary
    assert gone.status == FAIL and "expired" in gone.summary


def test_a_certificate_from_another_ca_is_refused_by_the_centre(pki: Path, tmp_path: Path) -> None:
    init_pki(tmp_path / "other", stations=[STATION], site="other")
    with tls_centre(pki) as centre:
        stranger = check_network(
            centre.url, ca=centre.ca, cert=tmp_path / "other/stations/NY0303000-K01.pem",
            key=tmp_path / "other/stations/NY0303000-K01.key", timeout=5,
        )  # fmt: skip
        untrusted = check_network(
            centre.url, ca=tmp_path / "other/ca.pem", cert=centre.cert, key=centre.key, timeout=5
        )
    tls = named(stranger, "tls")
    assert tls.status == FAIL and "did not accept this station's certificate" in tls.advice
    assert named(untrusted, "tls").status == FAIL
    assert "not trusted" in named(untrusted, "tls").summary


def test_nobody_listening_and_an_unknown_name(pki: Path) -> None:
    with tls_centre(pki) as centre:
        port = centre.url.rsplit(":", 1)[1]
    closed = check_network(f"https://127.0.0.1:{port}", ca=centre.ca, cert=centre.cert, key=centre.key)
    assert named(closed, "tcp").status == FAIL and "no TCP connection" in named(closed, "tcp").summary
    unknown = check_network("https://nosuchhost.invalid:8443", ca=centre.ca, cert=centre.cert, key=centre.key)
    assert named(unknown, "dns").status == FAIL and "does not resolve" in named(unknown, "dns").summary
    assert [f.name for f in unknown] == ["certificate", "dns"]


# --- queue -------------------------------------------------------------------------------------


def test_queue_counts_oldest_age_and_dead_letters_without_personal_data(tmp_path: Path) -> None:
    outbox = new_outbox(tmp_path)
    queued = outbox.submit(booking_transaction().data, actor="officer")
    dead = outbox.submit(booking_transaction().data, actor="officer")
    claim = outbox.claim("worker", timedelta(minutes=5))
    assert claim is not None and claim.tcn == queued
    outbox.retry_later(claim, outbox._clock() + timedelta(hours=1), "HTTP 503")
    claim = outbox.claim("worker", timedelta(minutes=5))
    assert claim is not None and claim.tcn == dead
    outbox.give_up(claim, "HTTP 409 conflict")
    outbox.close()
    later = lambda: datetime.now(UTC) + timedelta(hours=30)  # noqa: E731
    findings = check_queue(tmp_path / "outbox.db", tmp_path / "outbox.key", clock=later)
    assert named(findings, "counts").data["queued"] == 1 and named(findings, "counts").data["dead"] == 1
    oldest = named(findings, "oldest")
    assert oldest.status == WARN and oldest.data["tcn"] == queued and 29.9 < oldest.data["age_hours"] < 30.1
    assert "HTTP 503" in oldest.advice
    letter = named(findings, "dead letter")
    assert letter.data == {"tcn": dead, "state": "dead", "attempts": 1, "reason": "HTTP 409 conflict"}
    assert f"livescan queue retry {dead}" in letter.advice
    text = json.dumps([f.as_dict() for f in findings]).upper()
    assert SUBJECT_NAME.upper() not in text and "BEEBLEBROX" not in text


def test_no_outbox_yet_is_a_warning(tmp_path: Path) -> None:
    findings = check_queue(tmp_path / "outbox.db", tmp_path / "outbox.key")
    assert findings[0].status == WARN and "has not run" in findings[0].summary


# --- report and bundle -------------------------------------------------------------------------


def station_config(tmp_path: Path, pki: Path, url: str, centre_url: str, **changes: object) -> StationConfig:
    return StationConfig.for_demo(
        tmp_path / "data", sensor_url=url, centre_url=centre_url, ca=pki / "ca.pem",
        cert=pki / "stations/NY0303000-K01.pem", key=pki / "stations/NY0303000-K01.key", port=1, **changes,
    )  # fmt: skip


def test_report_runs_everything_and_fails_on_any_failure(tmp_path: Path, pki: Path) -> None:
    (tmp_path / "root").mkdir()
    with tls_centre(pki) as centre:
        healthy = Diagnostics(
            station_config(tmp_path, pki, sim_url(), centre.url), SystemRoot(tmp_path / "root"),
            window=WINDOW, timing=TIMING,
        ).report()  # fmt: skip
        broken = Diagnostics(
            station_config(tmp_path, pki, "/dev/ttyNOPE", centre.url), SystemRoot(tmp_path / "root"),
            window=WINDOW, timing=TIMING,
        ).report()  # fmt: skip
    checks = {f.check for f in healthy.findings}
    assert checks == {"station", "sensor", "capture", "gpio", "network", "queue"}
    assert healthy.exit_code == 0, healthy.text()
    assert named(healthy.findings, "gpio").status == SKIP
    assert broken.exit_code == 1 and broken.as_dict()["ok"] is False
    assert "[FAIL] sensor/open" in broken.text()


def test_cli_report_json_and_exit_status(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text(f'[sensor]\nurl = "/dev/ttyNOPE"\n[storage]\ndata_dir = "{tmp_path}/data"\n')
    result = CliRunner().invoke(diag, ["--config", str(config), "--root", str(tmp_path), "report", "--json"])
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert document["ok"] is False and document["counts"]["fail"] >= 1
    assert {"check", "name", "status", "summary", "advice", "data"} <= set(document["findings"][0])


def test_bundle_holds_redacted_config_logs_report_versions_and_nothing_personal(
    tmp_path: Path, pki: Path
) -> None:
    fake_pi(tmp_path / "root", "Raspberry Pi 5 Model B Rev 1.0")
    (tmp_path / "root/etc").mkdir(parents=True, exist_ok=True)
    (tmp_path / "root/etc/os-release").write_text('PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\n')
    config = station_config(
        tmp_path, pki, sim_url(), "https://centre.example:8443", sensor__password=0x5EC12E7
    )
    outbox = new_outbox(config.storage.data_dir)
    outbox.submit(booking_transaction().data, actor="officer")
    outbox.close()
    report = Report([Finding("sensor", "probe", OK, "fine")])
    log = f"INFO station.daemon: booking 3 accepted\nINFO x: name={SUBJECT_NAME.split(',')[0]} pin=1234\n"
    out = tmp_path / "support.tar.gz"
    members = bundle.write_bundle(
        out, report=report, config=config, host=SystemRoot(tmp_path / "root"), logs=lambda: log
    )
    with tarfile.open(out) as archive:
        names = archive.getnames()
        files = {name.split("/", 1)[1]: archive.extractfile(name).read().decode() for name in names}
    assert names == members and set(files) == {"config.json", "report.json", "versions.json", "logs.txt"}
    assert json.loads(files["config.json"])["sensor"]["password"] == "(set)"
    assert json.loads(files["report.json"])["findings"][0]["summary"] == "fine"
    versions = json.loads(files["versions.json"])
    assert versions["board"] == "Raspberry Pi 5 Model B Rev 1.0" and versions["os"]["id"] == "debian"
    assert any(p.startswith("pyserial==") for p in versions["packages"]) and versions["python"]
    assert "booking 3 accepted" in files["logs.txt"] and "1234" not in files["logs.txt"]
    everything = "\n".join(files.values())
    key_text = config.storage.key_file.read_text()
    secrets = [str(0x5EC12E7), hex(0x5EC12E7), "Beeblebrox", "PRIVATE KEY", key_text.strip()[-20:]]
    assert not [secret for secret in secrets if secret.lower() in everything.lower()]
    assert out.stat().st_mode & 0o077 == 0


def test_bundle_without_journalctl_says_so(tmp_path: Path) -> None:
    out = tmp_path / "b.tar.gz"
    bundle.write_bundle(out, report=Report(), config=None, host=SystemRoot(tmp_path), logs=lambda: None)
    with tarfile.open(out) as archive:
        logs = next(
            archive.extractfile(m).read().decode()
            for m in archive.getmembers()
            if m.name.endswith("logs.txt")
        )
    assert logs.startswith("no logs: journalctl")


# --- record and replay -------------------------------------------------------------------------


def test_record_on_a_pty_then_replay_without_a_module(tmp_path: Path) -> None:
    transcript = tmp_path / "trace.txt"
    with SimProcess(tmp_path / "sim.sock", "--no-timing") as sim:
        recorded = record.record(sim.device, transcript, timing=TIMING)
    text = transcript.read_text()
    assert " TX   0000  EF 01 FF FF FF FF 01 00  07 13" in text  # VfyPwd went out first
    assert recorded["capacity"] == 1000
    replayed = record.replay_describe(transcript, timing=TIMING)
    assert replayed == recorded | {"port": None}
    port = ReplayPort.from_file(transcript)
    sensor = Sensor(port, timing=TIMING)
    sensor.probe(57600)
    with pytest.raises(ReplayMismatch, match="write #2 differs from the recording"):
        sensor.template_num()  # the recording checked the password next


def test_cli_record_refuses_urls_and_writes_a_transcript(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text(f'[sensor]\nurl = "{sim_url()}"\n[storage]\ndata_dir = "{tmp_path}/data"\n')
    refused = CliRunner().invoke(diag, ["--config", str(config), "record", str(tmp_path / "t.txt")])
    assert refused.exit_code == 1 and "record a serial device" in refused.output
    with SimProcess(tmp_path / "sim.sock", "--no-timing") as sim:
        done = CliRunner().invoke(
            diag, ["--config", str(config), "record", str(tmp_path / "t.txt"), "--url", sim.device]
        )
    assert done.exit_code == 0, done.output
    assert "recorded" in done.output and read_transcript((tmp_path / "t.txt").read_text())


def test_a_file_that_is_not_a_transcript_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TranscriptError, match="no traffic"):
        read_transcript("hello\n")


def test_cli_gpio_with_the_mock_pin_factory(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text(f'[gpio]\nenabled = true\nbuzzer = 0\n[storage]\ndata_dir = "{tmp_path}/data"\n')
    shared = MockFactory()  # gpiozero's local factories share their pins: this sees the CLI's
    shared.reset()
    arguments = [
        "--config",
        str(config),
        "--pin-factory",
        "mock",
        "gpio",
        "--watch",
        "0.05",
        "--blink",
        "0.01",
    ]
    result = CliRunner().invoke(diag, arguments)
    assert result.exit_code == 0, result.output
    for pin in (17, 27, 22, 23):
        shared.pin(pin).assert_states([False, True, False])
    assert "[WARN] gpio/touch: no finger seen on GPIO 25" in result.output
    assert "buzzer" not in result.output  # not wired (0)
    shared.reset()
