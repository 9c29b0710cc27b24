from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hw_sim.features import (
    SECURITY_THRESHOLDS,
    FeaturelessImageError,
    MessyImageError,
    SimpleMinutiaeMatcher,
)
from hw_sim.pixels import quantise_4bit, window

FVC = Path("/work/shared/data/fingerprints/fvc2002_db1_b")
THRESHOLD = SECURITY_THRESHOLDS[3]


@pytest.fixture(scope="module")
def matcher() -> SimpleMinutiaeMatcher:
    return SimpleMinutiaeMatcher(256, 288, 512)


@pytest.fixture(scope="module")
def scores(matcher, fingers) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor scores over 20 synthetic fingers x 3 impressions."""
    rng = np.random.default_rng(2024)
    templates = {
        (finger, take): matcher.extract(fingers.impression(f"S{finger // 10 + 1:04d}", finger % 10 + 1, rng))
        for finger in range(20)
        for take in range(3)
    }
    genuine, impostor = [], []
    for (a, first), (b, second) in itertools.combinations(templates.items(), 2):
        (genuine if a[0] == b[0] else impostor).append(matcher.compare(first, second))
    return np.array(genuine), np.array(impostor)


def test_impressions_of_one_finger_match(scores):
    genuine, _ = scores
    assert len(genuine) == 60
    assert np.mean(genuine >= THRESHOLD) >= 0.95
    assert np.median(genuine) >= 100


def test_different_fingers_do_not_match(scores):
    _, impostor = scores
    assert len(impostor) == 1710
    assert np.mean(impostor >= THRESHOLD) <= 0.005
    assert np.median(impostor) < 20


def test_blank_image_has_too_few_features(matcher):
    with pytest.raises(FeaturelessImageError):
        matcher.extract(np.full((288, 256), 255, np.uint8))


def test_noise_is_messy(matcher):
    with pytest.raises(MessyImageError):
        matcher.extract(np.random.default_rng(1).integers(0, 256, (288, 256), dtype=np.uint8))


def test_template_size_and_invalid_input(matcher, fingers):
    features = matcher.extract(fingers.impression("S0001", 1, np.random.default_rng(0)))
    assert len(features) == 512
    assert matcher.compare(features, bytes(512)) == 0
    assert matcher.compare(b"\xff" * 512, features) == 0


def test_merged_template_matches_both_impressions(matcher, fingers):
    rng = np.random.default_rng(5)
    first, second, third = (matcher.extract(fingers.impression("S0002", 7, rng)) for _ in range(3))
    merged = matcher.merge(first, second)
    assert len(merged) == 512
    assert matcher.compare(merged, third) >= max(
        matcher.compare(first, third), matcher.compare(second, third)
    )
    assert matcher.compare(merged, first) >= THRESHOLD


@pytest.mark.skipif(not FVC.is_dir(), reason="real prints not available on this machine")
def test_real_prints_separate(matcher):
    templates = {}
    for path in sorted(FVC.glob("*.tif"))[:40]:
        image = np.asarray(Image.open(path).convert("L"))
        frame = quantise_4bit(window(image, 256, 288, (image.shape[1] // 2, image.shape[0] // 2)))
        try:
            templates[path.stem.split("_")[0], path.stem] = matcher.extract(frame)
        except (FeaturelessImageError, MessyImageError):
            continue
    genuine, impostor = [], []
    for (a, first), (b, second) in itertools.combinations(templates.items(), 2):
        (genuine if a[0] == b[0] else impostor).append(matcher.compare(first, second))
    assert np.mean(np.array(impostor) >= THRESHOLD) < 0.01
    assert np.median(genuine) > 3 * np.median(impostor)
