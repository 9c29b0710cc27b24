"""`install.sh --system` against a fake root: the files, owners, modes and units it leaves, and that
``--uninstall`` puts the machine back."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts/system_install.py"
CMDLINE = "console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootfstype=ext4 rootwait\n"
CONFIG_TXT = "# For more options and information see\n[all]\narm_64bit=1\n"
PI5 = "Raspberry Pi 5 Model B Rev 1.0"
PI4 = "Raspberry Pi 4 Model B Rev 1.5"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creates users and chowns files: needs root")


def fake_root(tmp_path: Path, model: str | None) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        shutil.copy2(f"/etc/{name}", root / "etc" / name)
    for directory in ("var/lib", "etc/udev/rules.d", "etc/systemd/system/multi-user.target.wants"):
        (root / directory).mkdir(parents=True)
    firmware = root / "boot/firmware"
    firmware.mkdir(parents=True)
    (firmware / "config.txt").write_text(CONFIG_TXT)
    (firmware / "cmdline.txt").write_text(CMDLINE)
    if model is not None:
        (root / "proc/device-tree").mkdir(parents=True)
        (root / "proc/device-tree/model").write_bytes(model.encode() + b"\0")
    return root


def run(root: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), "--root", str(root), *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def snapshot(root: Path) -> dict[str, tuple[int, int, int, str]]:
    """Every path under ``root``: mode, owner, group and content hash (or link target)."""
    seen = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            content = os.readlink(path)
        elif path.is_file():
            content = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            content = "dir"
        seen[str(path.relative_to(root))] = (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, content)
    return seen


def entry(root: Path, table: str, name: str) -> list[str]:
    for line in (root / "etc" / table).read_text().splitlines():
        if line.split(":")[0] == name:
            return line.split(":")
    raise AssertionError(f"{name} not in {table}")


def test_a_pi5_gets_user_directories_uart_udev_and_units(tmp_path: Path) -> None:
    root = fake_root(tmp_path, PI5)
    result = run(root)
    assert result.returncode == 0, result.stderr

    user = entry(root, "passwd", "livescan")
    uid, gid = int(user[2]), int(user[3])
    assert user[5:] == ["/var/lib/livescan", "/usr/sbin/nologin"]
    for group in ("dialout", "gpio"):
        assert "livescan" in entry(root, "group", group)[3].split(",")

    def owned(path: str) -> tuple[int, int, int]:
        info = (root / path).stat()
        return stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid

    assert owned("etc/livescan") == (0o750, 0, gid)
    assert owned("etc/livescan/station.toml") == (0o640, 0, gid)
    assert owned("var/lib/livescan") == (0o700, uid, gid)
    assert (root / "etc/livescan/station.toml").read_text() == (REPO / "config/station.toml").read_text()
    assert owned("etc/livescan/outbox.key") == (0o600, uid, gid)
    assert owned("etc/livescan/pki") == (0o750, 0, gid)
    assert json.loads((root / "etc/livescan/outbox.key").read_text())["keys"]

    config = (root / "boot/firmware/config.txt").read_text()
    assert config.startswith(CONFIG_TXT)
    assert "enable_uart=1\ndtoverlay=uart0-pi5\n" in config
    cmdline = (root / "boot/firmware/cmdline.txt").read_text()
    assert "console=serial0" not in cmdline and "console=tty1" in cmdline and "rootwait" in cmdline
    assert (root / "boot/firmware/cmdline.txt.livescan-backup").read_text() == CMDLINE
    assert "reboot" in result.stdout

    rule = (root / "etc/udev/rules.d/99-livescan-sensor.rules").read_text()
    assert 'KERNEL=="ttyAMA0"' in rule and 'SYMLINK+="livescan-sensor"' in rule

    unit = root / "etc/systemd/system/livescan-station.service"
    text = unit.read_text()
    assert f"ExecStart={REPO}/.venv/bin/livescan station run --config /etc/livescan/station.toml" in text
    for setting in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "User=livescan", "ProtectSystem="):
        assert setting in text
    assert "@" not in text.replace("multi-user", "")
    wants = root / "etc/systemd/system/multi-user.target.wants/livescan-station.service"
    assert os.readlink(wants) == "/etc/systemd/system/livescan-station.service"
    assert not (root / "etc/systemd/system/livescan-centre.service").exists()


def test_a_pi4_moves_bluetooth_off_the_header_uart(tmp_path: Path) -> None:
    root = fake_root(tmp_path, PI4)
    assert run(root).returncode == 0
    assert "dtoverlay=disable-bt" in (root / "boot/firmware/config.txt").read_text()


def test_running_twice_changes_nothing_and_keeps_an_edited_config(tmp_path: Path) -> None:
    root = fake_root(tmp_path, PI5)
    assert run(root, "--with-simulator").returncode == 0
    edited = root / "etc/livescan/station.toml"
    edited.write_text(edited.read_text() + "\n# edited by the technician\n")
    before = snapshot(root)
    again = run(root, "--with-simulator")
    assert again.returncode == 0, again.stderr
    assert snapshot(root) == before
    assert "kept /etc/livescan/station.toml" in again.stdout


def test_uninstall_restores_the_machine_but_keeps_the_queue_unless_purged(tmp_path: Path) -> None:
    root = fake_root(tmp_path, PI5)
    pristine = {path: data for path, data in snapshot(root).items() if not path.startswith("etc/")}
    pristine_users = {name: (root / "etc" / name).read_text() for name in ("passwd", "group")}
    assert run(root, "--with-simulator", "--with-centre").returncode == 0
    (root / "var/lib/livescan/outbox.db").write_bytes(b"queued bookings")

    result = run(root, "--uninstall")
    assert result.returncode == 0, result.stderr
    assert (root / "boot/firmware/cmdline.txt").read_text() == CMDLINE
    assert (root / "boot/firmware/config.txt").read_text() == CONFIG_TXT
    assert not list((root / "etc/systemd/system").glob("livescan-*"))
    assert not list((root / "etc/systemd/system/multi-user.target.wants").iterdir())
    assert not (root / "etc/udev/rules.d/99-livescan-sensor.rules").exists()
    assert "livescan:" not in (root / "etc/passwd").read_text()
    assert (root / "var/lib/livescan/outbox.db").exists() and (root / "etc/livescan/outbox.key").exists()
    assert "--purge" in result.stdout

    assert run(root, "--uninstall", "--purge").returncode == 0
    left = {p: d for p, d in snapshot(root).items() if not p.startswith("etc/")}
    assert left == pristine
    # gpio may have been created for the service; everything else is as it was.
    assert (root / "etc/passwd").read_text() == pristine_users["passwd"]


def test_uninstall_gives_the_console_back_and_keeps_later_edits_of_the_command_line(tmp_path: Path) -> None:
    root = fake_root(tmp_path, PI5)
    assert run(root).returncode == 0
    cmdline = root / "boot/firmware/cmdline.txt"
    cmdline.write_text(cmdline.read_text().strip() + " usbcore.autosuspend=-1\n")  # the admin's edit
    assert run(root, "--uninstall").returncode == 0
    assert cmdline.read_text() == CMDLINE.strip() + " usbcore.autosuspend=-1\n"
    assert not (root / "boot/firmware/cmdline.txt.livescan-backup").exists()


def test_a_reinstall_gives_the_data_back_to_the_service_and_purge_removes_the_centres(tmp_path: Path) -> None:
    root = fake_root(tmp_path, PI5)
    assert run(root, "--with-centre").returncode == 0
    wal = root / "var/lib/livescan/outbox.db-wal"
    wal.write_bytes(b"frames")
    os.chown(wal, 0, 0)  # left by a technician's `sudo livescan queue ...`
    centre = root / "var/lib/livescan-centre"
    centre.mkdir()
    (centre / "central.db").write_bytes(b"sealed")  # what livescan-centre's StateDirectory holds

    assert run(root, "--uninstall").returncode == 0
    assert (centre / "central.db").exists()
    assert run(root, "--with-centre").returncode == 0
    user = entry(root, "passwd", "livescan")
    assert (wal.stat().st_uid, wal.stat().st_gid) == (int(user[2]), int(user[3]))

    result = run(root, "--uninstall", "--purge")
    assert result.returncode == 0, result.stderr
    assert not centre.exists() and not (root / "var/lib/livescan").exists()


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    root = fake_root(tmp_path, PI5)
    assert run(root, "--with-simulator", "--with-centre").returncode == 0
    units = sorted((root / "etc/systemd/system").glob("livescan-*.service"))
    assert len(units) == 3
    result = subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in result.stderr.splitlines() if "livescan" in line]
    assert result.returncode == 0 and not problems, result.stderr


def test_without_a_boot_partition_it_says_what_to_mount(tmp_path: Path) -> None:
    root = fake_root(tmp_path, PI5)
    shutil.rmtree(root / "boot")
    result = run(root)
    assert result.returncode == 1
    assert "mount the boot partition" in result.stderr


def test_install_sh_refuses_system_options_without_system() -> None:
    result = subprocess.run(
        [str(REPO / "install.sh"), "--with-centre"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "only go with --system" in result.stderr
