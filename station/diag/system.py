"""The host as ``livescan diag`` sees it, under an injectable root (tests use a fake tree).

    host = SystemRoot(Path("/"))          # or SystemRoot(tmp_path) holding proc/, dev/, sys/, boot/, etc/
    host.pi_model()                       # "Raspberry Pi 5 Model B Rev 1.0", or "" off a Pi
    candidate_ports(host, "/dev/livescan-sensor")   # where a sensor may be, best first, with reasons
    serial_consoles(host), port_holders(host, "/dev/ttyAMA0"), getty_units(host, "/dev/ttyAMA0")

Raspberry Pi facts (reference section 7.4): on a Pi 5 the header UART (GPIO 14/15) is
``/dev/ttyAMA0`` and ``/dev/serial0`` points at the 3-pin debug connector (``ttyAMA10``); on a
Pi 3/4/Zero W ``/dev/serial0`` is the header UART and ``/dev/serial1`` the Bluetooth one; USB
adapters appear as ``/dev/ttyUSB*`` or ``/dev/ttyACM*``; the udev rule of ``install.sh --system``
names the sensor ``/dev/livescan-sensor``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

SENSOR_LINK = "/dev/livescan-sensor"
BOOT_CMDLINES = ("/boot/firmware/cmdline.txt", "/boot/cmdline.txt")
_SYMLINK_HOPS = 16


@dataclass(frozen=True)
class SystemRoot:
    """Absolute paths such as ``/proc/cmdline`` are read under ``root``."""

    root: Path = Path("/")

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def read(self, absolute: str) -> str | None:
        """The file's text (NULs dropped), or None when it is missing or unreadable."""
        try:
            return self.path(absolute).read_bytes().replace(b"\0", b"").decode("utf-8", "replace")
        except OSError:
            return None

    def exists(self, absolute: str) -> bool:
        return self.path(absolute).exists()

    def resolve(self, absolute: str) -> str | None:
        """``absolute`` with its symlinks followed inside the root (``/dev/serial0`` ->
        ``/dev/ttyAMA10``); None when it does not exist."""
        current = absolute
        for _ in range(_SYMLINK_HOPS):
            here = self.path(current)
            if not here.is_symlink():
                return current if here.exists() else None
            target = os.readlink(here)
            current = (
                target
                if target.startswith("/")
                else os.path.normpath(os.path.join(os.path.dirname(current), target))
            )
        return None

    def glob(self, folder: str, pattern: str) -> list[str]:
        base = self.path(folder)
        return (
            sorted(f"{folder.rstrip('/')}/{entry.name}" for entry in base.glob(pattern))
            if base.is_dir()
            else []
        )

    def pi_model(self) -> str:
        """The board's model string from the device tree ("" when this is not a Pi or unknown)."""
        return (self.read("/proc/device-tree/model") or "").strip()


def pi_generation(model: str) -> int | None:
    """5 for a Pi 5 (and 500, CM5), 4, 3 (Zero 2 W counts as 3), 1-2, or None when not a Pi."""
    if "Raspberry Pi" not in model:
        return None
    if re.search(r"Raspberry Pi (5|500)\b|Compute Module 5", model):
        return 5
    if re.search(r"Raspberry Pi (4|400)\b|Compute Module 4", model):
        return 4
    if re.search(r"Raspberry Pi 3\b|Zero 2|Compute Module 3", model):
        return 3
    if "Zero W" in model:
        return 3  # a Pi Zero W has Bluetooth on the PL011 like a Pi 3
    return 1


@dataclass(frozen=True)
class Candidate:
    """A place the sensor may be: ``url`` as configured or found, ``device`` its real device
    (symlinks followed; None for URLs such as ``sim://``), and why it is a candidate."""

    url: str
    device: str | None
    why: str


@dataclass
class PortSearch:
    candidates: list[Candidate] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)  # plain sentences: what was left out, and why
    model: str = ""


def _is_device_path(url: str) -> bool:
    return "://" not in url


def candidate_ports(host: SystemRoot, configured: str) -> PortSearch:
    """Where to look for the sensor, best first: the configured URL, the udev name, the Pi's
    header UART for its model, then USB adapters. Each real device once."""
    search = PortSearch(model=host.pi_model())
    generation = pi_generation(search.model)
    seen: set[str] = set()

    def add(url: str, why: str) -> None:
        device = host.resolve(url) if _is_device_path(url) else None
        if _is_device_path(url) and device is None and url != configured:
            return
        key = device or url
        if key in seen:
            return
        seen.add(key)
        search.candidates.append(Candidate(url, device, why))

    add(configured, "sensor.url in the configuration")
    add(SENSOR_LINK, "the udev rule's name for the sensor")
    serial0 = host.resolve("/dev/serial0")
    if generation == 5:
        add("/dev/ttyAMA0", "the Pi 5 header UART (GPIO 14/15)")
        if serial0 is not None:
            search.excluded.append(
                f"/dev/serial0 ({serial0}) is the Pi 5's 3-pin debug connector, not the header UART"
            )
    elif generation is not None:
        bluetooth = host.resolve("/dev/serial1") if generation >= 3 else None
        if serial0 is not None and serial0 != bluetooth:
            add("/dev/serial0", f"the Pi {generation} header UART (GPIO 14/15)")
        if bluetooth is not None:
            search.excluded.append(f"/dev/serial1 ({bluetooth}) is the Bluetooth UART, not the header")
            seen.add(bluetooth)
        if serial0 is not None and serial0 == "/dev/ttyS0":
            search.excluded.append(
                "/dev/serial0 is the mini-UART (ttyS0), whose baud rate follows the core clock; "
                "dtoverlay=disable-bt gives GPIO 14/15 the PL011 (install.sh --system sets it)"
            )
    for device in host.glob("/dev", "ttyUSB*") + host.glob("/dev", "ttyACM*"):
        add(device, "a USB serial adapter")
    return search


def device_names(host: SystemRoot, device: str) -> set[str]:
    """Every name under /dev that leads to ``device`` (``ttyAMA0``, ``serial0``, ...)."""
    names = {Path(device).name}
    for alias in ("/dev/serial0", "/dev/serial1", SENSOR_LINK):
        if host.resolve(alias) == device:
            names.add(Path(alias).name)
    return names


_CONSOLE = re.compile(r"(?:^|\s)console=([^\s,]+)")


def serial_consoles(text: str) -> list[str]:
    """The serial console names on a kernel command line (``tty1`` and friends are not serial)."""
    return [name for name in _CONSOLE.findall(text) if not re.fullmatch(r"tty\d*", name)]


def boot_cmdline(host: SystemRoot) -> tuple[str, str] | None:
    """The next boot's kernel command line file and its text."""
    for path in BOOT_CMDLINES:
        text = host.read(path)
        if text is not None:
            return path, text
    return None


@dataclass(frozen=True)
class Holder:
    pid: int
    name: str


def port_holders(host: SystemRoot, device: str) -> list[Holder]:
    """Processes with ``device`` (or one of its names) open, from /proc/*/fd; only those this user
    may see (run as root to see every process)."""
    names = {f"/dev/{name}" for name in device_names(host, device)}
    holders = []
    proc = host.path("/proc")
    for entry in sorted(proc.iterdir(), key=lambda p: p.name) if proc.is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            targets = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue
        if targets & names:
            comm = (host.read(f"/proc/{entry.name}/comm") or "?").strip()
            holders.append(Holder(int(entry.name), comm))
    return holders


def getty_units(host: SystemRoot, device: str) -> list[str]:
    """Enabled ``serial-getty@`` units for ``device`` (any of its names)."""
    found = []
    for name in sorted(device_names(host, device)):
        unit = f"serial-getty@{name}.service"
        for wants in (
            "/etc/systemd/system/getty.target.wants",
            "/etc/systemd/system/multi-user.target.wants",
        ):
            if host.exists(f"{wants}/{unit}"):
                found.append(unit)
    return sorted(set(found))
