"""Master prints: the permanent ridge pattern and contact area of one synthetic finger.

A master is two uint8 layers on a MASTER_SHAPE canvas (rows, cols) at 500 ppi:

- ``ridges``: the ridge profile, 255 on ridge centres, 0 in valleys (covers the whole canvas);
- ``contact``: the finger's contact level, 128 on the outline of a normal press, larger inside.
  An impression thresholds it higher or lower to simulate light or firm pressure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from biometrics.synthetic.filters import gaussian_blur, grow_ridges, smooth_noise
from biometrics.synthetic.pattern import (
    ArchBump,
    PatternClass,
    SingularPoint,
    arch_orientation,
    class_probabilities,
    sample_singular_points,
    zero_pole_orientation,
)

MASTER_SHAPE = (400, 320)
CONTACT_EDGE = 128  # contact layer value on the outline of a normal press
CONTACT_SCALE = 320.0  # contact layer units per unit of normalised distance inside the outline
RIDGE_LEVELS = 32  # grey levels of the ridge layer: ample for impressions, and halves the cache

_GROWTH_ITERATIONS = 12
_GROWTH_GAIN = 3.0
_RADIAL_WIDTH = 0.25
_ANGULAR_WIDTH = 0.22
_SEED_DENSITY = 4 / 3600  # seeds per coarse-grid pixel


@dataclass(frozen=True)
class MasterParams:
    """Everything random about a finger except its ridge noise; cheap to draw."""

    pattern: PatternClass
    singular_points: tuple[SingularPoint, ...]
    bump: ArchBump
    period: float  # mean ridge period, px
    period_slope: float  # relative period change from the top to the bottom of the canvas
    tilt: float  # rotation of the whole pattern about ``placement``, radians
    perturbation: float  # std of the smooth random orientation perturbation, radians
    contact_centre: tuple[float, float]  # x, y
    contact_axes: tuple[float, float]  # half width, half height
    contact_exponent: float
    placement: tuple[float, float]  # x, y of the usual sensor-window centre
    creases: int


def draw_params(rng: np.random.Generator, finger: int) -> MasterParams:
    """Random parameters of a finger at ISO position ``finger``."""
    priors = class_probabilities(finger)
    pattern = list(priors)[rng.choice(len(priors), p=np.array(list(priors.values())))]
    half_width, half_height = rng.uniform(100, 128), rng.uniform(160, 190)
    centre = (MASTER_SHAPE[1] / 2 + rng.uniform(-6, 6), rng.uniform(40, 55) + half_height)
    top = centre[1] - half_height
    core_y = top + rng.uniform(115, 165)
    points = sample_singular_points(pattern, rng, centre[0], core_y)
    if pattern is PatternClass.ARCH:
        bump = ArchBump(
            centre[0] + rng.uniform(-20, 20), core_y + 20, rng.uniform(40, 80), rng.uniform(45, 75)
        )
    else:  # ridges over the fingertip follow its outline
        bump = ArchBump(centre[0], core_y - 90, rng.uniform(10, 30), rng.uniform(70, 100))
    return MasterParams(
        pattern=pattern,
        singular_points=points,
        bump=bump,
        period=rng.uniform(8.4, 10.2),
        period_slope=rng.uniform(0.04, 0.12),
        tilt=rng.normal(0, 0.25),
        perturbation=rng.uniform(0.12, 0.28),
        contact_centre=centre,
        contact_axes=(half_width, half_height),
        contact_exponent=rng.uniform(2.0, 2.6),
        placement=(centre[0] + rng.uniform(-5, 5), core_y + rng.uniform(-5, 15)),
        creases=int(rng.choice(3, p=[0.7, 0.2, 0.1])),
    )


def orientation_field(params: MasterParams, rng: np.random.Generator) -> np.ndarray:
    """Ridge orientation (radians) over the canvas: zero-pole model, fingertip arch, tilt, smooth drift."""
    ys, xs = np.mgrid[0 : MASTER_SHAPE[0], 0 : MASTER_SHAPE[1]].astype(np.float64)
    (px, py), cos, sin = params.placement, np.cos(params.tilt), np.sin(params.tilt)
    xs, ys = px + cos * (xs - px) + sin * (ys - py), py - sin * (xs - px) + cos * (ys - py)
    theta = zero_pole_orientation(xs, ys, params.singular_points) + arch_orientation(xs, ys, params.bump)
    drift = 0.7 * smooth_noise(rng, MASTER_SHAPE, 35.0) + 0.7 * smooth_noise(rng, MASTER_SHAPE, 80.0)
    return theta + params.tilt + params.perturbation * drift


def period_field(params: MasterParams, rng: np.random.Generator) -> np.ndarray:
    """Local ridge period (px): finer at the tip, coarser towards the crease, with smooth variation."""
    ys = np.arange(MASTER_SHAPE[0], dtype=np.float32)[:, None] / MASTER_SHAPE[0] - 0.5
    variation = 1.0 + 0.035 * smooth_noise(rng, MASTER_SHAPE, 50.0)
    return params.period * (1.0 + params.period_slope * ys) * variation


def contact_level(params: MasterParams) -> np.ndarray:
    """Normalised depth inside the finger's superelliptic outline (0 on it, negative outside)."""
    ys, xs = np.mgrid[0 : MASTER_SHAPE[0], 0 : MASTER_SHAPE[1]].astype(np.float32)
    (cx, cy), (ax, ay), p = params.contact_centre, params.contact_axes, params.contact_exponent
    # The bottom (towards the palm) is wider and flatter than the rounded tip.
    ay_side = np.where(ys > cy, ay * 1.3, ay)
    radius = (np.abs((xs - cx) / ax) ** p + np.abs((ys - cy) / ay_side) ** p) ** (1.0 / p)
    return 1.0 - radius


def add_creases(ridges: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Thin white lines (scars, flexion creases) across the ridges, mostly near-horizontal."""
    if count == 0:
        return ridges
    ys, xs = np.mgrid[0 : MASTER_SHAPE[0], 0 : MASTER_SHAPE[1]].astype(np.float32)
    gap = np.zeros(MASTER_SHAPE, dtype=np.float32)
    for _ in range(count):
        angle = rng.normal(0, 0.35)
        x0, y0 = rng.uniform(60, 260), rng.uniform(120, 380)
        distance = -(xs - x0) * np.sin(angle) + (ys - y0) * np.cos(angle)
        along = (xs - x0) * np.cos(angle) + (ys - y0) * np.sin(angle)
        half_length, width = rng.uniform(20, 90), rng.uniform(0.8, 1.8)
        gap = np.maximum(gap, np.exp(-0.5 * (distance / width) ** 2) * (np.abs(along) < half_length))
    gap = gaussian_blur(gap, 0.8)
    return ridges * (1 - gap) - gap


def render_master(params: MasterParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The (ridges, contact) uint8 layers of a master print."""
    ridges = grow_ridges(
        orientation_field(params, rng),
        period_field(params, rng),
        rng,
        iterations=_GROWTH_ITERATIONS,
        gain=_GROWTH_GAIN,
        seed_density=_SEED_DENSITY,
        radial_width=_RADIAL_WIDTH,
        angular_width=_ANGULAR_WIDTH,
    )
    ridges = add_creases(ridges, params.creases, rng)
    steps = np.clip(np.rint((ridges + 1) / 2 * (RIDGE_LEVELS - 1)), 0, RIDGE_LEVELS - 1)
    ridge_layer = np.rint(steps * (255 / (RIDGE_LEVELS - 1))).astype(np.uint8)
    contact_layer = np.clip(np.rint(CONTACT_EDGE + CONTACT_SCALE * contact_level(params)), 0, 255)
    return ridge_layer, contact_layer.astype(np.uint8)


def composite(ridges: np.ndarray, contact: np.ndarray) -> np.ndarray:
    """A master as a clean print image: dark ridges inside the normal contact area, white elsewhere."""
    inside = np.clip((contact.astype(np.float32) - CONTACT_EDGE) / 8.0, 0, 1)
    return np.rint(255 - inside * ridges.astype(np.float32)).astype(np.uint8)
