"""Pattern classes, singular points and the orientation field of a synthetic master print.

Coordinates are master-canvas pixels: x to the right, y downwards. A ridge orientation is the
angle (radians, modulo pi) of the ridge direction, measured from the x axis towards +y.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class PatternClass(StrEnum):
    """Henry/NIST pattern classes; a loop's side is the side its ridges open to in the image."""

    ARCH = "arch"
    TENTED_ARCH = "tented_arch"
    LEFT_LOOP = "left_loop"
    RIGHT_LOOP = "right_loop"
    WHORL = "whorl"


# Per finger (thumb .. little): arch, tented arch, ulnar loop, radial loop, whorl. Thumbs and ring
# fingers carry most whorls, index fingers most arches and radial loops, little fingers are nearly
# all ulnar loops. Averaged over the ten fingers: 5.2 / 4.6 / 57.8 / 4.8 / 28 %.
_TENDENCIES = np.array(
    [
        [0.04, 0.03, 0.48, 0.03, 0.42],
        [0.10, 0.10, 0.35, 0.15, 0.30],
        [0.06, 0.03, 0.70, 0.03, 0.18],
        [0.03, 0.03, 0.54, 0.02, 0.38],
        [0.03, 0.02, 0.82, 0.01, 0.12],
    ]
)


def class_probabilities(finger: int) -> dict[PatternClass, float]:
    """Prior of each pattern class for ISO finger position ``finger`` (1..5 right, 6..10 left hand).

    Ulnar loops open towards the little finger: to the right in a right hand's print (a mirror
    image of the finger), to the left in a left hand's.
    """
    arch, tented, ulnar, radial, whorl = _TENDENCIES[(finger - 1) % 5]
    right_hand = finger <= 5
    return {
        PatternClass.ARCH: arch,
        PatternClass.TENTED_ARCH: tented,
        PatternClass.LEFT_LOOP: radial if right_hand else ulnar,
        PatternClass.RIGHT_LOOP: ulnar if right_hand else radial,
        PatternClass.WHORL: whorl,
    }


@dataclass(frozen=True)
class SingularPoint:
    """A core or delta. ``warp``: offsets (radians) of its argument at WARP_NODES, Vizcaya–Gerhardt style."""

    x: float
    y: float
    is_core: bool
    warp: tuple[float, ...] = ()


WARP_NODES = 8  # nodes of the piecewise-linear argument warp, evenly spaced over [-pi, pi)
WARP_STD = 0.22  # std of each node's offset (the warp keeps the winding: indices never change)


@dataclass(frozen=True)
class ArchBump:
    """Ridges bulge upwards by up to ``height`` px around (``x``, ``y``): Gaussian ``width`` across."""

    x: float
    y: float
    height: float
    width: float

    @property
    def spread(self) -> float:
        """Vertical Gaussian extent; at least ``height`` so the ridges never fold."""
        return 1.2 * self.height + 40.0


def sample_singular_points(
    pattern: PatternClass, rng: np.random.Generator, centre_x: float, core_y: float
) -> tuple[SingularPoint, ...]:
    """Cores and deltas of ``pattern`` around (``centre_x``, ``core_y``), the upper core's position."""
    x = centre_x + rng.uniform(-20, 20)
    match pattern:
        case PatternClass.ARCH:
            points: list[tuple[float, float, bool]] = []
        case PatternClass.TENTED_ARCH:
            points = [(x, core_y, True), (x + rng.uniform(-10, 10), core_y + rng.uniform(35, 75), False)]
        case PatternClass.LEFT_LOOP | PatternClass.RIGHT_LOOP:
            side = -1.0 if pattern is PatternClass.RIGHT_LOOP else 1.0  # the delta faces the opening
            distance, angle = rng.uniform(80, 180), rng.uniform(0.5, 1.1)  # angle below the horizontal
            points = [
                (x, core_y, True),
                (x + side * distance * np.cos(angle), core_y + distance * np.sin(angle), False),
            ]
        case PatternClass.WHORL:
            gap = rng.uniform(8, 40)
            tilt = rng.uniform(-1.3, 1.3)  # angle of the core pair away from vertical
            points = [
                (x, core_y, True),
                (x + gap * np.sin(tilt), core_y + gap * np.cos(tilt), True),
                (x - rng.uniform(75, 130), core_y + rng.uniform(70, 140), False),
                (x + rng.uniform(75, 130), core_y + rng.uniform(70, 140), False),
            ]
        case _:
            raise ValueError(f"unknown pattern class {pattern!r}")
    return tuple(
        SingularPoint(px, py, is_core, tuple(rng.normal(0, WARP_STD, WARP_NODES)))
        for px, py, is_core in points
    )


def zero_pole_orientation(xs: np.ndarray, ys: np.ndarray, points: tuple[SingularPoint, ...]) -> np.ndarray:
    """Sherlock–Monro zero-pole model: each core adds half, each delta subtracts half its argument.

    Each point's argument first goes through its own monotonic piecewise-linear warp (Vizcaya and
    Gerhardt), which bends the flow around it without moving or changing any singularity.
    """
    z = xs + 1j * ys
    theta = np.zeros(z.shape)
    nodes = np.linspace(-np.pi, np.pi, WARP_NODES + 1)
    for point in points:
        argument = np.angle(z - complex(point.x, point.y))
        if point.warp:
            argument = argument + np.interp(argument, nodes, (*point.warp, point.warp[0]))
        theta += (0.5 if point.is_core else -0.5) * argument
    return theta


def arch_orientation(xs: np.ndarray, ys: np.ndarray, bump: ArchBump) -> np.ndarray:
    """Ridge orientation along the level sets of y + bump(x, y): arches over (``bump.x``, ``bump.y``)."""
    dx = (xs - bump.x) / bump.width
    dy = (ys - bump.y) / bump.spread
    lift = bump.height * np.exp(-0.5 * (dx**2 + dy**2))
    grad_x = -lift * dx / bump.width
    grad_y = 1.0 - lift * dy / bump.spread
    return np.arctan2(-grad_x, grad_y)


def poincare_indices(orientation: np.ndarray, block: int = 8) -> np.ndarray:
    """Poincaré index (in half turns: +1 core, -1 delta, 0 none) of each ``block`` cell's corner loop.

    The orientation is averaged per block as a doubled-angle vector, then the index is the summed
    orientation change around each 2x2 block loop.
    """
    rows, cols = orientation.shape[0] // block, orientation.shape[1] // block
    doubled = np.exp(2j * orientation[: rows * block, : cols * block])
    averaged = np.angle(doubled.reshape(rows, block, cols, block).mean(axis=(1, 3))) / 2
    loop = [averaged[:-1, :-1], averaged[:-1, 1:], averaged[1:, 1:], averaged[1:, :-1], averaged[:-1, :-1]]
    total = np.zeros_like(loop[0])
    for start, end in itertools.pairwise(loop):
        total += (end - start + np.pi / 2) % np.pi - np.pi / 2
    return np.rint(total / np.pi).astype(int)
