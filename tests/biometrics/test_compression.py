"""WSQ at 0.75 bpp: round trip within size and PSNR bounds; bad streams get named errors.

Measured on 256x288 frames: real R307-like crops 5.0-7.7 kB (median 6.5 kB, 0.71 bpp), PSNR
21.3-31.5 dB (median 26.3); test patterns 6.3-7.5 kB, 25.2-26.9 dB. The bounds below leave room.
"""

from __future__ import annotations

import numpy as np
import pytest
from pipeline_fixtures import GOOD_SEEDS

from biometrics.compression import decode_wsq, encode_wsq
from biometrics.errors import FrameTooSmall, InvalidFrame, WsqError
from biometrics.ridge_pattern import ridge_pattern

PIXELS = 256 * 288
MAX_BYTES = PIXELS * 1.0 / 8  # 9,216 B: at most 1 bit per pixel
MIN_BYTES = 4_000
MIN_PSNR_DB = 20.0


def psnr(original: np.ndarray, decoded: np.ndarray) -> float:
    mse = np.mean((original.astype(np.float64) - decoded) ** 2)
    return float(10 * np.log10(255**2 / mse))


@pytest.mark.parametrize("seed", GOOD_SEEDS[:5])
def test_round_trip_within_bounds(seed):
    frame = ridge_pattern(seed)
    data = encode_wsq(frame)
    assert MIN_BYTES <= len(data) <= MAX_BYTES
    decoded = decode_wsq(data)
    assert decoded.shape == frame.shape and decoded.dtype == np.uint8
    assert psnr(frame, decoded) >= MIN_PSNR_DB


def test_real_frames_within_bounds(real):
    for labelled in real[::4]:
        data = encode_wsq(labelled.frame)
        assert MIN_BYTES <= len(data) <= MAX_BYTES
        assert psnr(labelled.frame, decode_wsq(data)) >= MIN_PSNR_DB


def test_encoding_is_deterministic_and_keeps_odd_sizes():
    frame = ridge_pattern(GOOD_SEEDS[0])[:287, :255]
    assert encode_wsq(frame) == encode_wsq(frame.copy())
    assert decode_wsq(encode_wsq(frame)).shape == (287, 255)
    assert decode_wsq(encode_wsq(np.zeros((32, 32), np.uint8))).shape == (32, 32)


def test_bad_frames_are_refused_before_the_c_code():
    with pytest.raises(FrameTooSmall):
        encode_wsq(np.zeros((10, 10), np.uint8))
    with pytest.raises(InvalidFrame):
        encode_wsq(np.zeros((288, 256, 3), np.uint8))


@pytest.mark.parametrize("cut", [0, 1, 2, 10, 100, 1000, -1])
def test_truncated_or_foreign_streams_get_wsq_errors(cut):
    data = encode_wsq(ridge_pattern(GOOD_SEEDS[0]))
    with pytest.raises(WsqError):
        decode_wsq(data[:cut])


@pytest.mark.parametrize("junk", [b"", b"\xff\xa0", b"\xff\xa0\xff\xa1", b"P5\n2 2\n255\n1234", "text"])
def test_junk_gets_wsq_errors(junk):
    with pytest.raises(WsqError):
        decode_wsq(junk)
