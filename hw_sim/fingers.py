"""Where the simulated module's fingers come from: synthetic master prints or a folder of images.

A ``FingerSource`` turns (subject, finger position) into one impression: the 8-bit image the
sensor would capture this time the finger is placed, already limited to 16 grey levels like the
R307's UART image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from biometrics.synthetic import SyntheticPrints
from hw_sim.pixels import quantise_4bit, window


class FingerSource(Protocol):
    def impression(self, subject: str, finger: int, rng: np.random.Generator) -> np.ndarray:
        """A new impression of ``finger`` (1..10) of ``subject``: uint8, the sensor's height x width."""
        ...

    def subjects(self) -> list[str]:
        """The subject ids this source knows."""
        ...


# --- synthetic prints -------------------------------------------------------------------------

#: Impression indices the simulator presents start here; the centre enrols impressions below it,
#: so a simulated capture is never the very image a gallery holds.
SIMULATOR_FIRST_IMPRESSION = 1000


class SyntheticSource:
    """The shared synthetic population (``biometrics.synthetic``): subject ids ``S0001``, ``S0002``...

    A placement is a fresh impression of the subject's deterministic master print, with an index
    drawn from the device's generator at or above ``SIMULATOR_FIRST_IMPRESSION``. Smaller sensors
    (the R503's 192 x 192) see the centre of the 256 x 288 frame.
    """

    def __init__(self, width: int, height: int, *, seed: int = 0, population: int = 100) -> None:
        self.width, self.height = width, height
        self.population = population
        self.prints = SyntheticPrints(seed=seed)

    def subjects(self) -> list[str]:
        return [f"S{i:04d}" for i in range(1, self.population + 1)]

    def impression(self, subject: str, finger: int, rng: np.random.Generator) -> np.ndarray:
        index = SIMULATOR_FIRST_IMPRESSION + int(rng.integers(0, 1_000_000))
        frame = self.prints.impression(subject, finger, index)
        centre = (frame.shape[1] // 2, frame.shape[0] // 2)
        return window(frame, self.width, self.height, centre)


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
