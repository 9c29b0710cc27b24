"""Frame validation, the PGM wrapper, and R307-like cuts."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from biometrics.errors import (
    BiometricError,
    EmptyFrame,
    FrameDtypeError,
    FrameShapeError,
    FrameTooSmall,
    FrameTypeError,
    InvalidFrame,
)
from biometrics.frames import encode_pgm, r307_like_frame, validate_frame


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (np.zeros((0, 0), np.uint8), EmptyFrame),
        (np.zeros((288, 0), np.uint8), EmptyFrame),
        (np.zeros((288, 256), np.uint16), FrameDtypeError),
        (np.zeros((288, 256), np.float32), FrameDtypeError),
        (np.zeros((288, 256), bool), FrameDtypeError),
        (np.zeros((288, 256, 3), np.uint8), FrameShapeError),
        (np.zeros(288 * 256, np.uint8), FrameShapeError),
        (np.zeros((31, 256), np.uint8), FrameTooSmall),
        (np.zeros((288, 10), np.uint8), FrameTooSmall),
        (np.zeros((1, 1), np.uint8), FrameTooSmall),
        (b"\x00" * (288 * 256), FrameTypeError),
        ([[0] * 256] * 288, FrameTypeError),
        (None, FrameTypeError),
        (Image.new("L", (256, 288)), FrameTypeError),
    ],
)
def test_bad_frames_get_named_errors(frame, error):
    with pytest.raises(error) as caught:
        validate_frame(frame)
    assert isinstance(caught.value, InvalidFrame | BiometricError)
    assert caught.value.hint and caught.value.hint in str(caught.value)  # says what to do


def test_errors_are_catchable_as_builtin_kinds():
    with pytest.raises(TypeError):
        validate_frame("not an image")


def test_valid_frames_pass_and_become_contiguous():
    frame = np.arange(288 * 512, dtype=np.uint32).astype(np.uint8).reshape(288, 512)[:, ::2]
    assert not frame.flags.c_contiguous
    checked = validate_frame(frame)
    assert checked.flags.c_contiguous and np.array_equal(checked, frame)
    assert validate_frame(np.zeros((32, 32), np.uint8)).shape == (32, 32)
    assert validate_frame(np.zeros((374, 388), np.uint8)).shape == (374, 388)


def test_pgm_is_a_lossless_wrapper():
    frame = np.random.default_rng(0).integers(0, 256, (288, 256), dtype=np.uint8)
    data = encode_pgm(frame)
    assert data.startswith(b"P5\n256 288\n255\n")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), frame)


@pytest.mark.parametrize("shape", [(374, 388), (500, 400), (200, 150)])
def test_r307_like_frames_are_4_bit_windows(shape):
    image = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    frame = r307_like_frame(image)
    assert frame.shape == (288, 256) and frame.dtype == np.uint8
    assert set(np.unique(frame)) <= {17 * level for level in range(16)}


def test_r307_like_frame_centres_on_the_print():
    image = np.full((374, 388), 255, np.uint8)
    rng = np.random.default_rng(2)
    image[200:360, 220:380] = rng.integers(0, 256, (160, 160), dtype=np.uint8)  # print at lower right
    frame = r307_like_frame(image)
    busy = frame < 200
    assert busy[:, 128:].sum() > busy[:, :128].sum()  # the window moved towards the print
    assert busy.mean() > 0.25
