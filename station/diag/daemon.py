"""Is the station daemon running, and what does it say? ``livescan diag`` asks it instead of
opening the sensor's port a second time.

    daemon = find_daemon(config)            # None when no daemon runs with this configuration
    daemon.get("/api/diag/sensor")          # JSON from its local API (DaemonUnreachable otherwise)

The daemon holds an exclusive ``flock`` on ``<data_dir>/station.lock`` (``sync.lock``) with its
PID inside. When that file cannot be read (another user's 0700 data folder) the configured kiosk
port is asked instead (``GET /api/station``).
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from station.config import StationConfig

LOCK_FILE = "station.lock"  # as station.daemon.LOCK_FILE
TIMEOUT_S = 5.0


class DaemonUnreachable(Exception):
    """The daemon runs (it holds its lock) but its local API does not answer as expected."""


@dataclass(frozen=True)
class Daemon:
    """A running station daemon: its PID (None when only its API answered) and API base URL."""

    pid: int | None
    url: str

    def get(self, path: str, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        """``GET path`` as JSON; ``DaemonUnreachable`` saying why otherwise (404: an older daemon)."""
        try:
            response = requests.get(self.url + path, timeout=timeout)
        except requests.RequestException as exc:
            raise DaemonUnreachable(
                f"the station daemon's API at {self.url} does not answer: {exc}"
            ) from None
        if response.status_code == 404:
            raise DaemonUnreachable(
                f"the station daemon at {self.url} has no {path}; include station.diag.api in its API"
            )
        if response.status_code != 200:
            raise DaemonUnreachable(f"the station daemon answered {path} with HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise DaemonUnreachable(
                f"the station daemon answered {path} with something other than JSON"
            ) from None
        if not isinstance(body, dict):
            raise DaemonUnreachable(f"the station daemon answered {path} with a JSON {type(body).__name__}")
        return body


def lock_holder(path: Path) -> int | bool | None:
    """The PID holding ``path``'s flock; None when nobody holds it; False when it cannot be read."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError:
        return False
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else 0
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return None
    finally:
        os.close(descriptor)


def api_url(config: StationConfig) -> str | None:
    host = config.kiosk.host
    if config.kiosk.port == 0:
        return None  # any free port: only the daemon's log says which
    host = "127.0.0.1" if host == "localhost" else host
    return f"http://{'[' + host + ']' if ':' in host else host}:{config.kiosk.port}"


def find_daemon(config: StationConfig) -> Daemon | None:
    """The daemon running with ``config``'s data folder, or None."""
    holder = lock_holder(config.storage.data_dir / LOCK_FILE)
    url = api_url(config)
    if holder is None:
        return None
    if holder is not False:
        if url is None:
            raise DaemonUnreachable(
                f"the station daemon (pid {holder}) runs, but kiosk.port = 0 hides its API; set a fixed port"
            )
        return Daemon(holder or None, url)
    if url is None:
        return None
    try:
        Daemon(None, url).get("/api/station", timeout=1.0)
    except DaemonUnreachable:
        return None
    return Daemon(None, url)
