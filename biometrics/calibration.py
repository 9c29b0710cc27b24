"""How the gate and the match threshold were measured, so anyone can measure them again.

Real prints live outside the repository (third-party research data, never copied in):
``<repo>/../shared/data/fingerprints``. Everything here returns nothing from that folder when it
is absent; callers skip. Run ``bench/pipeline.py --calibrate`` for the figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biometrics.frames import R307_COLS, R307_ROWS, r307_like_frame

REAL_PRINTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fingerprints"


@dataclass(frozen=True)
class LabelledFrame:
    finger: str  # frames of one finger share this
    impression: int
    frame: np.ndarray  # R307-like: 256x288, 4-bit x17


def real_frames(root: Path | None = None) -> list[LabelledFrame]:
    """R307-like frames cut from the real prints under ``root`` (default REAL_PRINTS); an empty
    list when they are absent."""
    from PIL import Image  # only the calibration needs to read TIFF/PNG files

    root = root or REAL_PRINTS
    frames = []
    for path in sorted(root.glob("fvc2002_db1_b/*_*.tif")) + sorted(
        root.glob("two_fingers_400x500/p*_*.png")
    ):
        finger, impression = path.stem.split("_")
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("L"))
        frames.append(LabelledFrame(finger, int(impression), r307_like_frame(pixels)))
    return frames


def noise_frames(per_family: int = 25, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Frames that must never pass as prints: random noise of many kinds, R307 size."""
    rng = np.random.default_rng(seed)
    shape = (R307_ROWS, R307_COLS)
    radius = np.hypot(np.fft.fftfreq(R307_ROWS)[:, None], np.fft.fftfreq(R307_COLS)[None, :])

    def four_bit(image: np.ndarray) -> np.ndarray:
        return (np.clip(image, 0, 255).astype(np.uint8) >> 4) * np.uint8(17)

    def filtered(gain: np.ndarray) -> np.ndarray:
        field = np.real(np.fft.ifft2(np.fft.fft2(rng.normal(size=shape)) * gain))
        return 128 + 60 * field / field.std()

    def band(period: float, width: float) -> np.ndarray:
        return filtered(np.exp(-((radius - 1 / period) ** 2) / (2 * (width / period) ** 2)))

    def low(sigma: float) -> np.ndarray:
        return filtered(np.exp(-(radius**2) * (2 * np.pi * sigma) ** 2 / 2))

    families: dict[str, Callable[[], np.ndarray]] = {
        "gaussian 4-bit": lambda: four_bit(rng.normal(128, rng.uniform(10, 90), shape)),
        "gaussian 8-bit": lambda: np.clip(
            rng.normal(rng.uniform(60, 200), rng.uniform(10, 90), shape), 0, 255
        ).astype(np.uint8),
        "uniform 8-bit": lambda: rng.integers(0, 256, shape, dtype=np.uint8),
        "binary": lambda: (rng.random(shape) < rng.uniform(0.05, 0.95)).astype(np.uint8) * np.uint8(255),
        "low-pass 1.5 px": lambda: four_bit(low(1.5)),
        "low-pass 2.5 px": lambda: four_bit(low(2.5)),
        "band-pass at ridge spacing": lambda: four_bit(band(9.0, 0.4)),
        "narrow band-pass at ridge spacing": lambda: four_bit(band(9.0, 0.15)),
        "binarised band-pass": lambda: np.where(band(9.0, 0.25) > 128, 40, 230).astype(np.uint8),
    }
    return {name: [make() for _ in range(per_family)] for name, make in families.items()}


def blank_frames() -> dict[str, np.ndarray]:
    """Uniform frames: nothing on the glass (white), a covered or dark sensor, mid grey."""
    return {
        f"uniform {level}": np.full((R307_ROWS, R307_COLS), level, np.uint8)
        for level in (0, 17, 128, 238, 255)
    }


def pair_scores(
    templates: Mapping[tuple[str, int], bytes],
    compare_many: Callable[[bytes, Sequence[bytes]], list[int]],
) -> tuple[list[int], list[int]]:
    """(genuine, impostor) scores over every unordered pair of templates keyed (finger, impression);
    the earlier key (in sorted order) is the probe."""
    keys = sorted(templates)
    genuine: list[int] = []
    impostor: list[int] = []
    for index, probe in enumerate(keys[:-1]):
        others = keys[index + 1 :]
        for other, score in zip(
            others, compare_many(templates[probe], [templates[k] for k in others]), strict=True
        ):
            (genuine if other[0] == probe[0] else impostor).append(score)
    return genuine, impostor


def percentiles(
    values: Iterable[float], points: Sequence[float] = (0, 5, 10, 25, 50, 75, 90, 99, 99.9, 100)
) -> dict[str, float]:
    data = np.asarray(list(values), dtype=float)
    if data.size == 0:
        return {}
    return {f"p{p:g}": round(float(np.percentile(data, p)), 2) for p in points}


def error_rates(genuine: Sequence[int], impostor: Sequence[int], threshold: int) -> dict[str, float]:
    """False match and false non-match rates at ``threshold`` (a match is score >= threshold)."""
    return {
        "fmr": float(np.mean(np.asarray(impostor) >= threshold)) if impostor else 0.0,
        "fnmr": float(np.mean(np.asarray(genuine) < threshold)) if genuine else 0.0,
    }


def equal_error_rate(genuine: Sequence[int], impostor: Sequence[int]) -> tuple[int, float]:
    """(threshold, rate) where FMR and FNMR are closest."""

    def gap(threshold: int) -> float:
        rates = error_rates(genuine, impostor, threshold)
        return abs(rates["fmr"] - rates["fnmr"])

    best = min(range(max([*genuine, *impostor, 1]) + 2), key=gap)
    rates = error_rates(genuine, impostor, best)
    return best, (rates["fmr"] + rates["fnmr"]) / 2
