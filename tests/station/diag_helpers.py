"""Surroundings for the ``livescan diag`` tests: a fake host tree, ptys with nothing or garbage
behind them, an in-process simulator per test, a real mutual-TLS "centre" with a chosen clock."""

from __future__ import annotations

import http.server
import os
import pty
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import hw_sim
from drivers.sensor import FAST_TIMING

WINDOW = 0.08  # seconds of listening per baud rate: the simulator without timing answers at once
TIMING = FAST_TIMING


def sim_url(**settings: object) -> str:
    """A fresh in-process simulator (``timing=0``) with ``settings`` as its query."""
    query = "&".join(["timing=0", *(f"{key}={value}" for key, value in settings.items())])
    return f"sim://diag-{uuid.uuid4().hex[:10]}?{query}"


def sim_device(url: str) -> hw_sim.SimulatedDevice:
    return hw_sim.device(url.split("://", 1)[1].split("?", 1)[0])


def write(root: Path, absolute: str, text: str | bytes) -> Path:
    path = root / absolute.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def link(root: Path, absolute: str, target: str) -> None:
    path = root / absolute.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def fake_pi(root: Path, model: str, *, cmdline: str = "console=tty1 root=/dev/mmcblk0p2 rootwait") -> Path:
    """A Pi's /proc, /dev and /boot under ``root``: the device nodes are plain files, the serial
    aliases relative symlinks as udev makes them."""
    write(root, "/proc/device-tree/model", model.encode() + b"\0")
    write(root, "/proc/cmdline", cmdline + "\n")
    write(root, "/boot/firmware/cmdline.txt", cmdline + "\n")
    for node in ("ttyAMA0", "ttyAMA10", "ttyS0"):
        write(root, f"/dev/{node}", "")
    if "Pi 5" in model:
        link(root, "/dev/serial0", "ttyAMA10")
    else:
        link(root, "/dev/serial0", "ttyS0")
        link(root, "/dev/serial1", "ttyAMA0")
    return root


def fake_process(root: Path, pid: int, name: str, *targets: str) -> None:
    """A process in the fake /proc with ``targets`` open (fd symlinks, as the kernel shows them)."""
    write(root, f"/proc/{pid}/comm", name + "\n")
    fds = root / "proc" / str(pid) / "fd"
    fds.mkdir(parents=True, exist_ok=True)
    for number, target in enumerate(("/dev/null", *targets)):
        (fds / str(number)).symlink_to(target)


@contextmanager
def silent_pty() -> Iterator[str]:
    """A pty whose other end holds nothing: what a port with no module wired looks like."""
    master, slave = pty.openpty()
    try:
        yield os.ttyname(slave)
    finally:
        os.close(slave)
        os.close(master)


@contextmanager
def garbage_pty() -> Iterator[str]:
    """A pty answering every write with bytes that never hold the EF 01 start code (a module at a
    rate the host does not match sounds like this)."""
    master, slave = pty.openpty()
    stop = threading.Event()

    def answer() -> None:
        import select

        for _ in range(100_000):
            if stop.is_set():
                return
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
                os.write(
                    master,
                    bytes((0x3C ^ (i * 7)) & 0xFF for i in range(len(data) + 5)).replace(b"\xef", b"\xee"),
                )
            except OSError:
                return

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield os.ttyname(slave)
    finally:
        stop.set()
        thread.join(2)
        os.close(slave)
        os.close(master)


@dataclass
class Centre:
    url: str
    ca: Path
    cert: Path
    key: Path


@contextmanager
def tls_centre(pki: Path, *, clock_offset_s: float = 0.0, station: str = "NY0303000-K01") -> Iterator[Centre]:
    """An HTTPS server on 127.0.0.1 that demands a client certificate from the site CA (as the
    centre does) and stamps its answers with a clock ``clock_offset_s`` away from this one."""
    from central.pki import PkiLayout

    layout = PkiLayout(pki)

    class Handler(http.server.BaseHTTPRequestHandler):
        def date_time_string(self, timestamp: float | None = None) -> str:
            import time

            return formatdate(time.time() + clock_offset_s, usegmt=True)

        def do_HEAD(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(layout.server_cert, layout.server_key)
    context.load_verify_locations(layout.ca_cert)
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        cert = pki / "stations" / f"{station}.pem"
        key = pki / "stations" / f"{station}.key"
        yield Centre(f"https://localhost:{server.server_address[1]}", layout.ca_cert, cert, key)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
