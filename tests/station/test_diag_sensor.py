"""``livescan diag sensor``: every failure cause reproduced (simulator faults, ptys with nothing or
garbage behind them, a fake Pi tree), each with its plain-language diagnosis."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from diag_helpers import (
    TIMING,
    WINDOW,
    fake_pi,
    fake_process,
    garbage_pty,
    link,
    silent_pty,
    sim_device,
    sim_url,
    write,
)

from drivers.codec import Register
from drivers.profiles import profile
from drivers.sensor import Sensor
from drivers.transport import open_port
from hw_sim import SimulatedDevice
from hw_sim.process import SimProcess
from station.diag.cli import diag
from station.diag.report import FAIL, OK, WARN, Finding
from station.diag.sensor import check_sensor, console_findings, probe
from station.diag.system import SystemRoot, candidate_ports

R307 = profile("r307")


def sensor_check(url: str, root: Path, **options: object) -> list[Finding]:
    return check_sensor(SystemRoot(root), url=url, model="r307", window=WINDOW, timing=TIMING, **options)


def finding(findings: list[Finding], name: str) -> Finding:
    matches = [f for f in findings if f.name == name]
    assert matches, f"no {name!r} finding in {[f.name for f in findings]}"
    return matches[0]


# --- the causes ---------------------------------------------------------------------------------


def test_a_healthy_module_is_described(tmp_path: Path) -> None:
    url = sim_url()
    store_one_template(url, 7)
    findings = sensor_check(url, tmp_path)
    assert finding(findings, "probe").status == OK
    module = finding(findings, "module")
    assert module.status == OK
    assert module.data["capacity"] == 1000 and module.data["templates_stored"] == 1
    assert module.data["security_level"] == 3 and module.data["packet_size"] == 128
    assert module.data["image"] == "256x288"
    assert "capacity 1000, 1 template(s) stored" in module.summary


def test_no_bytes_at_all_blames_wiring_power_or_console(tmp_path: Path) -> None:
    with silent_pty() as device:
        findings = sensor_check(device, tmp_path)
    probe_finding = finding(findings, "probe")
    assert probe_finding.status == FAIL
    assert "no bytes at all at any baud rate" in probe_finding.summary
    assert "wiring" in probe_finding.advice and "power" in probe_finding.advice
    assert "serial console" in probe_finding.advice
    assert len(probe_finding.data["attempts"]) == 12  # every 9600 x N rate was tried
    assert not any(f.name == "module" for f in findings)


def test_bytes_without_a_start_code_blame_the_baud_rate(tmp_path: Path) -> None:
    with garbage_pty() as device:
        findings = sensor_check(device, tmp_path)
    probe_finding = finding(findings, "probe")
    assert probe_finding.status == FAIL
    assert "bad start code" in probe_finding.summary and "baud rate mismatch" in probe_finding.summary
    assert {a["outcome"] for a in probe_finding.data["attempts"]} == {"garbage"}


def test_bad_checksums_blame_the_adapter_or_cable(tmp_path: Path) -> None:
    url = sim_url()
    sim_device_for(url).fault("corrupt", 100)
    findings = sensor_check(url, tmp_path)
    probe_finding = finding(findings, "probe")
    assert probe_finding.status == FAIL
    assert "bad checksums" in probe_finding.summary and "adapter or cable" in probe_finding.summary
    assert "57600" in probe_finding.summary
    assert "another USB-serial adapter" in probe_finding.advice


def test_dropped_bytes_are_damaged_packets_too(tmp_path: Path) -> None:
    url = sim_url()
    sim_device_for(url).fault("drop", 100)
    probe_finding = finding(sensor_check(url, tmp_path), "probe")
    assert probe_finding.status == FAIL and "adapter or cable" in probe_finding.summary


def test_noise_before_the_answer_is_no_fault(tmp_path: Path) -> None:
    url = sim_url()
    sim_device_for(url).fault("noise", 3)
    assert finding(sensor_check(url, tmp_path), "probe").status == OK


def test_a_wrong_password_is_named_and_candidates_are_tried(tmp_path: Path) -> None:
    url = sim_url(password="0x0BADCAFE")
    refused = finding(sensor_check(url, tmp_path), "probe")
    assert refused.status == FAIL
    assert "wrong password" in refused.summary and "sensor.password" in refused.advice
    found = sensor_check(url, tmp_path, candidates=[0x11111111, 0x0BADCAFE])
    unlocked = finding(found, "probe")
    assert unlocked.status == WARN and "candidate #2 works" in unlocked.advice
    shown = repr(found).replace(url, "URL").upper()
    assert "0BADCAFE" not in shown and str(0x0BADCAFE) not in shown  # named, never shown
    assert finding(found, "module").status == OK


def test_the_example_sketch_password_is_recognised(tmp_path: Path) -> None:
    url = sim_url(password="0x12345678")
    unlocked = finding(sensor_check(url, tmp_path), "probe")
    assert unlocked.status == WARN and "0x12345678 (left by an example sketch)" in unlocked.advice


def test_a_module_moved_to_another_baud_rate_is_found_there(tmp_path: Path) -> None:
    url = sim_url(baud_change="immediate")
    with Sensor.open(url, negotiate=False, timing=TIMING) as sensor:
        sensor.set_sys_para(Register.BAUD, 2)  # 19200, at once (the simulator's setting)
    findings = sensor_check(url, tmp_path)
    moved = finding(findings, "probe")
    assert moved.status == WARN
    assert "answers at 19200 baud, not at sensor.baud = 57600" in moved.advice
    assert [a["outcome"] for a in moved.data["attempts"]][:1] == ["silent"]
    assert finding(findings, "module").data["baudrate"] == 19200


def test_a_port_held_by_another_program_names_its_pid(tmp_path: Path) -> None:
    with silent_pty() as device:
        holder = open_port(device, 57600)
        try:
            findings = sensor_check(device, tmp_path)
        finally:
            holder.close()
    opened = finding(findings, "open")
    assert opened.status == FAIL
    assert opened.data["pid"] == os.getpid() and f"PID {os.getpid()}" in opened.summary


def test_the_simulator_on_a_pty_in_another_process(tmp_path: Path) -> None:
    with SimProcess(tmp_path / "sim.sock", "--no-timing") as sim:
        assert finding(sensor_check(sim.device, tmp_path), "probe").status == OK
        sim.control.fault("corrupt", 100)
        damaged = finding(sensor_check(sim.device, tmp_path), "probe")
    assert damaged.status == FAIL and "bad checksums" in damaged.summary


def store_one_template(url: str, page: int) -> None:
    with Sensor.open(url, negotiate=False, timing=TIMING) as sensor:
        sim_device(url).finger(True, "S0001", 3)
        sensor.gen_img()
        sensor.img2tz(1)
        sensor.store(page)


def sim_device_for(url: str) -> SimulatedDevice:  # the device exists once its URL is opened
    open_port(url, 57600).close()
    return sim_device(url)


# --- the port, the Pi and its consoles ---------------------------------------------------------


def test_pi5_uses_the_header_uart_not_serial0(tmp_path: Path) -> None:
    fake_pi(tmp_path, "Raspberry Pi 5 Model B Rev 1.0")
    write(tmp_path, "/dev/ttyUSB0", "")
    search = candidate_ports(SystemRoot(tmp_path), "/dev/livescan-sensor")
    assert [c.url for c in search.candidates] == ["/dev/livescan-sensor", "/dev/ttyAMA0", "/dev/ttyUSB0"]
    assert any("debug connector" in sentence for sentence in search.excluded)
    assert "/dev/serial0" not in [c.url for c in search.candidates]


def test_pi4_uses_serial0_and_never_the_bluetooth_uart(tmp_path: Path) -> None:
    fake_pi(tmp_path, "Raspberry Pi 4 Model B Rev 1.4")
    write(tmp_path, "/dev/ttyACM0", "")
    link(tmp_path, "/dev/livescan-sensor", "ttyS0")
    search = candidate_ports(SystemRoot(tmp_path), "/dev/livescan-sensor")
    assert [(c.url, c.device) for c in search.candidates] == [
        ("/dev/livescan-sensor", "/dev/ttyS0"),  # serial0 is the same device: listed once
        ("/dev/ttyACM0", "/dev/ttyACM0"),
    ]
    assert any("Bluetooth" in sentence for sentence in search.excluded)
    assert any("mini-UART" in sentence for sentence in search.excluded)


def test_the_configured_url_comes_first_even_when_missing(tmp_path: Path) -> None:
    search = candidate_ports(SystemRoot(tmp_path), "/dev/ttyNOPE")
    assert [c.url for c in search.candidates] == ["/dev/ttyNOPE"]
    findings = sensor_check("/dev/ttyNOPE", tmp_path)
    opened = finding(findings, "open")
    assert opened.status == FAIL and "no serial device at /dev/ttyNOPE" in opened.summary


def test_a_serial_console_on_the_port_is_a_failure(tmp_path: Path) -> None:
    fake_pi(tmp_path, "Raspberry Pi 4 Model B", cmdline="console=serial0,115200 console=tty1 rootwait")
    console = finding(console_findings(SystemRoot(tmp_path), "/dev/ttyS0"), "console")
    assert console.status == FAIL and "serial console is on /dev/ttyS0 (serial0)" in console.summary
    assert "/boot/firmware/cmdline.txt" in console.advice and "reboot" in console.advice
    write(tmp_path, "/boot/firmware/cmdline.txt", "console=tty1 rootwait\n")  # fixed, not rebooted
    pending = finding(console_findings(SystemRoot(tmp_path), "/dev/ttyS0"), "console")
    assert (
        pending.status == FAIL and pending.advice.startswith("already removed") and "reboot" in pending.advice
    )
    other = finding(console_findings(SystemRoot(tmp_path), "/dev/ttyAMA0"), "console")
    assert other.status == OK


def test_a_getty_holding_the_port_is_named(tmp_path: Path) -> None:
    fake_pi(tmp_path, "Raspberry Pi 5 Model B Rev 1.0")
    fake_process(tmp_path, 812, "agetty", "/dev/ttyAMA0")
    fake_process(tmp_path, 900, "bash", "/dev/pts/0")
    write(tmp_path, "/etc/systemd/system/getty.target.wants/serial-getty@ttyAMA0.service", "")
    holders = finding(console_findings(SystemRoot(tmp_path), "/dev/ttyAMA0"), "holders")
    assert holders.status == FAIL
    assert "PID 812 (agetty)" in holders.summary and "serial-getty@ttyAMA0.service" in holders.summary
    assert "systemctl disable --now serial-getty@ttyAMA0.service" in holders.advice
    assert holders.data["pids"] == [812]


# --- the command line --------------------------------------------------------------------------


def config_file(tmp_path: Path, url: str, **sensor: object) -> Path:
    lines = ["[sensor]", f'url = "{url}"', *(f"{key} = {value}" for key, value in sensor.items())]
    lines += ["[storage]", f'data_dir = "{tmp_path / "data"}"', "[kiosk]", "port = 1"]
    path = tmp_path / "station.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(tmp_path: Path, config: Path, *args: str, input: str | None = None):
    base = ["--config", str(config), "--root", str(tmp_path / "root"), "--window", str(WINDOW)]
    return CliRunner().invoke(diag, [*base, *args], input=input, catch_exceptions=False)


def test_cli_sensor_exit_status_and_json(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    with silent_pty() as device:
        result = run(tmp_path, config_file(tmp_path, device), "sensor")
    assert result.exit_code == 1
    assert "[FAIL] sensor/probe" in result.output and "no bytes at all" in result.output
    ok = run(tmp_path, config_file(tmp_path, sim_url()), "sensor", "--json")
    assert ok.exit_code == 0, ok.output
    assert '"name": "module"' in ok.output


def test_set_baud_needs_confirmation_and_explains_the_risk(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    url = sim_url()
    config = config_file(tmp_path, url)
    refused = run(tmp_path, config, "sensor", "set-baud", "115200", input="no\n")
    assert refused.exit_code == 1 and "not confirmed; nothing was changed" in refused.output
    assert "power cycle" in refused.output and "unreachable" in refused.output
    assert sim_device_for(url).status()["params"]["stored_baud"] == 57600
    typed = run(tmp_path, config, "sensor", "set-baud", "115200", input="r307\n")
    assert typed.exit_code == 0, typed.output
    status = sim_device(url).status()["params"]
    assert status["stored_baud"] == 115200 and status["baud"] == 57600  # from its next power-up
    assert "power-cycle the module" in typed.output
    bad = run(tmp_path, config, "sensor", "set-baud", "12345", "--yes")
    assert bad.exit_code == 1 and "9600 x N" in bad.output


def test_set_password_and_clear_library_with_yes(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    url = sim_url()
    store_one_template(url, 3)
    config = config_file(tmp_path, url)
    cleared = run(tmp_path, config, "sensor", "clear-library", "--yes")
    assert cleared.exit_code == 0 and "1 template(s) deleted" in cleared.output
    assert sim_device(url).status()["templates"] == 0
    changed = run(tmp_path, config, "sensor", "set-password", "0x2468", "--yes")
    assert changed.exit_code == 0 and "forgotten password" in changed.output
    assert sim_device(url).status()["params"]["password_set"]
    locked = run(tmp_path, config, "sensor")
    assert locked.exit_code == 1 and "wrong password" in locked.output
    unlocked = run(tmp_path, config_file(tmp_path, url, password="0x2468"), "sensor")
    assert unlocked.exit_code == 0, unlocked.output


def test_probe_attempts_are_bounded(tmp_path: Path) -> None:
    with silent_pty() as device:
        result = probe(device, profile=R307, window=WINDOW)
    assert [a.baudrate for a in result.attempts][:3] == [57600, 115200, 9600]
    assert len(result.attempts) == 12 and result.found is None


@pytest.mark.parametrize("model", ["Raspberry Pi 3 Model B Plus Rev 1.3", "Raspberry Pi Zero 2 W Rev 1.0"])
def test_pi3_family_excludes_bluetooth(tmp_path: Path, model: str) -> None:
    fake_pi(tmp_path, model)
    search = candidate_ports(SystemRoot(tmp_path), "/dev/serial0")
    assert [c.device for c in search.candidates] == ["/dev/ttyS0"]
