"""What the simulated module computes from an image: character files and their comparison score.

``FeatureExtractor`` is the seam: Img2Tz calls ``extract``, Match/Search call ``compare``,
RegModel calls ``merge``. ``NbisModuleMatcher`` does the module's work with NBIS (mindtct and
bozorth3 through ``biometrics``): a character file is the ISO/IEC 19794-2 record of the frame's
most reliable minutiae, zero-padded to the module's template size. So impressions of one finger
match and different fingers do not as they would for a real matcher, and a blank or noisy frame is
refused the way the module refuses it. Measured on 20 synthetic fingers x 3 placements: about 8 %
of placements refused (too faint or partial: retake), 70 % of genuine pairs at or above the
level-3 threshold, no impostor pair above it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

import numpy as np

from biometrics.errors import BiometricError
from biometrics.iso import HEADER_SIZE, encode_template, parse_template
from biometrics.matching import MATCH_THRESHOLD, compare, quick_template


class FeatureExtractionError(Exception):
    """The image cannot be turned into a character file; ``code`` is the module's answer."""

    code: int = 0x06


class MessyImageError(FeatureExtractionError):
    """The image has content but no ridge flow (answer 0x06)."""

    code = 0x06


class FeaturelessImageError(FeatureExtractionError):
    """Too little print on the glass, or too few minutiae (answer 0x07)."""

    code = 0x07


class FeatureExtractor(Protocol):
    template_size: int

    def extract(self, image: np.ndarray) -> bytes:
        """A character file (``template_size`` bytes) of an 8-bit image, or ``FeatureExtractionError``."""
        ...

    def compare(self, a: bytes, b: bytes) -> int:
        """Similarity score of two character files or templates (0 = unrelated or invalid)."""
        ...

    def merge(self, a: bytes, b: bytes) -> bytes:
        """One template from two character files of the same finger."""
        ...


#: bozorth3 score a pair must reach at security levels 1..5; level 3, the factory default, is the
#: threshold calibrated on real prints (``biometrics.matching.MATCH_THRESHOLD``).
SECURITY_THRESHOLDS = {1: 20, 2: 27, 3: MATCH_THRESHOLD, 4: 45, 5: 60}

#: A print has at least this many minutiae of reliability >= 0.5 (the pipeline's quality gate).
MIN_RELIABLE_MINUTIAE = 5
RELIABLE = 50  # ISO minutia quality, 0..100
#: Unreliable minutiae by the dozen are what noise and smudges give; a blank frame gives none.
MESSY_FROM = 40
_BYTES_PER_MINUTIA = 6
_CLOSING = 2  # the extended-data length that ends an ISO 19794-2:2011 record


class NbisModuleMatcher:
    """The module's feature extraction and matching, by NBIS."""

    def __init__(self, template_size: int = 512) -> None:
        self.template_size = template_size
        self.capacity = (template_size - HEADER_SIZE - _CLOSING) // _BYTES_PER_MINUTIA

    def extract(self, image: np.ndarray) -> bytes:
        try:
            record = quick_template(image)
        except BiometricError as exc:
            raise MessyImageError(str(exc)) from None
        if record is None:
            raise FeaturelessImageError("no minutiae")
        template = parse_template(record)
        reliable = sum(m.quality >= RELIABLE for m in template.minutiae)
        if reliable < MIN_RELIABLE_MINUTIAE:
            error = MessyImageError if len(template.minutiae) >= MESSY_FROM else FeaturelessImageError
            raise error(f"{reliable} reliable minutiae of {len(template.minutiae)}")
        best = sorted(template.minutiae, key=lambda m: m.quality, reverse=True)[: self.capacity]
        return encode_template(replace(template, minutiae=tuple(best))).ljust(self.template_size, b"\0")

    def compare(self, a: bytes, b: bytes) -> int:
        try:
            return compare(_unpadded(a), _unpadded(b))
        except BiometricError:
            return 0  # an empty buffer or a downloaded file that is no template

    def merge(self, a: bytes, b: bytes) -> bytes:
        """The character file with more minutiae stands for the finger."""
        return a if _minutia_count(a) >= _minutia_count(b) else b


def _unpadded(data: bytes) -> bytes:
    return bytes(data[: int.from_bytes(data[8:12], "big")])


def _minutia_count(data: bytes) -> int:
    try:
        return len(parse_template(_unpadded(data)).minutiae)
    except BiometricError:
        return 0
