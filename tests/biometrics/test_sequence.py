"""Sequence check: the same finger captured at two positions of a ten-print booking."""

from __future__ import annotations

import pytest
from pipeline_fixtures import GOOD_SEEDS, second_impression

from biometrics.errors import InvalidFingerPosition, TemplateError
from biometrics.matching import MATCH_THRESHOLD
from biometrics.positions import FingerPosition
from biometrics.ridge_pattern import ridge_pattern
from biometrics.sequence import DuplicateFinger, find_duplicates


@pytest.fixture(scope="module")
def ten_fingers(extractor):
    """FGP 1..10 from ten different test-pattern fingers."""
    return {
        fgp: extractor.process(ridge_pattern(seed), fgp).template
        for fgp, seed in zip(range(1, 11), GOOD_SEEDS, strict=True)
    }


def test_ten_distinct_fingers_report_nothing(ten_fingers):
    assert find_duplicates(ten_fingers) == []


def test_a_finger_taken_twice_is_found(extractor, ten_fingers):
    booking = dict(ten_fingers)
    # the officer captured the right index (seed GOOD_SEEDS[1]) again at the left middle
    booking[8] = extractor.process(second_impression(GOOD_SEEDS[1]), 8).template
    duplicates = find_duplicates(booking)
    assert len(duplicates) == 1
    duplicate = duplicates[0]
    assert (duplicate.first, duplicate.second) == (FingerPosition.RIGHT_INDEX, FingerPosition.LEFT_MIDDLE)
    assert duplicate.score >= MATCH_THRESHOLD
    assert "right index" in duplicate.describe() and "left middle" in duplicate.describe()


def test_every_matching_pair_is_reported_highest_first(extractor, ten_fingers):
    booking = dict(ten_fingers)
    booking[6] = booking[1]  # identical template: the highest possible score
    booking[9] = extractor.process(second_impression(GOOD_SEEDS[2]), 9).template
    duplicates = find_duplicates(booking)
    assert [(d.first, d.second) for d in duplicates] == [(1, 6), (3, 9)]
    assert duplicates[0].score > duplicates[1].score


def test_missing_fingers_and_custom_threshold(ten_fingers):
    partial = {fgp: t for fgp, t in ten_fingers.items() if fgp not in (4, 5)}
    assert find_duplicates(partial) == []
    assert find_duplicates({}) == [] and find_duplicates({1: ten_fingers[1]}) == []
    everything = find_duplicates(ten_fingers, threshold=0)
    assert len(everything) == 45 and all(isinstance(d, DuplicateFinger) for d in everything)


def test_bad_positions_and_templates_are_named(ten_fingers):
    with pytest.raises(InvalidFingerPosition):
        find_duplicates({0: ten_fingers[1], 2: ten_fingers[2]})
    with pytest.raises(TemplateError, match="left thumb"):
        find_duplicates({1: ten_fingers[1], 6: b"FMR\x00030\x00"})
