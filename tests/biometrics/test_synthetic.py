"""Synthetic fingerprint generator: determinism, frame format, cache, pattern statistics, ridge
period and — with nbis — that impressions of one finger match while different fingers do not."""

from __future__ import annotations

import io
import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from biometrics.synthetic import (
    FRAME_SHAPE,
    MASTER_SHAPE,
    PatternClass,
    SyntheticPrints,
    class_probabilities,
    default_cache_dir,
)
from biometrics.synthetic.generator import _rng
from biometrics.synthetic.master import contact_level, draw_params, orientation_field
from biometrics.synthetic.pattern import poincare_indices


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("synthetic-cache")


@pytest.fixture(scope="module")
def prints(cache: Path) -> SyntheticPrints:
    return SyntheticPrints(seed=7, cache_dir=cache)


def test_master_is_a_print_on_white(prints: SyntheticPrints) -> None:
    master = prints.master("S0001", 2)
    assert master.shape == MASTER_SHAPE and master.dtype == np.uint8
    assert master[0, 0] == 255 and master[0, -1] == 255  # background outside the finger
    centre = master[150:250, 110:210]
    assert centre.min() < 40 and centre.max() > 215  # dark ridges, light valleys


def test_impression_is_an_r307_frame(prints: SyntheticPrints) -> None:
    frame = prints.impression("S0001", 2, 0)
    assert frame.shape == FRAME_SHAPE == (288, 256) and frame.dtype == np.uint8
    assert np.all(frame % 17 == 0)
    assert len(np.unique(frame)) > 8
    assert frame.min() <= 85 and frame.max() >= 204


def test_same_inputs_give_identical_images(prints: SyntheticPrints) -> None:
    uncached = SyntheticPrints(seed=7, disk_cache=False)
    assert np.array_equal(prints.master("S0002", 5), uncached.master("S0002", 5))
    assert np.array_equal(prints.impression("S0002", 5, 3), uncached.impression("S0002", 5, 3))
    assert prints.pattern_class("S0002", 5) == uncached.pattern_class("S0002", 5)


@pytest.mark.parametrize(
    ("other_seed", "other"),
    [(7, ("S0003", 1, 1)), (7, ("S0002", 2, 1)), (7, ("S0002", 1, 2)), (8, ("S0002", 1, 1))],
    ids=["subject", "finger", "impression", "seed"],
)
def test_different_inputs_give_different_images(
    prints: SyntheticPrints, other_seed: int, other: tuple[str, int, int]
) -> None:
    reference = prints.impression("S0002", 1, 1)
    frame = SyntheticPrints(seed=other_seed, disk_cache=False).impression(*other)
    assert np.mean(reference != frame) > 0.3


def test_impressions_of_one_finger_differ(prints: SyntheticPrints) -> None:
    frames = [prints.impression("S0004", 3, index) for index in range(3)]
    for a, b in itertools.combinations(frames, 2):
        assert np.mean(a != b) > 0.3


def test_cache_hit_returns_identical_data_without_rendering(tmp_path: Path) -> None:
    first = SyntheticPrints(seed=3, cache_dir=tmp_path)
    master = first.master("S0005", 7)
    path = first.cache_path("S0005", 7)
    assert path is not None and path.is_file() and path.is_relative_to(tmp_path)
    assert first.masters_generated == 1
    first.master("S0005", 7)
    assert first.masters_generated == 1  # served from memory
    written = path.stat().st_mtime_ns

    second = SyntheticPrints(seed=3, cache_dir=tmp_path)
    assert np.array_equal(second.master("S0005", 7), master)
    assert np.array_equal(second.impression("S0005", 7, 0), first.impression("S0005", 7, 0))
    assert second.masters_generated == 0
    assert path.stat().st_mtime_ns == written
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left


def test_corrupt_cache_entry_is_rebuilt(tmp_path: Path) -> None:
    prints = SyntheticPrints(seed=3, cache_dir=tmp_path)
    master = prints.master("S0006", 4)
    path = prints.cache_path("S0006", 4)
    assert path is not None
    path.write_bytes(b"\x89PNG truncated")
    fresh = SyntheticPrints(seed=3, cache_dir=tmp_path)
    assert np.array_equal(fresh.master("S0006", 4), master)
    assert fresh.masters_generated == 1
    assert Image.open(path).mode == "LA"


def test_cache_paths_stay_inside_the_cache(tmp_path: Path) -> None:
    prints = SyntheticPrints(seed=0, cache_dir=tmp_path)
    plain, odd = prints.cache_path("S0001", 1), prints.cache_path("../../etc/passwd", 1)
    assert plain is not None and odd is not None
    assert plain.parent.name == "S0001"
    assert odd.resolve().is_relative_to(tmp_path.resolve()) and ".." not in odd.parts
    assert SyntheticPrints(disk_cache=False).cache_path("S0001", 1) is None


def test_default_cache_dir_honours_livescan_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LIVESCAN_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "synthetic"
    monkeypatch.delenv("LIVESCAN_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "livescan" / "synthetic"


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("master", ("S1", 0)),
        ("master", ("S1", 11)),
        ("master", ("", 1)),
        ("master", ("S1", True)),
        ("pattern_class", (None, 1)),
        ("impression", ("S1", 1, -1)),
        ("impression", ("S1", 1, 1.5)),
    ],
)
def test_bad_arguments_raise_value_error(call: str, args: tuple) -> None:
    with pytest.raises(ValueError):
        getattr(SyntheticPrints(disk_cache=False), call)(*args)


def test_pattern_class_proportions_are_realistic() -> None:
    prints = SyntheticPrints(seed=11, disk_cache=False)
    fingers = [(f"P{n:04d}", finger) for n in range(300) for finger in range(1, 11)]
    counts = Counter(prints.pattern_class(*key) for key in fingers)
    share = {kind: counts[kind] / len(fingers) for kind in PatternClass}
    targets = {
        PatternClass.ARCH: 0.05,
        PatternClass.TENTED_ARCH: 0.05,
        PatternClass.LEFT_LOOP: 0.33,
        PatternClass.RIGHT_LOOP: 0.30,
        PatternClass.WHORL: 0.27,
    }
    for kind, target in targets.items():
        assert share[kind] == pytest.approx(target, abs=0.04), kind

    def whorls(finger: int) -> float:
        return sum(prints.pattern_class(s, f) is PatternClass.WHORL for s, f in fingers if f == finger) / 300

    assert whorls(1) > 2 * whorls(5)  # thumbs whorl more than little fingers
    right_hand = Counter(prints.pattern_class(s, f) for s, f in fingers if f <= 5)
    assert right_hand[PatternClass.RIGHT_LOOP] > 5 * right_hand[PatternClass.LEFT_LOOP]  # ulnar loops


def test_class_priors_sum_to_one() -> None:
    for finger in range(1, 11):
        assert sum(class_probabilities(finger).values()) == pytest.approx(1.0)


EXPECTED_CORES = {
    PatternClass.ARCH: (0, 0),
    PatternClass.TENTED_ARCH: (1, 1),
    PatternClass.LEFT_LOOP: (1, 1),
    PatternClass.RIGHT_LOOP: (1, 1),
    PatternClass.WHORL: (2, 2),
}


def test_orientation_field_has_the_singular_points_of_its_class() -> None:
    """Poincaré indices inside the finger: the class's cores exactly, at most its deltas (a delta
    may lie beyond the canvas)."""
    seen: set[PatternClass] = set()
    for n in range(60):
        rng = _rng("master", 0, f"O{n}", n % 10 + 1)
        params = draw_params(rng, n % 10 + 1)
        indices = poincare_indices(orientation_field(params, rng), block=8)
        inside = contact_level(params)[8::8, 8::8][: indices.shape[0], : indices.shape[1]] > -0.05
        cores, deltas = indices[(indices > 0) & inside].sum(), -indices[(indices < 0) & inside].sum()
        expected_cores, max_deltas = EXPECTED_CORES[params.pattern]
        assert cores == expected_cores and deltas <= max_deltas, (n, params.pattern)
        seen.add(params.pattern)
    assert len(seen) >= 4


def _dominant_period(patch: np.ndarray) -> float:
    """Ridge period (px) at the peak of the patch's windowed power spectrum."""
    window = np.outer(np.hanning(patch.shape[0]), np.hanning(patch.shape[1]))
    power = np.abs(np.fft.fft2((patch - patch.mean()) * window)) ** 2
    v, u = np.meshgrid(np.fft.fftfreq(patch.shape[0]), np.fft.fftfreq(patch.shape[1]), indexing="ij")
    radius = np.hypot(u, v)
    power[radius < 1 / 20] = 0  # ignore the contact outline and shading
    peak = np.unravel_index(np.argmax(power), power.shape)
    return float(1.0 / radius[peak])


def test_ridge_period_is_that_of_real_prints_at_500_ppi(prints: SyntheticPrints) -> None:
    periods = []
    for subject in ("S0010", "S0011", "S0012"):
        master = prints.master(subject, 3).astype(float)
        periods += [_dominant_period(master[y : y + 64, x : x + 64]) for y in (120, 200) for x in (100, 160)]
        frame = prints.impression(subject, 3, 0).astype(float)
        periods.append(_dominant_period(frame[80:208, 64:192]))
    assert 8.0 <= np.median(periods) <= 11.0
    assert all(7.0 <= period <= 12.5 for period in periods), periods


# --- with nbis ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def extractor():
    nbis = pytest.importorskip("nbis")
    settings = nbis.NbisExtractorSettings(
        min_quality=0.0, get_center=False, check_fingerprint=False, compute_nfiq2=False, ppi=None
    )
    return nbis.new_nbis_extractor(settings)


def _template(extractor, frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG")
    return extractor.extract_minutiae(buffer.getvalue()).to_iso_19794_2_2011()


def test_impressions_of_a_finger_match_and_other_fingers_do_not(prints: SyntheticPrints, extractor) -> None:
    fingers = [(f"M{n:03d}", n % 10 + 1) for n in range(10)]
    templates = [[_template(extractor, prints.impression(s, f, i)) for i in (0, 1)] for s, f in fingers]
    genuine = [extractor.compare_iso_19794_2_2011(a, b) for a, b in templates]
    impostor = [
        extractor.compare_iso_19794_2_2011(templates[i][0], templates[j][1])
        for i, j in itertools.permutations(range(len(fingers)), 2)
    ]
    threshold = 40
    assert np.mean(np.array(genuine) >= threshold) >= 0.7, genuine
    assert np.mean(np.array(impostor) < threshold) >= 0.97, sorted(impostor)[-5:]
    assert np.median(genuine) > 3 * np.median(impostor)


def test_concurrent_requests_render_each_master_once(tmp_path: Path) -> None:
    prints = SyntheticPrints(seed=5, cache_dir=tmp_path)
    keys = [("T1", 1), ("T1", 2), ("T2", 1)] * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        frames = list(pool.map(lambda key: prints.impression(*key, 0), keys))
    assert prints.masters_generated == 3
    for key, frame in zip(keys, frames, strict=True):
        assert np.array_equal(frame, frames[keys.index(key)])


def test_unwritable_cache_only_costs_speed(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    prints = SyntheticPrints(seed=5, cache_dir=blocker)
    assert np.array_equal(prints.master("U1", 1), SyntheticPrints(seed=5, disk_cache=False).master("U1", 1))
