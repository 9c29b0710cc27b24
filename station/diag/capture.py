"""``livescan diag capture``: one test capture, saved as PNG with its minutiae drawn, with its
NFIQ 2 score, minutiae count, and upload time against the line limit (the least time the image's
bytes need at the baud rate and packet size in use).

The picture is the technician's own test print, written only where they asked; it never goes into
a support bundle. While the station daemon runs, its sensor worker takes the print
(``POST /api/diag/capture``, ``station.diag.api``) with the same ``measure``, ``png`` and ``finding``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from biometrics.extractor import Extractor, Minutia, MinutiaKind, ProcessedPrint
from drivers.errors import SensorError
from drivers.sensor import Sensor
from station import sensor_tools
from station.diag.report import FAIL, OK, WARN, Finding

CHECK = "capture"
SLOW_FACTOR = 1.5  # an upload slower than this many times the line limit is worth a warning
RIDGE_ENDING = (230, 30, 30)
BIFURCATION = (0, 90, 255)
NO_FINGER_ADVICE = "place a finger on the glass while the check waits"


def draw_minutiae(image: np.ndarray, minutiae: Iterable[Minutia]) -> Image.Image:
    """The 8-bit print in colour with each minutia circled and its direction drawn (ridge endings
    red, bifurcations blue)."""
    picture = Image.fromarray(image, mode="L").convert("RGB")
    draw = ImageDraw.Draw(picture)
    for minutia in minutiae:
        colour = BIFURCATION if minutia.kind == MinutiaKind.BIFURCATION else RIDGE_ENDING
        x, y, angle = minutia.x, minutia.y, math.radians(minutia.angle)
        draw.ellipse((x - 4, y - 4, x + 4, y + 4), outline=colour, width=2)
        draw.line((x, y, x + 10 * math.cos(angle), y - 10 * math.sin(angle)), fill=colour, width=2)
    return picture


def png(image: np.ndarray, minutiae: Iterable[Minutia]) -> bytes:
    """``draw_minutiae`` as PNG bytes."""
    buffer = io.BytesIO()
    draw_minutiae(image, minutiae).save(buffer, format="PNG")
    return buffer.getvalue()


def measure(
    captured: sensor_tools.Capture, processed: ProcessedPrint, baudrate: int, packet_size: int
) -> dict[str, Any]:
    """The test capture's figures as plain values (no image, nothing personal)."""
    quality = processed.quality
    limit = captured.line_limit_seconds
    return {
        "nfiq2": processed.nfiq2,
        "minutiae": quality.minutiae_count,
        "reliable_minutiae": quality.reliable_minutiae,
        "accepted": quality.accepted,
        "feedback": list(quality.feedback),
        "upload_s": round(captured.upload_seconds, 3),
        "line_limit_s": round(limit, 3),
        "upload_vs_line_limit": round(captured.upload_seconds / limit, 2) if limit else 0.0,
        "baudrate": baudrate,
        "packet_size": packet_size,
    }


def finding(figures: dict[str, Any], out: Path, *, where: str = "") -> Finding:
    """The finding for a test capture measured as ``figures`` (``measure``) and saved at ``out``."""
    nfiq2 = figures.get("nfiq2")
    ratio = float(figures.get("upload_vs_line_limit") or 0.0)
    summary = (
        f"NFIQ 2 {nfiq2 if nfiq2 is not None else 'n/a'}, {figures.get('minutiae')} minutiae; upload "
        f"{figures.get('upload_s', 0.0):.2f} s (line limit {figures.get('line_limit_s', 0.0):.2f} s at "
        f"{figures.get('baudrate')} baud); saved {out}{where}"
    )
    advice = []
    if ratio > SLOW_FACTOR:
        advice.append(
            f"the upload took {ratio:.1f} x the line limit: a slow USB adapter or a busy host; "
            "try another adapter or the Pi's own UART"
        )
    if not figures.get("accepted", True):
        feedback = " ".join(figures.get("feedback") or ()) or "retake it"
        advice.append(f"the print would be refused: {feedback}")
    data = {"png": str(out), **figures}
    return Finding(CHECK, "capture", WARN if advice else OK, summary, "; ".join(advice), data)


def test_capture(sensor: Sensor, out: Path, wait_s: float, *, extractor: Extractor | None = None) -> Finding:
    """Wait up to ``wait_s`` for a finger, upload, assess and save ``out``; the finding."""
    try:
        sensor_tools.wait_for_finger(sensor, wait_s)
        captured = sensor_tools.capture_image(sensor)
    except sensor_tools.NoFingerInTime as exc:
        return Finding(CHECK, "capture", FAIL, str(exc), NO_FINGER_ADVICE)
    except SensorError as exc:
        return Finding(CHECK, "capture", FAIL, f"the capture failed: {exc}")
    processed = (extractor or Extractor()).process(captured.image, 1)
    out.write_bytes(png(captured.image, processed.minutiae))
    return finding(measure(captured, processed, sensor.baudrate, sensor.packet_size), out)
