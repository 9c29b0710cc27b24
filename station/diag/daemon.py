"""Is the station daemon running, and what does it say? ``livescan diag`` asks it instead of
opening the sensor's port a second time.

    daemon = find_daemon(config)            # None when no daemon runs with this configuration
    daemon.get("/api/diag/sensor")          # JSON from its local API (DaemonUnreachable otherwise)
    daemon.post("/api/diag/capture", {"wait_s": 30}, timeout=120)

Each call carries the token the daemon wrote to ``<data_dir>/diag.token`` (0600, the service
user's) in the ``X-Livescan-Diag`` header: only root and the service user can ask.

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
TOKEN_FILE = "diag.token"  # written by the daemon's API (station.diag.api)
TOKEN_HEADER = "X-Livescan-Diag"
TIMEOUT_S = 5.0


class DaemonUnreachable(Exception):
    """The daemon runs (it holds its lock) but its local API does not answer as expected."""


class DaemonRefused(DaemonUnreachable):
    """The daemon answered, but refused the call (``status``): a booking is open (409), the diag
    token is missing or wrong (401, 403), the capture failed (503) ...; the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Daemon:
    """A running station daemon: its PID (None when only its API answered), API base URL and the
    diag token it wrote (None when it cannot be read here)."""

    pid: int | None
    url: str
    token: str | None = None
    token_problem: str = ""

    def get(self, path: str, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        """``GET path`` as JSON; ``DaemonUnreachable`` saying why otherwise (404: an older daemon)."""
        return self.call("GET", path, timeout=timeout)

    def post(self, path: str, body: dict[str, Any], timeout: float = TIMEOUT_S) -> dict[str, Any]:
        """``POST path`` with a JSON ``body``; its JSON answer (as ``get``)."""
        return self.call("POST", path, body, timeout=timeout)

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, timeout: float = TIMEOUT_S
    ) -> dict[str, Any]:
        """One diag call with the token in ``X-Livescan-Diag``; the JSON answer, else
        ``DaemonRefused`` (an answer with a reason) or ``DaemonUnreachable``."""
        headers = {TOKEN_HEADER: self.token} if self.token else {}
        try:
            response = requests.request(method, self.url + path, json=body, headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            raise DaemonUnreachable(
                f"the station daemon's API at {self.url} does not answer: {exc}"
            ) from None
        if response.status_code == 404:
            raise DaemonUnreachable(
                f"the station daemon at {self.url} has no {path}; include station.diag.api in its API"
            )
        if response.status_code != 200:
            reason = _reason(response)
            if response.status_code in (401, 403) and self.token_problem:
                reason = f"{reason}; {self.token_problem}"
            raise DaemonRefused(
                response.status_code,
                f"the station daemon answered {path} with HTTP {response.status_code}"
                + (f": {reason}" if reason else ""),
            )
        try:
            answer = response.json()
        except ValueError:
            raise DaemonUnreachable(
                f"the station daemon answered {path} with something other than JSON"
            ) from None
        if not isinstance(answer, dict):
            raise DaemonUnreachable(f"the station daemon answered {path} with a JSON {type(answer).__name__}")
        return answer


def _reason(response: requests.Response) -> str:
    """The message of an error answer (``{"detail": ...}`` or ``{"message": ...}``), else ""."""
    try:
        answer = response.json()
    except ValueError:
        return ""
    if not isinstance(answer, dict):
        return ""
    reason = answer.get("message") or answer.get("detail") or ""
    return reason if isinstance(reason, str) else ""


def read_token(config: StationConfig) -> tuple[str | None, str]:
    """The daemon's diag token from ``<data_dir>/diag.token``, or None and why not."""
    path = config.storage.data_dir / TOKEN_FILE
    try:
        token = path.read_text(encoding="ascii").strip()
    except PermissionError:
        return None, f"{path} cannot be read: run livescan diag as root or as the station's service user"
    except FileNotFoundError:
        return None, f"{path} is missing: the daemon writes it at start; restart it (an older version?)"
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{path} cannot be read ({exc})"
    return (token, "") if token else (None, f"{path} is empty: restart the station daemon")


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
        return Daemon(holder or None, url, *read_token(config))
    if url is None:
        return None
    try:
        Daemon(None, url).get("/api/station", timeout=1.0)
    except DaemonUnreachable:
        return None
    return Daemon(None, url, *read_token(config))
