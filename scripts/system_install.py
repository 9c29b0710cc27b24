"""Install (or remove) Livescan Station as a system service on a Raspberry Pi: `install.sh --system`.

Run as root after `./install.sh` has made the checkout's .venv. Every step is idempotent and says
what it did. ``--root DIR`` applies everything under DIR instead of / (a fake root or a chroot): the
tests use it, and it is how an SD-card image can be prepared from another machine.

What it does (``--uninstall`` reverses each step, but keeps /etc/livescan, /var/lib/livescan and
/var/lib/livescan-centre, the queue, the centre's data and the keys that read them, unless
``--purge``):

* the service user (system account, no login) in the ``dialout`` and ``gpio`` groups;
* /etc/livescan (0750, root:user) with station.toml (0640; never overwritten once there), the
  outbox key (0600, the user; made once, never replaced: losing it loses the queue) and pki/ for
  the site CA and the station's certificate; /var/lib/livescan (0700, the user, and everything in
  it) for the outbox;
* the UART: ``enable_uart=1`` and the overlay this Pi model needs in the firmware's config.txt,
  the serial console removed from cmdline.txt (a backup is kept): a reboot is needed afterwards;
* a udev rule giving the sensor's port the stable name /dev/livescan-sensor;
* systemd units: livescan-station (watchdog, restart policy, sandboxing), optionally
  livescan-simulator and livescan-centre; enabled for multi-user.target.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sync.keyring import create_key_file

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "config"
MARK_BEGIN = "# --- livescan: begin (install.sh --system; removed by --uninstall) ---"
MARK_END = "# --- livescan: end ---"
CONSOLE = re.compile(r"^console=(serial0|serial1|ttyAMA\d+|ttyS\d+)(,\d+)?$")
UNITS = {
    "station": "livescan-station.service",
    "simulator": "livescan-simulator.service",
    "centre": "livescan-centre.service",
}
OUTBOX_KEY = "/etc/livescan/outbox.key"  # config/station.toml's storage.key_file
UDEV_RULE = "etc/udev/rules.d/99-livescan-sensor.rules"
CMDLINE_BACKUP_SUFFIX = ".livescan-backup"
KEPT = {  # what --uninstall leaves unless --purge
    "/etc/livescan": "configuration, outbox key, certificates",
    "/var/lib/livescan": "queued bookings, audit log, operators",
    "/var/lib/livescan-centre": "the centre's databases and key",  # livescan-centre's StateDirectory
}


class InstallError(Exception):
    """A step cannot be done; the message says what to fix."""


@dataclass(frozen=True)
class PiModel:
    """What the firmware config needs for the sensor on GPIO 14/15, and which device that becomes."""

    name: str
    overlays: tuple[str, ...]
    uart: str  # the kernel name of the header UART once configured
    disable_bluetooth_uart: bool = False


def detect_model(root: Path) -> PiModel:
    """The Pi model from the device tree; anything else is treated like a Pi 1/2/Zero."""
    model_file = root / "proc/device-tree/model"
    text = model_file.read_bytes().rstrip(b"\0").decode(errors="replace") if model_file.exists() else ""
    if "Raspberry Pi 5" in text or "Compute Module 5" in text:
        # /dev/serial0 is the debug connector's ttyAMA10 on a Pi 5; the header UART is ttyAMA0.
        return PiModel(text, ("uart0-pi5",), "ttyAMA0")
    if re.search(r"Raspberry Pi (3|4|400|Zero W|Zero 2 W)|Compute Module (3|4)", text):
        # The PL011 serves Bluetooth on these; move it to the header instead of the mini-UART.
        return PiModel(text, ("disable-bt",), "ttyAMA0", disable_bluetooth_uart=True)
    return PiModel(text or "unknown (no /proc/device-tree/model)", (), "ttyAMA0")


class Installer:
    def __init__(self, root: Path, user: str, repo: Path, *, say: Callable[[str], None] = print) -> None:
        self.root = root
        self.user = user
        self.repo = repo
        self.say = say
        self.live = root.resolve() == Path("/")

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    # --- install -------------------------------------------------------------------------------

    def install(self, extras: tuple[str, ...]) -> None:
        if not (self.repo / ".venv/bin/livescan").exists():
            raise InstallError(f"{self.repo}/.venv/bin/livescan is missing: run ./install.sh first")
        model = detect_model(self.root)
        self.say(f"Raspberry Pi model: {model.name}")
        self.ensure_user()
        self.ensure_directories()
        self.configure_uart(model)
        self.write_udev_rule(model)
        for name in ("station", *extras):
            self.write_unit(name)
        self.reload_systemd()
        self.say("done; reboot for the UART changes, then run: livescan diag report")

    def ensure_user(self) -> None:
        if not self._group_exists("gpio"):
            self._run("groupadd", "--system", "gpio")
            self.say("created group gpio")
        if not self._group_exists("dialout"):
            self._run("groupadd", "--system", "dialout")
            self.say("created group dialout")
        if self._user_exists():
            self._run("usermod", "--append", "--groups", "dialout,gpio", self.user)
            self.say(f"user {self.user} exists; in groups dialout and gpio")
            return
        # userdel keeps the user's group when USERGROUPS_ENAB is off: a reinstall then joins it.
        group = ("--gid", self.user) if self._group_exists(self.user) else ("--user-group",)
        self._run(
            "useradd", "--system", "--home-dir", "/var/lib/livescan", "--no-create-home",
            "--shell", "/usr/sbin/nologin", *group, "--groups", "dialout,gpio", self.user,
        )  # fmt: skip
        self.say(f"created system user {self.user} (groups dialout, gpio)")

    def ensure_directories(self) -> None:
        uid, gid = self._ids()
        self._directory("/etc/livescan", 0o750, 0, gid)
        self._directory("/etc/livescan/pki", 0o750, 0, gid)
        self._directory("/var/lib/livescan", 0o700, uid, gid)
        self._own_contents("/var/lib/livescan", uid, gid)
        config = self.path("/etc/livescan/station.toml")
        if config.exists():
            self.say("kept /etc/livescan/station.toml as it is")
        else:
            shutil.copyfile(CONFIG / "station.toml", config)
            self.say("wrote /etc/livescan/station.toml (edit [station] and [centre] before starting)")
        os.chown(config, 0, gid)
        config.chmod(0o640)
        key = self.path(OUTBOX_KEY)
        if not key.exists():
            create_key_file(key)
            self.say(f"made the outbox key {OUTBOX_KEY}: back it up; the queue cannot be read without it")
        os.chown(key, uid, gid)
        key.chmod(0o600)

    def configure_uart(self, model: PiModel) -> None:
        boot = self._boot_dir()
        lines = ["enable_uart=1", *(f"dtoverlay={overlay}" for overlay in model.overlays)]
        _replace_block(boot / "config.txt", lines)
        self.say(f"{boot / 'config.txt'}: {', '.join(lines)}")
        if model.disable_bluetooth_uart:
            self._systemctl("disable", "hciuart.service")
        cmdline = boot / "cmdline.txt"
        if not cmdline.exists():
            self.say(f"no {cmdline}: the kernel command line was left alone")
            return
        words = cmdline.read_text().split()
        kept = [word for word in words if not CONSOLE.match(word)]
        if kept == words:
            self.say("no serial console on the kernel command line")
            return
        backup = cmdline.with_name(cmdline.name + CMDLINE_BACKUP_SUFFIX)
        if not backup.exists():
            shutil.copy2(cmdline, backup)
        cmdline.write_text(" ".join(kept) + "\n")
        self.say(f"removed the serial console from {cmdline} (backup {backup.name}); reboot needed")

    def _restore_console(self, cmdline: Path) -> None:
        """Put back the serial console words the install removed, keeping later edits of the line."""
        backup = cmdline.with_name(cmdline.name + CMDLINE_BACKUP_SUFFIX)
        if not backup.exists():
            return
        removed = [word for word in backup.read_text().split() if CONSOLE.match(word)]
        words = cmdline.read_text().split() if cmdline.exists() else []
        missing = [word for word in removed if word not in words]
        if missing:  # the console goes first, as Raspberry Pi OS has it: the last console= is /dev/console
            cmdline.write_text(" ".join([*missing, *words]) + "\n")
            self.say(f"put {' '.join(missing)} back on {cmdline} (serial console back after a reboot)")
        backup.unlink()

    def write_udev_rule(self, model: PiModel) -> None:
        text = (CONFIG / "udev/99-livescan-sensor.rules").read_text().replace("@KERNEL@", model.uart)
        _write(self.path(UDEV_RULE), text, 0o644)
        self.say(f"udev: /dev/{model.uart} -> /dev/livescan-sensor")
        if self.live:
            subprocess.run(["udevadm", "control", "--reload"], check=False)

    def write_unit(self, name: str) -> None:
        unit = UNITS[name]
        text = (CONFIG / "systemd" / unit).read_text()
        text = text.replace("@REPO@", str(self.repo)).replace("@USER@", self.user)
        _write(self.path(f"/etc/systemd/system/{unit}"), text, 0o644)
        self._systemctl("enable", unit)
        self.say(f"installed and enabled {unit}")

    # --- uninstall -----------------------------------------------------------------------------

    def uninstall(self, purge: bool) -> None:
        for unit in UNITS.values():
            if self.path(f"/etc/systemd/system/{unit}").exists():
                self._systemctl("disable", unit)
                self.path(f"/etc/systemd/system/{unit}").unlink()
                self.say(f"removed {unit}")
        self.reload_systemd()
        rule = self.path(UDEV_RULE)
        if rule.exists():
            rule.unlink()
            self.say("removed the udev rule")
        boot = self._boot_dir()
        if _replace_block(boot / "config.txt", None):
            self.say(f"removed the livescan lines from {boot / 'config.txt'}")
        if detect_model(self.root).disable_bluetooth_uart:
            self._systemctl("enable", "hciuart.service")
        self._restore_console(boot / "cmdline.txt")
        for kept, holding in KEPT.items():
            if not self.path(kept).exists():
                continue
            if purge:
                shutil.rmtree(self.path(kept))
                self.say(f"removed {kept} (--purge)")
            else:
                self.say(f"kept {kept} ({holding}); --purge removes it")
        if self._user_exists():
            self._run("userdel", self.user)
            self.say(f"removed user {self.user}")

    # --- helpers -------------------------------------------------------------------------------

    def reload_systemd(self) -> None:
        if self.live and shutil.which("systemctl"):
            subprocess.run(["systemctl", "daemon-reload"], check=False)

    def _systemctl(self, verb: str, unit: str) -> None:
        if self.live:
            subprocess.run(["systemctl", verb, unit], check=False, capture_output=True)
            return
        # In a fake root, do what `systemctl enable/disable` does for a WantedBy=multi-user.target unit.
        wants = self.path("/etc/systemd/system/multi-user.target.wants")
        link = wants / unit
        if verb == "enable" and self.path(f"/etc/systemd/system/{unit}").exists():
            wants.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(f"/etc/systemd/system/{unit}")
        elif verb == "disable" and link.is_symlink():
            link.unlink()

    def _boot_dir(self) -> Path:
        # Bookworm and Trixie keep the firmware files in /boot/firmware; older releases in /boot.
        firmware = self.path("/boot/firmware")
        if firmware.is_dir():
            return firmware
        if self.path("/boot/config.txt").exists():
            return self.path("/boot")
        raise InstallError(
            f"no /boot/firmware or /boot/config.txt under {self.root}: is this Raspberry Pi OS? "
            "(mount the boot partition first)"
        )

    def _run(self, *command: str) -> None:
        prefix = [] if self.live else ["--prefix", str(self.root)]
        result = subprocess.run([command[0], *prefix, *command[1:]], capture_output=True, text=True)
        if result.returncode != 0:
            raise InstallError(f"{' '.join(command)} failed: {result.stderr.strip()}")

    def _passwd(self, name: str) -> list[list[str]]:
        return [line.split(":") for line in self.path(f"/etc/{name}").read_text().splitlines() if line]

    def _user_exists(self) -> bool:
        if self.live:
            try:
                pwd.getpwnam(self.user)
            except KeyError:
                return False
            return True
        return any(entry[0] == self.user for entry in self._passwd("passwd"))

    def _group_exists(self, group: str) -> bool:
        if self.live:
            try:
                grp.getgrnam(group)
            except KeyError:
                return False
            return True
        return any(entry[0] == group for entry in self._passwd("group"))

    def _ids(self) -> tuple[int, int]:
        entry = next(entry for entry in self._passwd("passwd") if entry[0] == self.user)
        return int(entry[2]), int(entry[3])

    def _own_contents(self, absolute: str, uid: int, gid: int) -> None:
        # A reinstall after --uninstall may give the user another uid, and a technician's `sudo
        # livescan queue ...` may leave root-owned files (a WAL): the service must own them all.
        for directory, subdirectories, files in os.walk(self.path(absolute)):
            for name in (*subdirectories, *files):
                os.chown(Path(directory, name), uid, gid, follow_symlinks=False)

    def _directory(self, absolute: str, mode: int, uid: int, gid: int) -> None:
        directory = self.path(absolute)
        directory.mkdir(parents=True, exist_ok=True)
        os.chown(directory, uid, gid)
        directory.chmod(mode)


def _replace_block(path: Path, lines: list[str] | None) -> bool:
    """Put ``lines`` between our markers at the end of ``path`` (None removes them); True if changed."""
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(rf"{re.escape(MARK_BEGIN)}\n.*?{re.escape(MARK_END)}\n", re.DOTALL)
    without = pattern.sub("", text)
    if lines is None:
        new = without
    else:
        new = without.rstrip("\n") + ("\n" if without.strip() else "")
        new += "\n".join([MARK_BEGIN, *lines, MARK_END]) + "\n"
    if new == text:
        return False
    path.write_text(new)
    return True


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="install.sh --system", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/"), help="apply under this directory")
    parser.add_argument("--user", default="livescan", help="the service account")
    parser.add_argument("--with-simulator", action="store_true", help="also the simulated sensor's unit")
    parser.add_argument("--with-centre", action="store_true", help="also the central service's unit")
    parser.add_argument("--uninstall", action="store_true", help="reverse a previous --system install")
    parser.add_argument("--purge", action="store_true", help="with --uninstall: delete the data and keys too")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("install.sh --system: run as root (sudo ./install.sh --system)", file=sys.stderr)
        return 2
    installer = Installer(args.root, args.user, REPO, say=lambda text: print(f"==> {text}"))
    extras = tuple(name for name, wanted in (("simulator", args.with_simulator), ("centre", args.with_centre))
                   if wanted)  # fmt: skip
    try:
        if args.uninstall:
            installer.uninstall(args.purge)
        else:
            installer.install(extras)
    except InstallError as exc:
        print(f"install.sh --system: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
