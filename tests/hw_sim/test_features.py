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
    NbisModuleMatcher,
)
from hw_sim.pixels import quantise_4bit, window

FVC = Path("/work/shared/data/fingerprints/fvc2002_db1_b")
THRESHOLD = SECURITY_THRESHOLDS[3]


@pytest.fixture(scope="module")
def matcher() -> NbisModuleMatcher:
    return NbisModuleMatcher(512)


@pytest.fixture(scope="module")
def captures(matcher, fingers) -> dict[tuple[int, int], bytes | None]:
    """Character files of 20 synthetic fingers x 3 impressions; None where Img2Tz refused one."""
    rng = np.random.default_rng(2024)
    result: dict[tuple[int, int], bytes | None] = {}
    for finger, take in itertools.product(range(20), range(3)):
        image = fingers.impression(f"S{finger // 10 + 1:04d}", finger % 10 + 1, rng)
        try:
            result[finger, take] = matcher.extract(image)
        except (FeaturelessImageError, MessyImageError):
            result[finger, take] = None
    return result


@pytest.fixture(scope="module")
def scores(matcher, captures) -> tuple[np.ndarray, np.ndarray]:
    templates = {key: value for key, value in captures.items() if value is not None}
    genuine, impostor = [], []
    for (a, first), (b, second) in itertools.combinations(templates.items(), 2):
        (genuine if a[0] == b[0] else impostor).append(matcher.compare(first, second))
    return np.array(genuine), np.array(impostor)


def test_most_placements_give_a_character_file(captures):
    """Like a real module, Img2Tz refuses a faint or partial placement now and then: retake it."""
    refused = sum(value is None for value in captures.values())
    assert refused / len(captures) <= 0.15


def test_impressions_of_one_finger_match(scores):
    genuine, _ = scores
    assert len(genuine) >= 40
    # One comparison of two 256x288 windows: on real FVC crops 76 % of genuine pairs reach 34.
    assert np.mean(genuine >= THRESHOLD) >= 0.6
    assert np.median(genuine) >= THRESHOLD


def test_different_fingers_do_not_match(scores):
    _, impostor = scores
    assert len(impostor) >= 1000
    assert np.mean(impostor >= THRESHOLD) <= 0.005
    assert np.median(impostor) < THRESHOLD / 2


def test_blank_image_has_too_few_features(matcher):
    with pytest.raises(FeaturelessImageError):
        matcher.extract(np.full((288, 256), 255, np.uint8))


def test_noise_is_messy(matcher):
    with pytest.raises(MessyImageError):
        matcher.extract(np.random.default_rng(1).integers(0, 256, (288, 256), dtype=np.uint8))


def test_template_size_and_invalid_input(matcher, captures):
    features = next(value for value in captures.values() if value is not None)
    assert len(features) == 512
    assert matcher.compare(features, bytes(512)) == 0
    assert matcher.compare(b"\xff" * 512, features) == 0


def test_merge_keeps_the_richer_character_file(matcher, captures):
    first, second = (captures[3, take] for take in range(2))
    assert first is not None and second is not None
    merged = matcher.merge(first, second)
    assert merged in (first, second) and len(merged) == 512
    assert matcher.merge(merged, bytes(512)) == merged  # an empty buffer never wins


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
