"""Extractor: one frame in, a complete ProcessedPrint out."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import numpy as np
import pytest
from pipeline_fixtures import CAPTURED_AT, GOOD_SEEDS

from biometrics.compression import decode_wsq
from biometrics.errors import FrameDtypeError, FrameTooSmall, InvalidFingerPosition
from biometrics.extractor import Extractor, MinutiaKind
from biometrics.iso import NFIQ2_ALGORITHM_ID, NFIQ2_VENDOR_ID, RIDGE_ENDING, parse_template
from biometrics.positions import FingerPosition
from biometrics.ridge_pattern import ridge_pattern


@pytest.fixture(scope="module")
def result(extractor, pattern):
    return extractor.process(pattern, 4, CAPTURED_AT)


def test_everything_about_one_finger(result, pattern):
    assert result.fgp is FingerPosition.RIGHT_RING
    assert (result.width, result.height) == (256, 288)
    assert result.captured_at == CAPTURED_AT
    assert 0 <= result.nfiq2 <= 100 and result.accepted and result.feedback == ()
    assert len(result.minutiae) == result.quality.minutiae_count >= 20
    assert all(0 <= m.x < 256 and 0 <= m.y < 288 for m in result.minutiae)
    assert all(0 <= m.reliability <= 1 and 0 <= m.angle < 360 for m in result.minutiae)
    assert {m.kind for m in result.minutiae} <= set(MinutiaKind)
    assert decode_wsq(result.wsq).shape == pattern.shape
    assert set(result.timings_ms) == {"pgm", "nfiq2_minutiae", "iso", "wsq", "total"}


def test_template_carries_the_same_minutiae_and_a_correct_header(result):
    template = parse_template(result.template)
    assert template.finger_position == 4 and template.impression_type == 0
    assert (template.resolution_x, template.resolution_y) == (197, 197)
    assert template.captured_at == CAPTURED_AT.replace(microsecond=589_000)
    assert (template.quality.score, template.quality.vendor_id, template.quality.algorithm_id) == (
        result.nfiq2,
        NFIQ2_VENDOR_ID,
        NFIQ2_ALGORITHM_ID,
    )
    assert [(m.x, m.y, m.kind == RIDGE_ENDING) for m in template.minutiae] == [
        (m.x, m.y, m.kind is MinutiaKind.RIDGE_ENDING) for m in result.minutiae
    ]
    assert [m.quality for m in template.minutiae] == [round(m.reliability * 100) for m in result.minutiae]


def test_capture_time_comes_from_the_injected_clock(pattern):
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    extractor = Extractor(clock=lambda: moment)
    processed = extractor.process(pattern, 1)
    assert processed.captured_at == moment
    assert parse_template(processed.template).captured_at == moment
    assert extractor.process(pattern, 1, CAPTURED_AT).captured_at == CAPTURED_AT


def test_results_are_picklable(result):
    assert pickle.loads(pickle.dumps(result)) == result


def test_bad_input_gets_named_errors(extractor, pattern):
    with pytest.raises(FrameDtypeError):
        extractor.process(pattern.astype(np.int16), 1)
    with pytest.raises(FrameTooSmall):
        extractor.process(pattern[:20], 1)
    for fgp in (0, 11, None, "3"):
        with pytest.raises(InvalidFingerPosition):
            extractor.process(pattern, fgp)


def test_other_frame_sizes(extractor):
    large = extractor.process(ridge_pattern(GOOD_SEEDS[1], rows=374, cols=388), 2)
    assert (large.width, large.height) == (388, 374) and large.quality.is_print
    tiny = extractor.process(ridge_pattern(GOOD_SEEDS[1], rows=32, cols=32), 2)
    assert not tiny.accepted and tiny.feedback  # processed, and rejected with advice


def test_concurrent_use_gives_the_same_results(extractor):
    frames = [ridge_pattern(seed) for seed in GOOD_SEEDS[:4]] * 2
    sequential = [extractor.process(f, 1, CAPTURED_AT) for f in frames]
    with ThreadPoolExecutor(3) as pool:
        parallel = list(pool.map(lambda f: extractor.process(f, 1, CAPTURED_AT), frames))
    strip = [(p.template, p.minutiae, p.quality, p.wsq) for p in sequential]
    assert [(p.template, p.minutiae, p.quality, p.wsq) for p in parallel] == strip
