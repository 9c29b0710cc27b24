"""`livescan sensor probe|capture` against the simulator on a pty, run as a technician would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hw_sim.process import SimProcess


def livescan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "station.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def sim(tmp_path: Path):
    with SimProcess(tmp_path / "control.sock", "--no-timing", "--baud-change", "immediate") as process:
        yield process


def test_probe_reports_the_module(sim: SimProcess) -> None:
    result = livescan("sensor", "probe", sim.device, "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["model"] == "r307"
    assert info["capacity"] == 1000
    assert info["baudrate"] == 115200 and info["baud_change"] == "immediate"


def test_capture_saves_a_png(sim: SimProcess, tmp_path: Path) -> None:
    sim.control.finger(True, "S0003", 4)
    out = tmp_path / "print.png"
    result = livescan("sensor", "capture", sim.device, "--out", str(out), "--wait", "10")
    assert result.returncode == 0, result.stderr
    assert "saved" in result.stdout
    image = np.asarray(Image.open(out))
    assert image.shape == (288, 256) and image.std() > 20


def test_capture_without_a_finger_says_so(sim: SimProcess, tmp_path: Path) -> None:
    result = livescan("sensor", "capture", sim.device, "--out", str(tmp_path / "x.png"), "--wait", "0.5")
    assert result.returncode == 1
    assert "no finger on the sensor" in result.stderr


def test_missing_device_is_a_clear_error() -> None:
    result = livescan("sensor", "probe", "/dev/ttyNOPE")
    assert result.returncode == 1
    assert "DeviceNotFound: no serial device at /dev/ttyNOPE" in result.stderr
