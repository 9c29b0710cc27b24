"""One impression of a master print as an R307 frame: placement, skin distortion, ink, sensor.

The ranges below were tuned with ``bench/realism.py`` so that bozorth3 finds these impressions
about as hard to match as real R307-like frames (see the module docstring there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from biometrics.synthetic.filters import gaussian_blur, sample_bilinear, smooth_noise
from biometrics.synthetic.master import CONTACT_EDGE, CONTACT_SCALE

FRAME_SHAPE = (288, 256)  # rows, cols of an R307 image

MAX_ROTATION = np.deg2rad(12.0)
SHIFT_STD = (22.0, 28.0)  # x, y: px of the finger placement around its usual spot
MAX_SHIFT = (50.0, 60.0)


@dataclass(frozen=True)
class ImpressionParams:
    """How the finger was placed this time and how the sensor saw it."""

    rotation: float  # radians
    shift: tuple[float, float]  # x, y
    # Skin distortion (Cappelli's model): the core of the contact stays put while the periphery
    # is dragged by a small rigid motion, blended in over a transition band.
    drag_shift: tuple[float, float]
    drag_rotation: float
    drag_radius: float
    drag_band: float
    pressure: float  # -1 light .. +1 firm
    dryness: float  # 0 moist .. 1 very dry
    contrast: float
    background: float
    optics_blur: float
    noise: float
    lift: tuple[float, float] | None  # direction, distance of a lifted-off straight edge


def draw_impression_params(rng: np.random.Generator) -> ImpressionParams:
    """Random placement and capture conditions of one impression."""
    shift = np.clip(rng.normal(0, SHIFT_STD), np.negative(MAX_SHIFT), MAX_SHIFT)
    dry = rng.random() < 0.3
    return ImpressionParams(
        rotation=float(np.clip(rng.normal(0, MAX_ROTATION / 2), -MAX_ROTATION, MAX_ROTATION)),
        shift=(float(shift[0]), float(shift[1])),
        drag_shift=tuple(rng.normal(0, 6.5, 2)),
        drag_rotation=float(rng.normal(0, np.deg2rad(3.0))),
        drag_radius=rng.uniform(40, 80),
        drag_band=rng.uniform(80, 140),
        pressure=float(np.clip(rng.normal(0, 0.45), -1, 1)),
        dryness=rng.uniform(0.3, 0.8) if dry else rng.uniform(0.0, 0.25),
        contrast=rng.uniform(150, 230),
        background=rng.uniform(235, 256),
        optics_blur=rng.uniform(0.5, 1.0),
        noise=rng.uniform(2.0, 8.0),
        lift=(rng.uniform(0, 2 * np.pi), rng.uniform(60, 120)) if rng.random() < 0.2 else None,
    )


def _rotate(x: np.ndarray, y: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    cos, sin = np.cos(angle), np.sin(angle)
    return cos * x - sin * y, sin * x + cos * y


def master_coordinates(
    params: ImpressionParams, placement: tuple[float, float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """For each frame pixel, the (x, y) master position the finger presents there."""
    rows, cols = FRAME_SHAPE
    v, u = np.mgrid[0:rows, 0:cols].astype(np.float32)
    u -= (cols - 1) / 2
    v -= (rows - 1) / 2
    x, y = _rotate(u, v, params.rotation)
    radius = np.hypot(x, y)
    blend = np.clip((radius - params.drag_radius) / params.drag_band, 0, 1)
    blend = blend * blend * (3 - 2 * blend)
    dragged_x, dragged_y = _rotate(x, y, params.drag_rotation)
    x += blend * (dragged_x - x + params.drag_shift[0])
    y += blend * (dragged_y - y + params.drag_shift[1])
    x += 1.0 * smooth_noise(rng, FRAME_SHAPE, 30.0)
    y += 1.0 * smooth_noise(rng, FRAME_SHAPE, 30.0)
    return x + placement[0] + params.shift[0], y + placement[1] + params.shift[1]


def render_impression(
    ridges: np.ndarray,
    contact: np.ndarray,
    placement: tuple[float, float],
    params: ImpressionParams,
    rng: np.random.Generator,
) -> np.ndarray:
    """The 4-bit (values v·17) uint8 FRAME_SHAPE image of one impression of a master."""
    x, y = master_coordinates(params, placement, rng)
    ridge = sample_bilinear(ridges, y, x, fill=127.5) / 127.5 - 1.0
    depth = (sample_bilinear(contact, y, x, fill=0.0) - CONTACT_EDGE) / CONTACT_SCALE

    # Firm presses flatten more skin onto the glass; the outline is never quite regular, and
    # towards it the skin presses less, so ridges thin out and break up before they vanish.
    edge = 0.02 - 0.06 * params.pressure + 0.025 * smooth_noise(rng, FRAME_SHAPE, 25.0)
    touching = np.clip((depth - edge) / 0.08, 0, 1)
    if params.lift is not None:
        direction, distance = params.lift
        rows, cols = FRAME_SHAPE
        v, u = np.mgrid[0:rows, 0:cols].astype(np.float32)
        along = (u - cols / 2) * np.cos(direction) + (v - rows / 2) * np.sin(direction)
        touching *= np.clip((distance - along) / 15.0, 0, 1)

    # Ridge width: firm or moist -> thick, merged ridges; light or dry -> thin, broken ones.
    threshold = 0.35 * params.dryness - 0.3 * params.pressure + 0.12 * smooth_noise(rng, FRAME_SHAPE, 20.0)
    threshold = threshold + 1.2 * (1 - touching)
    ink = 1.0 / (1.0 + np.exp(-5.0 * (ridge - threshold)))
    speckle = smooth_noise(rng, FRAME_SHAPE, 1.5)  # pores and dry patches break ridges
    ink *= np.clip(2.0 - 2.5 * params.dryness - speckle, 0, 1)
    ink *= 0.75 + 0.25 * np.clip(1 + 0.5 * smooth_noise(rng, FRAME_SHAPE, 35.0), 0, 1)
    ink *= np.sqrt(touching)

    grey = params.background - 4.0 * np.abs(smooth_noise(rng, FRAME_SHAPE, 60.0))
    grey = grey - ink * params.contrast
    grey = gaussian_blur(np.pad(grey, 4, mode="edge"), params.optics_blur)[4:-4, 4:-4]
    grey += params.noise * rng.standard_normal(FRAME_SHAPE).astype(np.float32)
    return (np.clip(np.rint(grey), 0, 255).astype(np.uint8) >> 4) * np.uint8(17)
