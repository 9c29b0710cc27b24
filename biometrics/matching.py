"""bozorth3 comparison of ISO/IEC 19794-2:2011 templates, and the match decision.

``MATCH_THRESHOLD`` was measured on real prints cut to R307-like frames: FVC2002 DB1_B (10
fingers x 8 impressions) and nbis-rs (2 fingers x 3), each a 256x288 window at native resolution
centred on the print, 4-bit (``bench/pipeline.py --calibrate``). FVC impressions differ a lot in
placement, so genuine scores are a pessimistic guide for two captures within one booking.

=============================  =========================================================
genuine pairs (286)            min 0, p5 9, p10 15, p25 37, median 71, p90 144, max 299
impostor pairs (3,369)         median 6, p90 11, p99 19, p99.9 26, max 33
threshold 34                   FMR 0/3,369 (< 0.09 % at 95 % confidence), FNMR 23.8 %
                               (19.9 % when both prints passed the quality gate)
threshold 30 / 40              FMR 0.06 % / 0, FNMR 20.6 % / 26.2 %
equal error rate               6.8 % at score 13
=============================  =========================================================

34 is the lowest score no impostor pair reached. A false match only makes the officer retake a
finger, but a ten-print booking makes 45 comparisons, so the per-pair FMR must stay tiny. (With
the window at the frame centre instead of on the print, genuine scores drop to a median of 48
and FNMR rises to 34-41 % for thresholds 30-40; impostor scores stay below 29.)

One comparison takes ~2-4 ms (impostor) to tens of ms (genuine) on this machine.
Comparisons do not need the NFIQ 2 model: a light NBIS instance (~70 MB with the library) is
created on first use and shared; it is safe to use from several threads.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cache

import nbis
import numpy as np

from biometrics.errors import ExtractionError, TemplateError
from biometrics.frames import encode_pgm, validate_frame
from biometrics.iso import check_template

MATCH_THRESHOLD = 34
# nbis's batch call spends ~60-100 ms starting threads: a 1:9 batch took ~100 ms against ~4 ms
# one by one, 1:150 about even, 1:600 ~10 % faster on 2 busy cores (up to ~1.8x when idle).
BATCH_FROM = 256


def compare(probe: bytes, gallery: bytes) -> int:
    """bozorth3 score of two templates (0 = nothing in common; >= MATCH_THRESHOLD: same finger)."""
    check_template(probe)
    check_template(gallery)
    try:
        return int(_comparator().compare_iso_19794_2_2011(probe, gallery))
    except Exception as exc:
        raise ExtractionError(f"bozorth3 failed: {type(exc).__name__}: {exc}") from None


def compare_many(probe: bytes, gallery: Sequence[bytes]) -> list[int]:
    """Scores of ``probe`` against each gallery template, in order. Galleries of BATCH_FROM or
    more go to NBIS's batch call, which spreads them over its own threads."""
    check_template(probe)
    for index, template in enumerate(gallery):
        try:
            check_template(template)
        except TemplateError as exc:
            raise TemplateError(f"gallery template {index}: {exc.message}") from None
    comparator = _comparator()
    try:
        if len(gallery) >= BATCH_FROM:
            return [int(s) for s in comparator.compare_iso_19794_2_2011_batch(probe, list(gallery))]
        return [int(comparator.compare_iso_19794_2_2011(probe, template)) for template in gallery]
    except Exception as exc:
        raise ExtractionError(f"bozorth3 failed: {type(exc).__name__}: {exc}") from None


def quick_template(frame: np.ndarray) -> bytes | None:
    """The library's ISO/IEC 19794-2:2011 record of a frame's minutiae, without NFIQ 2; None when
    there is no minutia. For a fast first look (a sensor module's own check), not for submission:
    its header is the library's (see ``biometrics.iso.finalise_template``)."""
    encoded = encode_pgm(validate_frame(frame))
    with _extraction_lock:
        try:
            minutiae = _comparator().extract_minutiae(encoded)
            return bytes(minutiae.to_iso_19794_2_2011()) if minutiae.list() else None
        except Exception as exc:
            raise ExtractionError(f"NBIS extraction failed: {type(exc).__name__}: {exc}") from None


_extraction_lock = threading.Lock()  # the library asks for extractions to be serialised


def is_match(score: int) -> bool:
    return score >= MATCH_THRESHOLD


@cache
def _comparator() -> nbis.NbisExtractor:
    settings = nbis.NbisExtractorSettings(
        min_quality=0.0, get_center=False, check_fingerprint=False, compute_nfiq2=False, ppi=None
    )
    return nbis.new_nbis_extractor(settings)
