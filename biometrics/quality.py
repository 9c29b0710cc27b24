"""The quality gate: is this frame a print, is it good enough, and what should the officer say.

Decided from NFIQ 2, its four actionable measures, and the number of *reliable* minutiae
(mindtct reliability >= 0.5) -- not from the library's SIVV check, which also rejects real prints.

Measured with ``bench/pipeline.py --calibrate`` on 86 real prints cut to R307-like frames
(FVC2002 DB1_B 80, nbis-rs 6), 225 noise frames (gaussian 4- and 8-bit, uniform, binary,
low-pass, band-pass at ridge spacing (plain, narrow, binarised), 25 seeds each) and 5 uniform
frames:

* reliable minutiae: 0 in every noise frame (noise minutiae all have reliability < 0.5), real
  frames 4-33 (p5 7, median 18); the one real frame with fewer than 5 is a faint partial print.
* NFIQ 2 alone cannot tell noise from prints: noise scores up to 48 (narrow band-pass noise,
  median 43) and yields up to 139 minutiae; real frames score 10-81 (p10 32, median 53).
* uniform frames: no minutiae and no NFIQ 2 result; faint frames are caught by NFIQ 2's own
  actionable thresholds (UniformImage < 1, EmptyImageOrContrastTooLow > 250).
* result: no noise or uniform frame passes as a print; 85 of 86 real frames do, and 84 are
  accepted (MIN_NFIQ2 = 20 rejects one more faint partial print, NFIQ 2 10).
* feedback: contact area (SufficientFingerprintForeground) is below NIST's 50,000 pixels in 46
  of 86 real frames (an R307 frame has 73,728), below 30,000 in 4 (5 %, all faint partial
  prints); mean grey (EmptyImageOrContrastTooLow) 100-238, above 220 in 18 (dry or light).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# --- gate thresholds (see the module docstring for the measurements) -----------------------------
RELIABLE_MINUTIA = 0.5  # mindtct reliability from which a minutia counts as reliable
MIN_RELIABLE_MINUTIAE = 5  # noise: 0; real R307-like frames: 4..33
MIN_NFIQ2 = 20  # retake below this (real R307-like frames 10..81)
# NFIQ 2's own actionable-feedback thresholds (ISO/IEC 29794-4, NFIQ2::Thresholds)
UNIFORM_IMAGE_MIN = 1.0  # standard deviation of the image
EMPTY_IMAGE_MAX = 250.0  # mean grey level
# NIST's 50,000-pixel foreground floor would flag half of the real R307-like frames
MIN_FOREGROUND_PIXELS = 30_000
FAINT_IMAGE_MEAN = 220.0  # lighter than this: dry or light contact
OFF_CENTRE_FRACTION = 0.2  # foreground centre further than this share of the frame from its centre
MANY_UNRELIABLE_MINUTIAE = 20  # texture without ridge flow: dirt, residue, noise

# --- officer feedback -----------------------------------------------------------------------------
PLACE_FINGER = "Place the finger on the sensor."
PRESS_FIRMER = "Press more firmly."
CENTRE_FINGER = "Centre the finger on the glass."
CLEAN_GLASS = "Clean the glass, then place the finger again."

UNIFORM_IMAGE = "UniformImage"
EMPTY_IMAGE = "EmptyImageOrContrastTooLow"
MINUTIAE_FOUND = "FingerprintImageWithMinutiae"
FOREGROUND = "SufficientFingerprintForeground"


@dataclass(frozen=True)
class QualityReport:
    """The gate's verdict. ``is_print`` is False for blanks, uniform frames and noise;
    ``accepted`` also needs NFIQ 2 >= MIN_NFIQ2. ``feedback`` holds plain instructions for the
    officer (empty when there is nothing to improve)."""

    nfiq2: int | None  # None: NFIQ 2 could not be computed (ISO/EBTS quality 255)
    is_print: bool
    accepted: bool
    feedback: tuple[str, ...]
    minutiae_count: int
    reliable_minutiae: int
    actionable: Mapping[str, float] = field(default_factory=dict)


def assess_quality(
    nfiq2: int | None,
    actionable: Mapping[str, float],
    reliabilities: Sequence[float],
    foreground_offset: tuple[float, float] = (0.0, 0.0),
) -> QualityReport:
    """Gate one frame.

    ``nfiq2``: the score, None when NFIQ 2 failed; ``actionable``: NFIQ 2's actionable measures
    by name (empty when it failed); ``reliabilities``: mindtct reliability of each minutia;
    ``foreground_offset``: the centre of the print relative to the frame centre, as fractions of
    the frame's width and height.
    """
    reliable = sum(1 for r in reliabilities if r >= RELIABLE_MINUTIA)
    count = len(reliabilities)
    blank = count == 0 or (
        nfiq2 is not None
        and (
            actionable.get(UNIFORM_IMAGE, 0.0) < UNIFORM_IMAGE_MIN
            or actionable.get(EMPTY_IMAGE, 255.0) > EMPTY_IMAGE_MAX
        )
    )
    is_print = not blank and reliable >= MIN_RELIABLE_MINUTIAE
    accepted = is_print and nfiq2 is not None and nfiq2 >= MIN_NFIQ2
    feedback = _feedback(actionable, count, reliable, foreground_offset, blank, accepted)
    return QualityReport(
        nfiq2=nfiq2,
        is_print=is_print,
        accepted=accepted,
        feedback=feedback,
        minutiae_count=count,
        reliable_minutiae=reliable,
        actionable=dict(actionable),
    )


def _feedback(
    actionable: Mapping[str, float],
    count: int,
    reliable: int,
    offset: tuple[float, float],
    blank: bool,
    accepted: bool,
) -> tuple[str, ...]:
    mean = actionable.get(EMPTY_IMAGE, 0.0)
    if blank:
        faint_print = mean > EMPTY_IMAGE_MAX and reliable > 0
        return (PRESS_FIRMER,) if faint_print else (PLACE_FINGER,)
    if reliable < MIN_RELIABLE_MINUTIAE and count >= MANY_UNRELIABLE_MINUTIAE:
        return (CLEAN_GLASS,)
    if reliable == 0:
        return (PLACE_FINGER,)
    advice: list[str] = []
    off_centre = max(abs(offset[0]), abs(offset[1])) > OFF_CENTRE_FRACTION
    if off_centre:
        advice.append(CENTRE_FINGER)
    small = actionable.get(FOREGROUND, MIN_FOREGROUND_PIXELS) < MIN_FOREGROUND_PIXELS
    if (small and not off_centre) or (not accepted and mean > FAINT_IMAGE_MEAN):
        advice.append(PRESS_FIRMER)
    if not accepted and not advice:
        advice.append(CLEAN_GLASS)
    return tuple(advice)
