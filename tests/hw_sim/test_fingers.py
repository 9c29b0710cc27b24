from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from biometrics.synthetic import SyntheticPrints
from drivers.codec import pack_image, unpack_image
from hw_sim.fingers import SIMULATOR_FIRST_IMPRESSION, ImageFolderSource, SyntheticSource
from hw_sim.pixels import quantise_4bit, window


def test_impressions_have_the_sensor_format(fingers):
    image = fingers.impression("S0001", 1, np.random.default_rng(0))
    assert image.shape == (288, 256) and image.dtype == np.uint8
    assert set(np.unique(image) % 17) == {0}
    assert image.min() < 100 and image.max() == 255


def test_placements_are_impressions_of_the_shared_population(fingers):
    """The simulator shows the same fingers the centre enrols, never the very same impression."""
    rng_seed = 4
    image = fingers.impression("S0042", 3, np.random.default_rng(rng_seed))
    index = SIMULATOR_FIRST_IMPRESSION + int(np.random.default_rng(rng_seed).integers(0, 1_000_000))
    assert np.array_equal(image, SyntheticPrints(seed=0).impression("S0042", 3, index))
    assert index >= SIMULATOR_FIRST_IMPRESSION


def test_each_impression_is_a_new_placement(fingers):
    rng = np.random.default_rng(1)
    assert not np.array_equal(fingers.impression("S0001", 2, rng), fingers.impression("S0001", 2, rng))
    same_seed = [fingers.impression("S0001", 2, np.random.default_rng(9)) for _ in range(2)]
    assert np.array_equal(*same_seed)


def test_subjects_and_r503_size():
    source = SyntheticSource(192, 192, population=3)
    assert source.subjects() == ["S0001", "S0002", "S0003"]
    assert source.impression("S0001", 1, np.random.default_rng(0)).shape == (192, 192)


def test_image_folder_source(tmp_path):
    folder = tmp_path / "subject7"
    folder.mkdir()
    for finger, shade in (("101", 10), ("102", 200)):
        for take in (1, 2):
            Image.fromarray(np.full((200, 300), shade + take, np.uint8)).save(folder / f"{finger}_{take}.png")
    (folder / "notes.txt").write_text("not an image")
    source = ImageFolderSource(folder, 256, 288, jitter=0)
    assert source.subjects() == ["subject7"] and source.fingers == ["101", "102"]
    image = source.impression("subject7", 2, np.random.default_rng(0))
    assert image.shape == (288, 256)
    assert image[0, 0] == 255 and image[144, 128] == 204  # white padding; 201 or 202 quantised
    with pytest.raises(ValueError, match="finger 3"):
        source.impression("subject7", 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown subject"):
        source.impression("other", 1, np.random.default_rng(0))


def test_window_pads_and_crops():
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = window(image, 2, 2, (0, 0))
    assert out.tolist() == [[255, 255], [255, 0]]


@given(arrays(np.uint8, (6, 8)))
def test_nibble_packing_round_trip(image):
    data = pack_image(image)
    assert len(data) == 24
    assert np.array_equal(unpack_image(data, 8, 6), quantise_4bit(image))


@given(st.integers(0, 255), st.integers(0, 255))
def test_high_nibble_is_the_left_pixel(left, right):
    assert pack_image(np.array([[left, right]], np.uint8)) == bytes(((left >> 4) << 4 | right >> 4,))
