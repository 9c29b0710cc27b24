"""`livescan demo`, the README's main command, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def test_demo_finds_the_simulator_negotiates_and_saves_a_capture(tmp_path: Path) -> None:
    out = tmp_path / "capture.png"
    result = subprocess.run(
        [sys.executable, "-m", "station.cli", "demo", "--no-timing", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "found r307 at 57600 baud" in result.stdout
    assert "found again at 115200 baud, 256-byte packets" in result.stdout
    image = np.asarray(Image.open(out))
    assert image.shape == (288, 256)
    assert image.std() > 20  # a print, not a blank frame
