"""Where the simulated module's fingers come from: synthetic master prints or a folder of images.

A ``FingerSource`` turns (subject, finger position) into one impression: the 8-bit image the
sensor would capture this time the finger is placed, already limited to 16 grey levels like the
R307's UART image.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from hw_sim.pixels import WHITE, quantise_4bit, sample_bilinear, window
from hw_sim.ridges import oriented_bandpass, steered_filter


class FingerSource(Protocol):
    def impression(self, subject: str, finger: int, rng: np.random.Generator) -> np.ndarray:
        """A new impression of ``finger`` (1..10) of ``subject``: uint8, the sensor's height x width."""
        ...

    def subjects(self) -> list[str]:
        """The subject ids this source knows."""
        ...


# --- synthetic prints -------------------------------------------------------------------------

_MARGIN = 64  # master canvas border around the sensor frame, room for translation and rotation
_SCALE = 2  # masters are synthesised at half resolution and sampled bilinearly
_ITERATIONS = 4


@dataclass(frozen=True)
class MasterPrint:
    """One finger's permanent pattern: ridges in -1..1 and the contact area, at half resolution."""

    ridges: np.ndarray
    contact: np.ndarray


def _finger_rng(subject: str, finger: int) -> np.random.Generator:
    digest = hashlib.sha256(f"livescan-finger:{subject}:{finger}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def _singular_points(rng: np.random.Generator) -> list[tuple[complex, int]]:
    """Cores (+1) and deltas (-1) relative to the finger centre, in full-resolution pixels."""
    kind = rng.choice(["arch", "left_loop", "right_loop", "whorl"], p=[0.1, 0.3, 0.3, 0.3])
    core = complex(rng.uniform(-25, 25), rng.uniform(-50, 0))
    if kind == "arch":
        return []
    if kind == "whorl":
        gap = complex(rng.uniform(-12, 12), rng.uniform(18, 40))
        return [
            (core, 1),
            (core + gap, 1),
            (complex(rng.uniform(-130, -90), rng.uniform(70, 120)), -1),
            (complex(rng.uniform(90, 130), rng.uniform(70, 120)), -1),
        ]
    side = -1 if kind == "left_loop" else 1
    delta = core + complex(side * rng.uniform(70, 120), rng.uniform(80, 130))
    return [(core, 1), (delta, -1)]


def _orientation_field(rng: np.random.Generator, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Ridge direction (radians, mod pi) at the given centre-relative points: zero-pole model plus drift."""
    z = xs + 1j * ys
    theta = np.full(z.shape, rng.uniform(-0.15, 0.15))
    for point, sign in _singular_points(rng):
        theta += sign * 0.5 * np.angle(z - point)
    for _ in range(3):
        wavelength = rng.uniform(180, 420)
        direction = rng.uniform(0, np.pi)
        phase = rng.uniform(0, 2 * np.pi)
        along = xs * np.cos(direction) + ys * np.sin(direction)
        theta += rng.uniform(0.1, 0.25) * np.sin(2 * np.pi * along / wavelength + phase)
    return theta


@lru_cache(maxsize=64)
def master_print(subject: str, finger: int, width: int, height: int) -> MasterPrint:
    """The deterministic master pattern of (subject, finger) for a ``width`` x ``height`` sensor."""
    rng = _finger_rng(subject, finger)
    rows, cols = (height + 2 * _MARGIN) // _SCALE, (width + 2 * _MARGIN) // _SCALE
    ys, xs = np.mgrid[0:rows, 0:cols].astype(float) * _SCALE
    xs -= cols * _SCALE / 2
    ys -= rows * _SCALE / 2
    theta = np.mod(_orientation_field(rng, xs, ys), np.pi)
    period = rng.uniform(8.5, 10.5) / _SCALE
    spectra = oriented_bandpass((rows, cols), 1.0 / period)
    ridges = rng.standard_normal((rows, cols))
    for _ in range(_ITERATIONS):
        picked = steered_filter(ridges, spectra, theta)
        ridges = np.tanh(3.0 * picked / (picked.std() + 1e-9))
    semi_x, semi_y = rng.uniform(105, 125), rng.uniform(140, 165)
    centre_y = rng.uniform(10, 30)
    contact = 1.0 - np.hypot(xs / semi_x, (ys - centre_y) / semi_y)
    return MasterPrint(ridges.astype(np.float32), np.clip(contact * 12, 0, 1).astype(np.float32))


class BuiltinPatternSource:
    """Synthetic prints: a deterministic master per (subject, finger), a fresh placement per impression.

    Each impression rotates (within ``max_rotation_deg``) and shifts (within ``max_shift``) the
    finger, varies pressure, contrast and noise, sometimes lifts part of the finger off the glass,
    and quantises to 16 grey levels.
    """

    def __init__(
        self,
        width: int,
        height: int,
        *,
        population: int = 100,
        max_rotation_deg: float = 10.0,
        max_shift: float = 20.0,
    ) -> None:
        self.width, self.height = width, height
        self.population = population
        self.max_rotation = np.deg2rad(max_rotation_deg)
        self.max_shift = max_shift

    def subjects(self) -> list[str]:
        return [f"S{i:04d}" for i in range(1, self.population + 1)]

    def impression(self, subject: str, finger: int, rng: np.random.Generator) -> np.ndarray:
        master = master_print(subject, finger, self.width, self.height)
        angle = rng.uniform(-self.max_rotation, self.max_rotation)
        shift_x, shift_y = rng.uniform(-self.max_shift, self.max_shift, 2)
        ys, xs = np.mgrid[0 : self.height, 0 : self.width].astype(np.float32)
        xs -= self.width / 2 + shift_x
        ys -= self.height / 2 + shift_y
        cos, sin = np.cos(angle), np.sin(angle)
        wobble = rng.uniform(0, 2 * np.pi, 2)
        master_x = cos * xs - sin * ys + 2.0 * np.sin(ys / 60 + wobble[0])
        master_y = sin * xs + cos * ys + 2.0 * np.sin(xs / 70 + wobble[1])
        rows = (master_y + self.height / 2 + _MARGIN) / _SCALE
        cols = (master_x + self.width / 2 + _MARGIN) / _SCALE
        ridges = sample_bilinear(master.ridges, rows, cols)
        contact = sample_bilinear(master.contact, rows, cols) * self._lifted_part(rng, xs, ys)
        pressure = rng.uniform(-0.35, 0.35)
        ink = 0.5 + 0.5 * np.tanh(2.5 * (ridges + pressure))
        contrast = rng.uniform(150, 215)
        valley = rng.uniform(225, 250)
        grey = WHITE - contact * (WHITE - valley + contrast * ink)
        grey += rng.normal(0, rng.uniform(3, 10), grey.shape)
        return quantise_4bit(np.rint(grey))

    def _lifted_part(self, rng: np.random.Generator, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """1 where the finger touches the glass; a straight edge removes one side 30% of the time."""
        if rng.random() >= 0.3:
            return np.ones_like(xs)
        direction = rng.uniform(0, 2 * np.pi)
        offset = rng.uniform(50, 100)
        distance = xs * np.cos(direction) + ys * np.sin(direction)
        return np.clip((offset - distance) / 8, 0, 1)


# --- real images ------------------------------------------------------------------------------

_IMAGE_SUFFIXES = {".tif", ".tiff", ".png", ".bmp", ".pgm", ".jpg", ".jpeg"}


class ImageFolderSource:
    """A folder of print images named ``<finger>_<impression>.<ext>`` (FVC style) as one subject.

    Finger position n is the n-th distinct ``<finger>`` prefix in sorted order. An impression is
    one of that finger's files, cut to the sensor size at native resolution around the centre with
    a little jitter, padded with white and quantised to 16 grey levels.
    """

    def __init__(self, path: str | Path, width: int, height: int, *, jitter: int = 8) -> None:
        self.path = Path(path)
        self.width, self.height = width, height
        self.jitter = jitter
        files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        self._files: dict[str, list[Path]] = {}
        for file in files:
            self._files.setdefault(file.stem.split("_")[0], []).append(file)
        if not self._files:
            raise ValueError(f"no print images in {self.path}")

    @property
    def fingers(self) -> list[str]:
        """The finger prefixes, in finger-position order."""
        return sorted(self._files)

    def subjects(self) -> list[str]:
        return [self.path.name]

    def impression(self, subject: str, finger: int, rng: np.random.Generator) -> np.ndarray:
        if subject != self.path.name:
            raise ValueError(f"unknown subject {subject!r}; this folder is subject {self.path.name!r}")
        if not 1 <= finger <= len(self.fingers):
            raise ValueError(f"finger {finger} outside 1..{len(self.fingers)} for {self.path}")
        files = self._files[self.fingers[finger - 1]]
        with Image.open(files[rng.integers(len(files))]) as picture:
            image = np.asarray(picture.convert("L"))
        jitter_x, jitter_y = rng.integers(-self.jitter, self.jitter + 1, 2)
        centre = (image.shape[1] // 2 + int(jitter_x), image.shape[0] // 2 + int(jitter_y))
        return quantise_4bit(window(image, self.width, self.height, centre))
