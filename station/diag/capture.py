"""``livescan diag capture``: one test capture, saved as PNG with its minutiae drawn, with its
NFIQ 2 score, minutiae count, and upload time against the line limit (the least time the image's
bytes need at the baud rate and packet size in use).

The picture is the technician's own test print, written only where they asked; it never goes into
a support bundle.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from biometrics.extractor import Extractor, Minutia, MinutiaKind
from drivers.errors import SensorError
from drivers.sensor import Sensor
from station import sensor_tools
from station.diag.report import FAIL, OK, WARN, Finding

CHECK = "capture"
SLOW_FACTOR = 1.5  # an upload slower than this many times the line limit is worth a warning
RIDGE_ENDING = (230, 30, 30)
BIFURCATION = (0, 90, 255)


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


def test_capture(sensor: Sensor, out: Path, wait_s: float, *, extractor: Extractor | None = None) -> Finding:
    """Wait up to ``wait_s`` for a finger, upload, assess and save ``out``; the finding."""
    try:
        sensor_tools.wait_for_finger(sensor, wait_s)
        captured = sensor_tools.capture_image(sensor)
    except sensor_tools.NoFingerInTime as exc:
        return Finding(CHECK, "capture", FAIL, str(exc), "place a finger on the glass while the check waits")
    except SensorError as exc:
        return Finding(CHECK, "capture", FAIL, f"the capture failed: {exc}")
    processed = (extractor or Extractor()).process(captured.image, 1)
    draw_minutiae(captured.image, processed.minutiae).save(out, format="PNG")
    quality = processed.quality
    ratio = captured.upload_seconds / captured.line_limit_seconds if captured.line_limit_seconds else 0.0
    data = {
        "png": str(out),
        "nfiq2": processed.nfiq2,
        "minutiae": quality.minutiae_count,
        "reliable_minutiae": quality.reliable_minutiae,
        "upload_s": round(captured.upload_seconds, 3),
        "line_limit_s": round(captured.line_limit_seconds, 3),
        "upload_vs_line_limit": round(ratio, 2),
        "baudrate": sensor.baudrate,
        "packet_size": sensor.packet_size,
    }
    summary = (
        f"NFIQ 2 {processed.nfiq2 if processed.nfiq2 is not None else 'n/a'}, {quality.minutiae_count} "
        f"minutiae; upload {captured.upload_seconds:.2f} s (line limit {captured.line_limit_seconds:.2f} s "
        f"at {sensor.baudrate} baud); saved {out}"
    )
    advice = []
    if ratio > SLOW_FACTOR:
        advice.append(
            f"the upload took {ratio:.1f} x the line limit: a slow USB adapter or a busy host; "
            "try another adapter or the Pi's own UART"
        )
    if not quality.accepted:
        advice.append("the print would be refused: " + (" ".join(quality.feedback) or "retake it"))
    return Finding(CHECK, "capture", WARN if advice else OK, summary, "; ".join(advice), data)
