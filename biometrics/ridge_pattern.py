"""A cheap print-like test pattern (not a realistic print: that is ``biometrics.synthetic``).

Ridges are the cosine of a phase field: a carrier at 8-10 pixel ridge spacing (500 ppi), warped by
a few smooth random bumps, plus ~40 spiral phase singularities, each of which is a ridge ending or
a bifurcation (the AM-FM view of a fingerprint). The pattern lives in finger coordinates, so a
second "impression" of the same finger is the same seed seen rotated and shifted, with fresh
sensor noise. Output: an elliptical print on a light background, 4-bit grey x17 like the R307.
Used for the worker's warm-up, for tests and for benchmarks without real prints.
"""

from __future__ import annotations

import numpy as np

from biometrics.frames import R307_COLS, R307_ROWS

RIDGE_PERIOD = 9.0  # pixels at 500 ppi; each finger gets 0.9-1.15 times this
_BUMPS, _SINGULARITIES = 6, 40


def ridge_pattern(
    seed: int,
    *,
    rotation_deg: float = 0.0,
    shift: tuple[float, float] = (0.0, 0.0),
    noise_seed: int | None = None,
    noise: float = 12.0,
    rows: int = R307_ROWS,
    cols: int = R307_COLS,
) -> np.ndarray:
    """Finger ``seed`` as one impression: rotated by ``rotation_deg`` about the frame centre and
    shifted by ``shift`` = (right, down) pixels, with Gaussian noise from ``noise_seed``."""
    finger = np.random.default_rng(seed)
    carrier = finger.uniform(0, np.pi)
    bump_centres = finger.uniform(-160, 160, (_BUMPS, 2))
    bump_widths = finger.uniform(50, 110, _BUMPS)
    bump_heights = finger.uniform(-5 * np.pi, 5 * np.pi, _BUMPS)
    singularities = finger.uniform(-150, 150, (_SINGULARITIES, 2))
    turns = finger.choice([-1.0, 1.0], _SINGULARITIES)

    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    x -= cols / 2 + shift[0]
    y -= rows / 2 + shift[1]
    angle = np.deg2rad(rotation_deg)
    fx = np.cos(angle) * x + np.sin(angle) * y  # frame -> finger coordinates
    fy = -np.sin(angle) * x + np.cos(angle) * y

    period = RIDGE_PERIOD * finger.uniform(0.9, 1.15)
    phase = (2 * np.pi / period) * (fx * np.cos(carrier) + fy * np.sin(carrier))
    for (bx, by), width, height in zip(bump_centres, bump_widths, bump_heights, strict=True):
        phase += height * np.exp(-((fx - bx) ** 2 + (fy - by) ** 2) / (2 * width**2))
    for (sx, sy), turn in zip(singularities, turns, strict=True):
        phase += turn * np.arctan2(fy - sy, fx - sx)

    sensor = np.random.default_rng(seed + 1_000_003 if noise_seed is None else noise_seed)
    image = 128 + 100 * np.cos(phase) + sensor.normal(0, noise, phase.shape)
    inside = (fx / (0.46 * R307_COLS)) ** 2 + (fy / (0.47 * R307_ROWS)) ** 2 <= 1
    image = np.where(inside, image, 245)
    return (np.clip(image, 0, 255).astype(np.uint8) >> 4) * np.uint8(17)
