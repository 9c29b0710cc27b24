"""The quality gate: blanks, uniform frames and noise never pass as prints; real prints do."""

from __future__ import annotations

import numpy as np
import pytest
from pipeline_fixtures import GOOD_SEEDS

from biometrics.calibration import blank_frames, noise_frames
from biometrics.quality import (
    CENTRE_FINGER,
    CLEAN_GLASS,
    EMPTY_IMAGE,
    FOREGROUND,
    MIN_NFIQ2,
    MIN_RELIABLE_MINUTIAE,
    MINUTIAE_FOUND,
    PLACE_FINGER,
    PRESS_FIRMER,
    UNIFORM_IMAGE,
    assess_quality,
)
from biometrics.ridge_pattern import ridge_pattern

GOOD = {UNIFORM_IMAGE: 80.0, EMPTY_IMAGE: 180.0, MINUTIAE_FOUND: 30.0, FOREGROUND: 55_000.0}
RELIABLE = [0.8] * 15 + [0.2] * 15


def test_a_good_print_passes_without_feedback():
    report = assess_quality(55, GOOD, RELIABLE)
    assert report.is_print and report.accepted
    assert report.feedback == ()
    assert (report.nfiq2, report.minutiae_count, report.reliable_minutiae) == (55, 30, 15)


def test_low_nfiq2_is_a_print_but_rejected():
    report = assess_quality(MIN_NFIQ2 - 1, GOOD, RELIABLE)
    assert report.is_print and not report.accepted
    assert report.feedback == (CLEAN_GLASS,)


def test_unreliable_minutiae_are_not_a_print_whatever_nfiq2_says():
    report = assess_quality(50, GOOD, [0.35] * 120)  # band-pass noise: NFIQ 2 up to ~50
    assert not report.is_print and not report.accepted
    assert report.feedback == (CLEAN_GLASS,)
    few = assess_quality(50, GOOD, [0.9] * (MIN_RELIABLE_MINUTIAE - 1))
    assert not few.is_print


@pytest.mark.parametrize(
    ("actionable", "reliabilities", "feedback"),
    [
        ({}, [], (PLACE_FINGER,)),  # blank: NFIQ 2 did not run, no minutiae
        ({**GOOD, UNIFORM_IMAGE: 0.2}, [], (PLACE_FINGER,)),
        ({**GOOD, EMPTY_IMAGE: 252.0}, [0.6] * 3, (PRESS_FIRMER,)),  # a faint trace of a print
        ({**GOOD, EMPTY_IMAGE: 252.0}, [], (PLACE_FINGER,)),
        (GOOD, [0.2] * 3, (PLACE_FINGER,)),
    ],
)
def test_blank_and_empty_frames(actionable, reliabilities, feedback):
    report = assess_quality(0 if not actionable else 5, actionable, reliabilities)
    assert not report.is_print and not report.accepted
    assert report.feedback == feedback


def test_small_contact_area_asks_for_more_pressure_or_centring():
    small = {**GOOD, FOREGROUND: 20_000.0}
    assert PRESS_FIRMER in assess_quality(45, small, RELIABLE).feedback
    off_centre = assess_quality(45, small, RELIABLE, foreground_offset=(0.3, 0.0))
    assert off_centre.feedback == (CENTRE_FINGER,)
    assert off_centre.accepted  # feedback is advice; the gate still passes a good print


def test_faint_rejected_print_asks_for_more_pressure():
    faint = {**GOOD, EMPTY_IMAGE: 235.0}
    assert assess_quality(MIN_NFIQ2 - 5, faint, RELIABLE).feedback == (PRESS_FIRMER,)


def test_nfiq2_failure_is_never_accepted():
    report = assess_quality(None, {}, RELIABLE)
    assert report.is_print and not report.accepted and report.nfiq2 is None
    assert report.feedback == (CLEAN_GLASS,)


@pytest.fixture(scope="module")
def noise_results(extractor):
    frames = [frame for family in noise_frames(per_family=2, seed=11).values() for frame in family]
    return [extractor.process(frame, 1) for frame in frames]


def test_noise_never_passes_as_a_print(noise_results):
    assert len(noise_results) == 18
    assert not [r for r in noise_results if r.quality.is_print or r.accepted]
    assert max(r.quality.reliable_minutiae for r in noise_results) == 0
    assert all(r.feedback for r in noise_results)


def test_noise_fools_nfiq2_and_the_minutiae_count_alone(noise_results):
    """Why the gate needs reliable minutiae: noise gets NFIQ 2 scores and many minutiae."""
    assert max(r.nfiq2 or 0 for r in noise_results) >= MIN_NFIQ2
    assert max(r.quality.minutiae_count for r in noise_results) >= 60


@pytest.mark.parametrize("name", sorted(blank_frames()))
def test_blank_and_uniform_frames_are_rejected(extractor, name):
    result = extractor.process(blank_frames()[name], 1)
    assert not result.quality.is_print and not result.accepted
    assert result.feedback == (PLACE_FINGER,)
    assert result.template is None  # no minutiae, no template
    assert result.wsq  # still encodable for the record


def test_other_non_prints_are_rejected(extractor):
    rows, cols = np.mgrid[0:288, 0:256]
    for frame in (
        (np.sin(cols * 2 * np.pi / 9) * 100 + 128).astype(np.uint8),  # a grating: ridges, no minutiae
        (((rows // 8 + cols // 8) % 2) * 255).astype(np.uint8),  # checkerboard
        (cols * 255 // 255).astype(np.uint8),  # gradient
    ):
        assert not extractor.process(frame, 1).quality.is_print


def test_test_patterns_pass(extractor):
    for seed in GOOD_SEEDS[:4]:
        result = extractor.process(ridge_pattern(seed), 1)
        assert result.accepted, (seed, result.quality)


def test_off_centre_print_is_told_to_centre(extractor):
    result = extractor.process(ridge_pattern(GOOD_SEEDS[0], shift=(100, 0)), 1)
    assert CENTRE_FINGER in result.feedback


def test_real_r307_like_prints_pass(real_processed):
    """Calibration data: >= 95 % of real R307-like frames are prints and accepted."""
    results = list(real_processed.values())
    assert sum(r.quality.is_print for r in results) >= 0.95 * len(results)
    assert sum(r.accepted for r in results) >= 0.95 * len(results)
