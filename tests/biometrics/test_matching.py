"""bozorth3 on ISO templates: genuine pairs match, impostors do not, batch equals single."""

from __future__ import annotations

import itertools

import pytest
from pipeline_fixtures import GOOD_SEEDS, second_impression

from biometrics.calibration import error_rates, pair_scores
from biometrics.errors import TemplateError
from biometrics.matching import BATCH_FROM, MATCH_THRESHOLD, compare, compare_many, is_match
from biometrics.ridge_pattern import ridge_pattern


@pytest.fixture(scope="module")
def templates(extractor):
    """(first, second impression) templates of six test-pattern fingers."""
    return {
        seed: (
            extractor.process(ridge_pattern(seed), 1).template,
            extractor.process(second_impression(seed), 1).template,
        )
        for seed in GOOD_SEEDS[:6]
    }


def test_genuine_pairs_match(templates):
    for seed, (first, second) in templates.items():
        score = compare(first, second)
        assert is_match(score), (seed, score)
        assert compare(first, first) > score  # a template against itself scores highest


def test_impostor_pairs_do_not_match(templates):
    for (a, (first_a, second_a)), (b, (first_b, _)) in itertools.combinations(templates.items(), 2):
        for probe in (first_a, second_a):
            score = compare(probe, first_b)
            assert not is_match(score), (a, b, score)


def test_many_gives_the_same_scores_one_by_one_and_batched(templates):
    probe = templates[GOOD_SEEDS[0]][0]
    gallery = [t for pair in templates.values() for t in pair]
    singles = [compare(probe, g) for g in gallery]
    assert compare_many(probe, gallery) == singles
    repeats = -(-BATCH_FROM // len(gallery))
    assert compare_many(probe, gallery * repeats) == singles * repeats  # the batch path
    assert compare_many(probe, []) == []


def test_corrupt_gallery_entry_is_named(templates):
    probe = templates[GOOD_SEEDS[0]][0]
    with pytest.raises(TemplateError, match="gallery template 1"):
        compare_many(probe, [probe, probe[:-3]])
    with pytest.raises(TemplateError):
        compare(b"", probe)


def test_threshold_separates_real_r307_like_prints(real_processed):
    """Calibration data (impressions 1-3): no impostor reaches the threshold and most genuine
    pairs do (all 8 impressions: FNMR 23.8 %, see biometrics/matching.py)."""
    templates = {key: p.template for key, p in real_processed.items() if p.template}
    genuine, impostor = pair_scores(templates, compare_many)
    assert len(genuine) >= 36 and len(impostor) >= 500
    rates = error_rates(genuine, impostor, MATCH_THRESHOLD)
    assert rates["fmr"] == 0.0
    assert rates["fnmr"] <= 0.35
