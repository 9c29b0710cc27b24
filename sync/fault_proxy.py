"""A fault-injecting TCP proxy on 127.0.0.1 between the station and the centre, for tests and drills.

    with FaultProxy(centre_port, tls=server_context) as proxy:    # station -> proxy.url -> centre
        proxy.plan(Fault.LOSE_REPLY, Fault.UNAVAILABLE)           # the next two connections
        proxy.refuse(); ...; proxy.accept()                        # connection refused meanwhile
        proxy.upstream_port = restarted_centre_port                # the centre came back elsewhere

TLS runs end to end through the proxy (it only sees bytes), so the faults are placed by byte
counts: the client's first ``request_after`` bytes are its TLS handshake, what follows is its
request. Each planned connection gets one fault; unplanned ones pass through.

* ``RESET_REQUEST``: forwards ``request_after`` + ``reset_after`` bytes of the request, then resets
  both connections: the centre never has the whole request.
* ``LOSE_REPLY``: forwards the whole request; once the centre answers (so it has committed), drops
  the answer, waits ``settle`` seconds for the rest of it, and resets the client.
* ``TRICKLE``: the answer arrives ``trickle_bytes`` every ``trickle_delay`` seconds (set it slower
  than the client's read timeout).
* ``UNAVAILABLE``: the proxy ends TLS itself (``tls``: a server context of the site) and answers
  ``503`` with ``Retry-After: retry_after``.
* ``TLS_FAILURE``: answers the TLS ClientHello with plain text.

Every wait is bounded; nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import ssl
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any

HOST = "127.0.0.1"
UPSTREAM_CONNECT_TIMEOUT = 5.0


class Fault(StrEnum):
    PASS = "pass"
    RESET_REQUEST = "reset-request"
    LOSE_REPLY = "lose-reply"
    TRICKLE = "trickle"
    UNAVAILABLE = "unavailable"
    TLS_FAILURE = "tls-failure"


@dataclass
class Connection:
    fault: Fault
    sent: int = 0  # client -> centre bytes forwarded
    answered: int = 0  # centre -> client bytes seen
    dropped: int = 0  # of those, not passed on
    upstream_down: bool = False


class _Reset(Exception):
    pass


class FaultProxy:
    def __init__(
        self, upstream_port: int, *, tls: ssl.SSLContext | None = None, retry_after: int = 1,
        request_after: int = 4096, reset_after: int = 4096, settle: float = 0.3,
        trickle_bytes: int = 8, trickle_delay: float = 1.0,
    ) -> None:  # fmt: skip
        self.upstream_port = upstream_port
        self.connections: list[Connection] = []
        self._tls, self._retry_after, self._settle = tls, retry_after, settle
        self._request_after, self._reset_after = request_after, reset_after
        self._trickle_bytes, self._trickle_delay = trickle_bytes, trickle_delay
        self._plan: collections.deque[Fault] = collections.deque()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        self.accept()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def plan(self, *faults: Fault) -> None:
        with self._lock:
            self._plan.extend(faults)

    def accept(self) -> None:
        """Listen (again, on the same port once it has one)."""
        self._call(self._listen())

    def refuse(self) -> None:
        """Stop listening: connections are refused until ``accept``."""
        self._call(self._close())

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, HOST, self.port, reuse_address=True)
            self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _shutdown(self) -> None:
        await self._close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            record = Connection(self._plan.popleft() if self._plan else Fault.PASS)
        self.connections.append(record)
        upstream: asyncio.StreamWriter | None = None
        try:
            if record.fault is Fault.TLS_FAILURE:
                await asyncio.wait_for(reader.read(4096), 5)
                writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                return
            if record.fault is Fault.UNAVAILABLE:
                await asyncio.wait_for(self._unavailable(reader, writer), 10)
                return
            try:
                up_reader, upstream = await asyncio.wait_for(
                    asyncio.open_connection(HOST, self.upstream_port), UPSTREAM_CONNECT_TIMEOUT
                )
            except (OSError, TimeoutError):
                record.upstream_down = True
                return
            pumps = {
                asyncio.ensure_future(self._forward(reader, upstream, record)),
                asyncio.ensure_future(self._answer(up_reader, writer, record)),
            }
            done, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if any(not task.cancelled() and isinstance(task.exception(), _Reset) for task in done):
                _reset(writer)
                _reset(upstream)
        except (OSError, TimeoutError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            for stream in (writer, upstream):
                if stream is not None and not stream.is_closing():
                    stream.close()

    async def _forward(
        self, reader: asyncio.StreamReader, upstream: asyncio.StreamWriter, record: Connection
    ) -> None:
        limit = self._request_after + self._reset_after
        while data := await reader.read(65536):
            if record.fault is Fault.RESET_REQUEST and record.sent + len(data) >= limit:
                upstream.write(data[: limit - record.sent])
                await upstream.drain()
                raise _Reset
            record.sent += len(data)
            upstream.write(data)
            await upstream.drain()

    async def _answer(
        self, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: Connection
    ) -> None:
        deadline: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            timeout = None if deadline is None else max(deadline - loop.time(), 0)
            try:
                data = await asyncio.wait_for(up_reader.read(65536), timeout)
            except TimeoutError:
                raise _Reset from None
            if not data:
                return
            record.answered += len(data)
            replying = record.sent >= self._request_after
            if record.fault is Fault.LOSE_REPLY and replying:
                record.dropped += len(data)
                deadline = deadline or loop.time() + self._settle
            elif record.fault is Fault.TRICKLE and replying:
                for start in range(0, len(data), self._trickle_bytes):
                    writer.write(data[start : start + self._trickle_bytes])
                    await writer.drain()
                    await asyncio.sleep(self._trickle_delay)
            else:
                writer.write(data)
                await writer.drain()

    async def _unavailable(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._tls is None:
            raise ValueError("Fault.UNAVAILABLE needs the proxy's tls= server context")
        await writer.start_tls(self._tls)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: %d\r\nContent-Length: 0\r\n"
            b"Connection: close\r\n\r\n" % self._retry_after
        )
        await writer.drain()


def _reset(stream: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0) instead of an orderly FIN."""
    sock = stream.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.transport.abort()
