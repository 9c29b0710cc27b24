"""`livescan demo` and `livescan sensor demo`, run as a user runs them."""

from __future__ import annotations

import os
import re
import select
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

LIVESCAN = [sys.executable, "-m", "station.cli"]
POPULATION = "5"  # enrolled once into the demo cache (~/.cache/livescan/demo), then copied


def test_sensor_demo_finds_the_simulator_negotiates_and_saves_a_capture(tmp_path: Path) -> None:
    out = tmp_path / "capture.png"
    result = subprocess.run(
        [*LIVESCAN, "sensor", "demo", "--no-timing", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "found r307 at 57600 baud" in result.stdout
    assert "found again at 115200 baud, 256-byte packets" in result.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # a fingerprint: its owner's eyes only
    image = np.asarray(Image.open(out))
    assert image.shape == (288, 256)
    assert image.std() > 20  # a print, not a blank frame


def _read_until(process: subprocess.Popen[bytes], pattern: str, timeout: float) -> tuple[re.Match[str], str]:
    """Read the demo's output until ``pattern`` matches; (the match, everything read)."""
    assert process.stdout is not None
    output = ""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([process.stdout], [], [], remaining)
        if not ready:
            break
        chunk = os.read(process.stdout.fileno(), 65536)
        if not chunk:
            break
        output += chunk.decode(errors="replace")
        if found := re.search(pattern, output):
            return found, output
    raise AssertionError(f"no {pattern!r} in {timeout:.0f} s; the demo printed:\n{output[-3000:]}")


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def _send(pid: int, signum: signal.Signals, count: int) -> None:
    """``count`` signals from another process, yielding the CPU after each so that they land while
    the handler runs: a handler that takes a lock deadlocks under them."""
    burst = f"import os, time\nfor _ in range({count}):\n    os.kill({pid}, {int(signum)})\n    time.sleep(0)"
    subprocess.run([sys.executable, "-c", burst], check=True, timeout=60)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("stop_signal", "count"), [(signal.SIGINT, 2000), (signal.SIGTERM, 1)], ids=["ctrl-c-held", "sigterm"]
)
def test_demo_serves_the_kiosk_and_stops_every_child(
    tmp_path: Path, stop_signal: signal.Signals, count: int
) -> None:
    demo = subprocess.Popen(
        [*LIVESCAN, "demo", "--workdir", str(tmp_path / "work"), "--population", POPULATION, "--no-timing"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _, output = _read_until(demo, r"Ctrl-C stops everything", timeout=240)
        url = re.search(r"kiosk: (http://127\.0\.0\.1:\d+/)\n", output).group(1)  # type: ignore[union-attr]
        assert "central service at https://127.0.0.1:" in output  # real TLS to the centre
        page = requests.get(url, timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert requests.get(url + "api/station", timeout=10).json()["demo"] is True
        pin = re.search(r"operator id 'officer', PIN (\d+)", output).group(1)  # type: ignore[union-attr]
        session = requests.Session()
        assert session.post(url + "api/session", json={"operator": "officer", "pin": pin}, timeout=30).ok
        subjects = session.get(url + "api/demo/subjects", timeout=10).json()["subjects"]
        assert [s["id"] for s in subjects] == ["S0001", "S0002", "S0003", "S0004", "S0005"]
        assert {tuple(s["galleries"]) for s in subjects} >= {("criminal", "immigration"), ()}

        children = _children(demo.pid)
        assert len(children) >= 2  # simulator and centre (processing runs on a thread of the station)
        _send(demo.pid, stop_signal, count)
        assert demo.wait(timeout=90) == 0
        _read_until(demo, r"stopped: station, central service and simulator", timeout=5)
        deadline = time.monotonic() + 15  # multiprocessing's resource tracker leaves when its pipe closes
        while [pid for pid in children if _alive(pid)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in children if _alive(pid)] == []
    finally:
        if demo.poll() is None:  # failed half-way: leave nothing running
            leftovers = _children(demo.pid)
            demo.kill()
            demo.wait(10)
            for pid in leftovers:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
        if demo.stdout is not None:
            demo.stdout.close()
