"""Constants and frame makers shared by the biometrics tests (imported as a plain module)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from biometrics.ridge_pattern import ridge_pattern

CAPTURED_AT = datetime(2025, 3, 14, 9, 26, 53, 589_793, tzinfo=UTC)
# Seeds whose test pattern NFIQ 2 scores (it fails on a few synthetic patterns, e.g. seed 4).
GOOD_SEEDS = (0, 1, 2, 3, 5, 6, 7, 8, 9, 10)


def second_impression(seed: int) -> np.ndarray:
    """The same finger placed again: rotated 8 degrees, shifted 10 px right and 6 up, new noise."""
    return ridge_pattern(seed, rotation_deg=8, shift=(10, -6), noise_seed=7)
