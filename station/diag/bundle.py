"""``livescan diag bundle``: one tar.gz a technician sends to support.

It holds the configuration with its secrets hidden (``StationConfig.as_dict(redact=True)``: the
sensor password never; key files, certificates' keys and the operators' PIN hashes are never read),
the station's recent log (``journalctl -u livescan-station``, itself free of personal data and
passed through the daemon's redaction again), the diagnostic report, and versions (Python,
packages, kernel, OS, board). Never images, templates, bookings or the outbox.
"""

from __future__ import annotations

import io
import json
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from station.config import StationConfig
from station.diag.report import Report
from station.diag.system import SystemRoot

UNIT = "livescan-station"
LOG_LINES = 2000
JOURNAL_TIMEOUT_S = 20.0


def journal(unit: str = UNIT, lines: int = LOG_LINES) -> str | None:
    """The unit's recent log from journald, or None when journalctl is missing or fails."""
    if shutil.which("journalctl") is None:
        return None
    try:
        result = subprocess.run(
            ["journalctl", "-u", unit, "-n", str(lines), "--no-pager", "-o", "short-iso"],
            capture_output=True,
            text=True,
            timeout=JOURNAL_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def versions(host: SystemRoot) -> dict[str, Any]:
    """Python, every installed package, the kernel, the OS and the board."""
    os_release = {}
    for line in (host.read("/etc/os-release") or "").splitlines():
        key, _, value = line.partition("=")
        if key in ("PRETTY_NAME", "VERSION_CODENAME", "ID"):
            os_release[key.lower()] = value.strip().strip('"')
    packages = sorted(
        {
            f"{dist.metadata['Name']}=={dist.version}"
            for dist in metadata.distributions()
            if dist.metadata["Name"]
        }
    )
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "os": os_release,
        "board": host.pi_model(),
        "packages": packages,
    }


def _redacted_log(text: str) -> str:
    from station.daemon import redact  # the daemon's own last line of defence, line by line

    return "\n".join(redact(line) for line in text.splitlines()) + "\n"


def write_bundle(
    out: Path,
    *,
    report: Report,
    config: StationConfig | None,
    host: SystemRoot,
    logs: Callable[[], str | None] = journal,
    clock: Callable[[], float] = time.time,
) -> list[str]:
    """Write the tarball ``out``; the names of its members."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(clock()))
    folder = f"livescan-diag-{stamp}"
    log_text = logs()
    members: dict[str, str] = {
        "config.json": json.dumps(config.as_dict(redact=True) if config else None, indent=1),
        "report.json": json.dumps(report.as_dict(), indent=1, default=str),
        "versions.json": json.dumps(versions(host), indent=1),
        "logs.txt": _redacted_log(log_text)
        if log_text
        else f"no logs: journalctl -u {UNIT} is not available here\n",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz") as archive:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size, info.mtime, info.mode = len(data), int(clock()), 0o600
            archive.addfile(info, io.BytesIO(data))
    out.chmod(0o600)
    return [f"{folder}/{name}" for name in members]
