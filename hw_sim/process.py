"""Run the simulator on a pseudo-terminal in a child process, as another program would see it."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from hw_sim.control import SimControl

STARTUP_SECONDS = 20.0


class SimProcess:
    """``python -m hw_sim`` in a child process: its pty device path and its control client.

    ``options`` are the ``livescan sim`` command-line options. With ``--tcp`` among them, ``tcp``
    is the listener's ``127.0.0.1:PORT`` (the real port, also for ``--tcp 0``); otherwise None.
    Use as a context manager; leaving it stops the child with SIGTERM (then SIGKILL) and checks
    nothing else.
    """

    def __init__(self, control_path: Path, *options: str) -> None:
        self.control_path = Path(control_path)
        command = [sys.executable, "-m", "hw_sim", "--control", str(self.control_path), *options]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, bufsize=0)
        serves_tcp = any(option == "--tcp" or option.startswith("--tcp=") for option in options)
        try:
            announced = self._read_announcements(3 if serves_tcp else 2)
        except BaseException:
            self.kill()
            raise
        self.device = announced["device"]
        self.tcp: str | None = announced.get("tcp")
        self.control = SimControl(self.control_path)

    def _read_announcements(self, count: int) -> dict[str, str]:
        """The first ``count`` 'label: value' lines the simulator prints, read with a deadline."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        output = b""
        while output.count(b"\n") < count:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(remaining, 0))
            if not ready:
                raise TimeoutError(f"the simulator printed only {output!r} in {STARTUP_SECONDS:.0f} s")
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"the simulator exited after printing {output!r}")
            output += chunk
        lines = output.decode().splitlines()[:count]
        return dict(line.split(": ", 1) for line in lines)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; the exit status (SIGKILL after ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
