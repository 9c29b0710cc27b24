"""Shared fixtures: one extractor per test session, print-like test patterns, real prints if present.

Real prints (third-party data) are read from ``<repo>/../shared/data/fingerprints`` and never
copied; tests that need them skip when the folder is absent.
"""

from __future__ import annotations

import numpy as np
import pytest
from pipeline_fixtures import GOOD_SEEDS

from biometrics.calibration import REAL_PRINTS, LabelledFrame, real_frames
from biometrics.extractor import Extractor, ProcessedPrint
from biometrics.ridge_pattern import ridge_pattern
from biometrics.worker import shared_extractor


@pytest.fixture(scope="session")
def extractor() -> Extractor:
    return shared_extractor()


@pytest.fixture(scope="session")
def pattern() -> np.ndarray:
    return ridge_pattern(GOOD_SEEDS[0])


@pytest.fixture(scope="session")
def real() -> list[LabelledFrame]:
    frames = real_frames()
    if not frames:
        pytest.skip(f"real prints absent ({REAL_PRINTS})")
    return frames


@pytest.fixture(scope="session")
def real_processed(real, extractor) -> dict[tuple[str, int], ProcessedPrint]:
    """Impressions 1-3 of every real finger (36 frames), processed once for all tests."""
    return {(f.finger, f.impression): extractor.process(f.frame, 1) for f in real if f.impression <= 3}
