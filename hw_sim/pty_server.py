"""A simulated module on a pseudo-terminal, for programs in other processes, plus its control socket.

One thread, one ``select`` loop: it sleeps until the host writes, a control client talks, or the
line's next byte is due. The server keeps its own slave fd open so the pty survives clients
closing it. The host's baud rate is read from the pty (the slave's termios, visible on the master).

Unplug closes the pty: clients' reads and writes fail (EIO), like a USB adapter pulled out. Plug
opens a new pty, whose path may differ; ``link`` keeps a symlink pointing at the current one and
``on_device`` is told each new path.

Optionally the same module is also served on a TCP listener (``tcp=(host, port)``, loopback only),
for pyserial's ``socket://HOST:PORT``: raw bytes both ways, exactly as on the pty, in the same loop.

* One client at a time: a connection made while another is active is accepted and closed at once
  (the client reads end-of-file), like a port someone else holds exclusively. The same happens
  while the device is unplugged, and unplugging closes the active client.
* TCP carries no baud rate, so a TCP host is taken to be at the module's active baud rate: its
  bytes are never garbled by a mismatch, and a baud change the host "makes" is meaningless.
* The pty and the TCP client share one module and one line. Bytes from either go to the line; what
  the module sends goes to the endpoint that most recently sent bytes (the pty until the first
  TCP bytes); nothing is duplicated. When that endpoint is a TCP client that disconnects, output
  is dropped until an endpoint sends again (so a new client never gets an old client's reply).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import select
import socket
import struct
import sys
import termios
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hw_sim.control import dispatch
from hw_sim.devices import SimulatedDevice

_TCGETS2 = getattr(termios, "TCGETS2", 0x802C542A)
_TERMIOS2 = struct.Struct("4I B 19s 2I")  # flags, c_line, c_cc, c_ispeed, c_ospeed (Linux)
_POSIX_SPEEDS = {
    getattr(termios, f"B{rate}"): rate
    for rate in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)
    if hasattr(termios, f"B{rate}")
}


#: The only address the TCP listener may bind: this project never listens beyond loopback.
TCP_HOST = "127.0.0.1"
_LOOPBACK_NAMES = {TCP_HOST, "localhost"}


def tcp_address(spec: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``PORT`` (meaning 127.0.0.1:PORT; 0 picks a free port) as (host, port).

    Raises ``ValueError`` for a malformed spec or any host but 127.0.0.1 / localhost.
    """
    host, separator, port_text = spec.strip().rpartition(":")
    if not separator:
        host = TCP_HOST
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"TCP port must be a number, not {port_text!r} (use PORT or HOST:PORT)") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"TCP port must be 0..65535, not {port}")
    return _loopback(host), port


def _loopback(host: str) -> str:
    if host.strip("[]").lower() not in _LOOPBACK_NAMES:
        raise ValueError(
            f"refusing to listen on {host!r}: the simulator only listens on {TCP_HOST} (loopback)"
        )
    return TCP_HOST


def host_baud(master_fd: int) -> int:
    """The baud rate the client set on the slave side of the pty."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            raw = fcntl.ioctl(master_fd, _TCGETS2, bytes(_TERMIOS2.size))
            return _TERMIOS2.unpack(raw)[-1]
    return _POSIX_SPEEDS.get(termios.tcgetattr(master_fd)[5], 0)


class PtyServer:
    """Serves ``device`` on a pty and its controls on the unix socket ``control_path``.

    With ``tcp=(host, port)`` the device is also served on a loopback TCP listener (port 0 picks a
    free one; ``tcp_address`` says which).
    """

    def __init__(
        self,
        device: SimulatedDevice,
        control_path: str | Path,
        *,
        link: str | Path | None = None,
        on_device: Callable[[str], None] = lambda path: None,
        tcp: tuple[str, int] | None = None,
    ) -> None:
        self._tcp_listener: socket.socket | None = None
        self._tcp_client: socket.socket | None = None
        self._tcp_outgoing = bytearray()
        self._route: str | None = "pty"  # the endpoint that sent last; its output goes there
        if tcp is not None:
            self._tcp_listener = self._listen_tcp(*tcp)
        self.device = device
        self.control_path = Path(control_path)
        self.link = Path(link) if link is not None else None
        self.on_device = on_device
        self.device_path = ""
        self._master: int | None = None
        self._slave: int | None = None
        self._outgoing = bytearray()
        self._clients: dict[socket.socket, bytearray] = {}
        self._wake_reader, self._wake_writer = os.pipe()
        os.set_blocking(self._wake_writer, False)
        self._running = False
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            self.control_path.unlink()
        self._listener.bind(str(self.control_path))
        self._listener.listen()
        self._open_pty()

    # --- the TCP listener ---------------------------------------------------------------------

    @staticmethod
    def _listen_tcp(host: str, port: int) -> socket.socket:
        address = (_loopback(host), port)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(address)
            listener.listen()
        except BaseException:
            listener.close()
            raise
        listener.setblocking(False)
        return listener

    @property
    def tcp_address(self) -> str | None:
        """``127.0.0.1:PORT`` of the TCP listener (the real port), or None without one."""
        if self._tcp_listener is None:
            return None
        host, port = self._tcp_listener.getsockname()[:2]
        return f"{host}:{port}"

    def _accept_tcp(self) -> None:
        assert self._tcp_listener is not None
        try:
            connection, _ = self._tcp_listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        if self._tcp_client is not None or not self.device.line.plugged:
            connection.close()  # held by another client, or no device behind the port
            return
        connection.setblocking(False)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._tcp_client = connection
        self._tcp_outgoing.clear()

    def _drop_tcp_client(self) -> None:
        if self._tcp_client is not None:
            self._tcp_client.close()
        self._tcp_client = None
        self._tcp_outgoing.clear()
        if self._route == "tcp":
            self._route = None  # what is still coming for the old client goes nowhere

    def _from_tcp(self) -> None:
        assert self._tcp_client is not None
        try:
            data = self._tcp_client.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop_tcp_client()
            return
        with self.device.condition:
            line = self.device.line
            line.host_baud = line.module.active_baud  # TCP has no baud rate: always the module's
            line.write(data)
        self._route = "tcp"

    def _flush_tcp(self) -> None:
        if self._tcp_client is None or not self._tcp_outgoing:
            return
        try:
            sent = self._tcp_client.send(self._tcp_outgoing)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop_tcp_client()
            return
        del self._tcp_outgoing[:sent]

    # --- the pty ------------------------------------------------------------------------------

    def _open_pty(self) -> None:
        self._master, self._slave = pty.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.device_path = os.ttyname(self._slave)
        self._outgoing.clear()
        if self.link is not None:
            temporary = self.link.with_name(f".{self.link.name}.new")
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            temporary.symlink_to(self.device_path)
            temporary.replace(self.link)
        self.on_device(self.device_path)

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def _follow_plug_state(self) -> None:
        plugged = self.device.line.plugged
        if plugged and self._master is None:
            self._open_pty()
        elif not plugged and self._master is not None:
            self._close_pty()
            self._drop_tcp_client()

    # --- the loop -----------------------------------------------------------------------------

    def serve_forever(self) -> None:
        self._running = True
        try:
            while self._running:
                self._step()
        finally:
            self.close()

    def stop(self) -> None:
        """Ask ``serve_forever`` to return (safe from a signal handler)."""
        self._running = False
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_writer, b"x")

    def _step(self) -> None:
        line = self.device.line
        release = line.next_release() if line.plugged else None
        timeout = None if release is None else max(release - line.clock(), 0.0)
        readers: list[Any] = [self._listener, self._wake_reader, *self._clients]
        writers: list[Any] = []
        if self._master is not None:
            readers.append(self._master)
            if self._outgoing:
                writers.append(self._master)
        if self._tcp_listener is not None:
            readers.append(self._tcp_listener)
        if self._tcp_client is not None:
            readers.append(self._tcp_client)
            if self._tcp_outgoing:
                writers.append(self._tcp_client)
        readable, _, _ = select.select(readers, writers, [], timeout)
        if self._wake_reader in readable:
            os.read(self._wake_reader, 1024)
        if self._listener in readable:
            connection, _ = self._listener.accept()
            self._clients[connection] = bytearray()
        for client in [c for c in readable if c in self._clients]:
            self._serve_client(client)
        if self._tcp_client is not None and self._tcp_client in readable:
            self._from_tcp()
        if self._tcp_listener is not None and self._tcp_listener in readable:
            self._accept_tcp()
        if self._master is not None and self._master in readable:
            self._from_host()
        self._to_host()

    def _from_host(self) -> None:
        try:
            data = os.read(self._master, 65536)
        except (BlockingIOError, InterruptedError):
            return
        with self.device.condition:
            self.device.line.host_baud = host_baud(self._master)
            self.device.line.write(data)
        self._route = "pty"

    def _to_host(self) -> None:
        """Move what the module has sent by now to the endpoint that spoke last, and flush."""
        if self._master is None:
            return
        with self.device.condition:
            data = self.device.line.read(self.device.line.available())
        if self._route == "pty":
            self._outgoing += data
        elif self._route == "tcp" and self._tcp_client is not None:
            self._tcp_outgoing += data
        self._flush_tcp()
        if self._outgoing:
            with contextlib.suppress(BlockingIOError):
                written = os.write(self._master, self._outgoing)
                del self._outgoing[:written]

    # --- control clients ----------------------------------------------------------------------

    def _serve_client(self, client: socket.socket) -> None:
        buffer = self._clients[client]
        chunk = client.recv(65536)
        if not chunk:
            del self._clients[client]
            client.close()
            return
        buffer += chunk
        while b"\n" in buffer:
            line, _, rest = bytes(buffer).partition(b"\n")
            buffer[:] = rest
            client.sendall(json.dumps(self.handle(line)).encode() + b"\n")

    def handle(self, line: bytes) -> dict[str, Any]:
        """The response to one JSON request line."""
        try:
            request = json.loads(line)
        except ValueError as error:
            return {"ok": False, "error": f"not JSON: {error}"}
        if not isinstance(request, dict):
            return {"ok": False, "error": "a request is a JSON object"}
        if request.get("cmd") == "shutdown":
            self.stop()
            return {"ok": True}
        response = dispatch(self.device, {k: v for k, v in request.items() if v is not None})
        self._follow_plug_state()
        if request.get("cmd") in ("status", "plug"):
            response["device"] = self.device_path if self._master is not None else None
        if request.get("cmd") == "status" and self._tcp_listener is not None:
            response["tcp"] = {"address": self.tcp_address, "connected": self._tcp_client is not None}
        return response

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._listener.close()
        self._drop_tcp_client()
        if self._tcp_listener is not None:
            self._tcp_listener.close()
        with contextlib.suppress(FileNotFoundError):
            self.control_path.unlink()
        self._close_pty()
        for fd in (self._wake_reader, self._wake_writer):
            os.close(fd)
