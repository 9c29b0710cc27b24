"""How realistic are the synthetic prints? NFIQ 2, minutiae and bozorth3 scores vs real R307-like frames.

    .venv/bin/python bench/realism.py [--fingers 100] [--impressions 4] [--seed 0]

Prints JSON lines: synthetic generation times, then one line per dataset (synthetic, real) with
the NFIQ 2 and minutiae-count distributions, genuine and impostor bozorth3 score distributions and
the EER, then the synthetic/real EER ratio (goal: 0.3 .. 2, measured in the same run).

Real prints: FVC2002 DB1 set B (third-party data, never copied into the repo), read from
``<repo>/../shared/data/fingerprints/fvc2002_db1_b`` and cut to R307-like frames by
``biometrics.frames.r307_like_frame`` (a 256 x 288 window at native resolution around the print's
centre, white-padded, top 4 bits x 17). Skipped when absent. All genuine pairs are scored;
impostors are all cross-finger pairs of the real set and a fixed random sample of cross-finger
pairs of the synthetic set.

Extraction and matching are the pipeline's own: ``biometrics.extractor`` (mindtct, NFIQ 2, the
ISO/IEC 19794-2:2011 template) and ``biometrics.matching`` (bozorth3). The EER does not depend on
the pipeline's match threshold.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from biometrics.extractor import Extractor  # noqa: E402
from biometrics.frames import r307_like_frame  # noqa: E402
from biometrics.matching import compare  # noqa: E402
from biometrics.synthetic import SyntheticPrints  # noqa: E402

REAL_PRINTS = REPO.parent / "shared" / "data" / "fingerprints" / "fvc2002_db1_b"
EER_RATIO_RANGE = (0.3, 2.0)
PERCENTILES = (5, 25, 50, 75, 95)
T = TypeVar("T")


@dataclass(frozen=True)
class Capture:
    finger: str
    nfiq2: int
    minutiae: int
    template: bytes | None  # None when no minutia was found


def capture(extractor: Extractor, finger: str, frame: np.ndarray, fgp: int) -> Capture:
    processed = extractor.process(frame, fgp)
    nfiq2 = processed.nfiq2 if processed.nfiq2 is not None else 0
    return Capture(finger, nfiq2, len(processed.minutiae), processed.template)


def score(probe: Capture, gallery: Capture) -> int:
    if probe.template is None or gallery.template is None:
        return 0
    return compare(probe.template, gallery.template)


def distribution(values: list[float] | np.ndarray) -> dict[str, float]:
    array = np.asarray(values, dtype=float)
    summary = {f"p{p}": round(float(np.percentile(array, p)), 1) for p in PERCENTILES}
    return {"n": int(array.size), "mean": round(float(array.mean()), 1), **summary}


def equal_error_rate(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, int]:
    """(EER, threshold): mean of FAR and FRR where they are closest, accepting score >= threshold."""
    thresholds = np.arange(0, max(genuine.max(), impostor.max()) + 2)
    frr = np.searchsorted(np.sort(genuine), thresholds, side="left") / genuine.size
    far = 1.0 - np.searchsorted(np.sort(impostor), thresholds, side="left") / impostor.size
    best = int(np.argmin(np.abs(far - frr)))
    return float((far[best] + frr[best]) / 2), int(thresholds[best])


def evaluate(name: str, captures: list[Capture], impostor_pairs: list[tuple[int, int]]) -> dict:
    started = time.perf_counter()
    genuine_pairs = [
        (i, j)
        for i, j in itertools.combinations(range(len(captures)), 2)
        if captures[i].finger == captures[j].finger
    ]
    genuine = np.array([score(captures[i], captures[j]) for i, j in genuine_pairs])
    impostor = np.array([score(captures[i], captures[j]) for i, j in impostor_pairs])
    eer, threshold = equal_error_rate(genuine, impostor)
    return {
        "dataset": name,
        "fingers": len({c.finger for c in captures}),
        "captures": len(captures),
        "nfiq2": distribution([c.nfiq2 for c in captures]),
        "minutiae": distribution([c.minutiae for c in captures]),
        "no_minutiae": sum(c.template is None for c in captures),
        "genuine": distribution(genuine),
        "impostor": {**distribution(impostor), "p99": round(float(np.percentile(impostor, 99)), 1)},
        "eer": round(eer, 4),
        "eer_threshold": threshold,
        "matching_s": round(time.perf_counter() - started, 1),
    }


def timed_ms(call: Callable[..., T], *args: object) -> tuple[T, float]:
    started = time.perf_counter()
    result = call(*args)
    return result, (time.perf_counter() - started) * 1000


def synthetic_captures(args: argparse.Namespace, extractor: Extractor) -> tuple[list[Capture], dict]:
    """Render the synthetic set (in a fresh cache, so master times are renders) and extract it."""
    fingers = [(f"R{n // 10:04d}", n % 10 + 1) for n in range(args.fingers)]
    master_ms, impression_ms, frames = [], [], []
    with tempfile.TemporaryDirectory(prefix="livescan-realism-") as cache:
        prints = SyntheticPrints(seed=args.seed, cache_dir=cache)
        for subject, finger in fingers:
            master_ms.append(timed_ms(prints.master, subject, finger)[1])
            for index in range(args.impressions):
                frame, elapsed = timed_ms(prints.impression, subject, finger, index)
                frames.append((subject, finger, frame))
                impression_ms.append(elapsed)
        reloaded = SyntheticPrints(seed=args.seed, cache_dir=cache, memory_cache=0)
        cached_ms = [timed_ms(reloaded.master, subject, finger)[1] for subject, finger in fingers[:50]]
    classes: dict[str, int] = {}
    for subject, finger in fingers:
        kind = str(prints.pattern_class(subject, finger))
        classes[kind] = classes.get(kind, 0) + 1
    started = time.perf_counter()
    captures = [capture(extractor, f"{subject}/{finger}", frame, finger) for subject, finger, frame in frames]
    timing = {
        "timing": "synthetic",
        "master_ms": distribution(master_ms),
        "master_cached_ms": distribution(cached_ms),
        "impression_ms": distribution(impression_ms),
        "extraction_ms_per_frame": round((time.perf_counter() - started) / len(frames) * 1000, 1),
        "pattern_classes": classes,
    }
    return captures, timing


def sampled_impostors(captures: list[Capture], count: int, seed: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < count:
        i, j = sorted(int(k) for k in rng.choice(len(captures), 2, replace=False))
        if captures[i].finger != captures[j].finger:
            pairs.add((i, j))
    return sorted(pairs)


def real_captures(folder: Path, extractor: Extractor) -> list[Capture]:
    captures = []
    for path in sorted(folder.glob("*_*.tif")) if folder.is_dir() else []:
        with Image.open(path) as image:
            frame = r307_like_frame(np.asarray(image.convert("L")))
        captures.append(capture(extractor, path.stem.split("_")[0], frame, fgp=1))  # FGP unknown
    return captures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fingers", type=int, default=100, help="synthetic fingers (10 per subject)")
    parser.add_argument("--impressions", type=int, default=4, help="impressions per synthetic finger")
    parser.add_argument("--impostors", type=int, default=5000, help="synthetic impostor pairs sampled")
    parser.add_argument("--seed", type=int, default=0, help="synthetic population seed")
    parser.add_argument("--real", type=Path, default=REAL_PRINTS, help="folder of FVC-style TIFFs")
    args = parser.parse_args(argv)

    extractor = Extractor()
    captures, timing = synthetic_captures(args, extractor)
    print(json.dumps(timing), flush=True)
    synthetic = evaluate("synthetic", captures, sampled_impostors(captures, args.impostors, args.seed))
    print(json.dumps(synthetic), flush=True)

    reals = real_captures(args.real, extractor)
    if not reals:
        print(json.dumps({"dataset": "real", "skipped": f"no real prints in {args.real}"}))
        return 0
    impostors = [
        (i, j) for i, j in itertools.combinations(range(len(reals)), 2) if reals[i].finger != reals[j].finger
    ]
    real = evaluate("real", reals, impostors)
    print(json.dumps(real), flush=True)
    ratio = synthetic["eer"] / real["eer"] if real["eer"] else float("inf")
    low, high = EER_RATIO_RANGE
    print(
        json.dumps({"eer_ratio": round(ratio, 3), "goal": [low, high], "within_goal": low <= ratio <= high})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
