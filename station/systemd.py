"""systemd service notifications (``sd_notify``) without a new dependency.

Under ``Type=notify`` systemd passes ``NOTIFY_SOCKET`` (a path, or ``@name`` for an abstract
socket); the daemon sends ``READY=1`` once it serves, ``WATCHDOG=1`` at half of
``WATCHDOG_USEC`` while its workers are healthy, and ``STOPPING=1`` when it shuts down. Outside
systemd (no ``NOTIFY_SOCKET``) every call does nothing. A failed send is logged once and never
stops the daemon: the service manager, not the daemon, decides what a missed ping means.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends ``KEY=VALUE`` lines to the service manager's datagram socket, if there is one."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.address = _socket_address(environ.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval = _watchdog_interval(environ)
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, **fields: str | int) -> bool:
        """Send one message (``notify(READY=1, STATUS="serving")``); whether it was sent."""
        if self.address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as connection:
                connection.setblocking(False)  # a manager that stopped reading must not stall the daemon
                connection.sendto(message, self.address)
        except OSError as exc:
            if not self._warned:
                log.warning("cannot notify systemd at %s: %s", self.address, exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify(READY=1, **({"STATUS": status} if status else {}))

    def stopping(self, status: str = "") -> bool:
        return self.notify(STOPPING=1, **({"STATUS": status} if status else {}))

    def watchdog(self) -> bool:
        return self.notify(WATCHDOG=1)


class WatchdogPinger:
    """A thread that sends ``WATCHDOG=1`` every ``notifier.watchdog_interval`` seconds, but only
    while ``healthy()`` is true: a stuck worker then lets systemd restart the service."""

    def __init__(self, notifier: Notifier, healthy: Callable[[], bool]) -> None:
        self.notifier = notifier
        self.healthy = healthy
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unhealthy_logged = False

    def start(self) -> None:
        if self.notifier.watchdog_interval is None or not self.notifier.enabled:
            return
        self._thread = threading.Thread(target=self._run, name="systemd-watchdog", daemon=True)
        self._thread.start()

    def ping(self) -> bool:
        """One check: ping if healthy; whether a ping was sent."""
        try:
            healthy = self.healthy()
        except Exception:
            log.exception("health check failed")
            healthy = False
        if not healthy:
            if not self._unhealthy_logged:
                log.error("a worker is unhealthy: watchdog pings withheld, systemd will restart the station")
                self._unhealthy_logged = True
            return False
        self._unhealthy_logged = False
        return self.notifier.watchdog()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _run(self) -> None:
        assert self.notifier.watchdog_interval is not None
        while not self._stop.wait(self.notifier.watchdog_interval):
            self.ping()


def _socket_address(value: str) -> str | None:
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]  # abstract namespace
    if value.startswith("/"):
        return value
    log.warning("NOTIFY_SOCKET=%r is neither a path nor @abstract; not notifying systemd", value)
    return None


def _watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Half of ``WATCHDOG_USEC`` in seconds, if the watchdog is meant for this process."""
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 2_000_000
