"""Waiting for SIGTERM or SIGINT without a lock in the signal handler.

    with StopSignals() as signals:
        start()
        received = signals.wait()   # blocks until the first of them arrives
        stop()                      # more of them meanwhile are swallowed
    # the previous handlers are back

The handler only writes the signal's number to a pipe. A handler that took a lock
(``threading.Event.set``) deadlocks the main thread when a signal arrives while that thread holds
the lock -- inside the handler itself, when a burst of signals arrives (a held Ctrl-C, or a
``kill`` that reaches both ``timeout`` and its child).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from collections.abc import Callable, Iterable
from types import FrameType, TracebackType
from typing import Any, overload

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

Handler = Callable[[int, FrameType | None], Any] | int | None  # None: set outside Python


class StopSignals:
    """Installs the handlers on enter (main thread only) and restores the previous ones on exit."""

    def __init__(self, signals: Iterable[signal.Signals] = STOP_SIGNALS) -> None:
        self.signals = tuple(signals)
        self._previous: dict[signal.Signals, Handler] = {}
        self._reader = self._writer = -1

    def __enter__(self) -> StopSignals:
        self._reader, self._writer = os.pipe()
        os.set_blocking(self._writer, False)
        try:
            for signum in self.signals:
                self._previous[signum] = signal.signal(signum, self._handle)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        for fd in (self._reader, self._writer):  # closed only once no handler can write
            if fd >= 0:
                os.close(fd)
        self._reader = self._writer = -1

    @overload
    def wait(self) -> signal.Signals: ...
    @overload
    def wait(self, timeout: float) -> signal.Signals | None: ...

    def wait(self, timeout: float | None = None) -> signal.Signals | None:
        """The first stop signal received (now or already), or None after ``timeout`` seconds."""
        ready, _, _ = select.select([self._reader], [], [], timeout)
        if not ready:
            return None
        return signal.Signals(os.read(self._reader, 1)[0])

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(BlockingIOError):  # a full pipe has asked already
            os.write(self._writer, bytes([signum]))
