"""``livescan central serve`` in a child process, for tests, benchmarks and demos.

    with CentralProcess(pki_dir, data_dir, log=tmp / "central.log") as centre:
        requests.get(centre.url + "/v1/transactions/...", cert=..., verify=...)

The child listens on 127.0.0.1 with a free port; its output goes to ``log`` (a file, so a chatty
child can never block on a full pipe) and ``url`` is read from its ready line. Every wait is
bounded; ``stop`` sends SIGTERM, then SIGKILL after ``stop_timeout``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from central.server import READY_PREFIX

_READY = re.compile(re.escape(READY_PREFIX) + r"(https://\S+)")
REPO_ROOT = Path(__file__).resolve().parents[1]


class CentralProcessError(RuntimeError):
    """The child did not come up; the message ends with its log."""


class CentralProcess:
    def __init__(
        self,
        pki_dir: Path,
        data_dir: Path,
        *,
        log: Path,
        options: Sequence[str] = (),
        python_path: Sequence[Path] = (),
        start_timeout: float = 30.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.command = [
            sys.executable, "-m", "central", "serve", "--host", "127.0.0.1", "--port", "0",
            "--pki", str(pki_dir), "--data", str(data_dir), *options,
        ]  # fmt: skip
        self.log = log
        self._env = {**os.environ, "PYTHONPATH": _pythonpath([*python_path, REPO_ROOT])}
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def __enter__(self) -> CentralProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> str:
        offset = self.log.stat().st_size if self.log.exists() else 0  # a restart appends to the same log
        with self.log.open("ab") as output:
            self._process = subprocess.Popen(
                self.command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self._env, cwd=REPO_ROOT,
            )  # fmt: skip
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            found = _READY.search(self._log_text(offset))
            if found:
                self.url = found.group(1)
                return self.url
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise CentralProcessError(f"central serve did not start; its log:\n{self._log_text(offset)[-4000:]}")

    def stop(self) -> int | None:
        """SIGTERM, wait, SIGKILL if needed; the exit code."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                return process.wait(self._stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
        return process.wait(self._stop_timeout)

    def kill(self) -> None:
        """SIGKILL at once (crash tests)."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait(self._stop_timeout)

    def _log_text(self, offset: int) -> str:
        with self.log.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", "replace")


def _pythonpath(paths: Sequence[Path]) -> str:
    """``paths`` (e.g. where a test matcher lives) before this process's own PYTHONPATH."""
    existing = os.environ.get("PYTHONPATH")
    return os.pathsep.join([*map(str, paths), *([existing] if existing else [])])
