"""1:N search of one gallery: prefilter, full comparison of a shortlist, fusion, ranking.

Two stages, both bozorth3 through ``biometrics.matching.compare_many`` (the NBIS batch call on
its own Rust threads for 256 templates or more, one by one below that):

1. **Prefilter** (galleries larger than ``shortlist``): the ``prefilter_fingers`` (3) probe
   fingers of best NFIQ 2 are compared, as cut templates (``gallery_index.PREFILTER_MINUTIAE``
   most reliable minutiae: ~10,000 comparisons/s against ~700 for full templates, batch call on
   2 cores), with every template of the same position; a subject's prefilter score is the sum
   over those fingers of its best template. The ``shortlist`` (10) best subjects go on.
2. **Full comparison**: every probe finger against every template of the shortlisted subjects at
   the same position. A subject's finger score is its best template's score at that position.

**Fusion**: the subject's score is the **sum of its three best finger scores**; a gallery
**hits when its rank-1 score reaches ``HIT_THRESHOLD`` (150)**. ``fingers_matched`` counts
fingers at or above the pairwise ``biometrics.matching.MATCH_THRESHOLD`` (34), for the examiner.

How the rule and the numbers were chosen (``bench/central_search.py``; synthetic ten-print
bookings, WSQ-decoded probes of capture impressions against raw-frame enrolment impressions;
galleries topped up with replicated impostor templates; 2-core x86_64):

* Fusion, at 1,000 subjects per gallery (250 mated and 800 gallery searches, the best
  non-mate of each): genuine min / best impostor max was 160/78 for the sum of the best two
  fingers (2.05), 236/102 for the best three (2.31), 292/117 for four (2.50), 482/187 for all
  ten (2.58), and 4/2 fingers over 34. Summing all fingers separates best on complete bookings
  but ties the score to how many fingers were printed; the best three keep nearly all of the
  separation and score a booking with XX/UP fingers on the same scale as a complete one.
* Threshold: genuine fused scores ran from 236 (p1 274, median 460), the best impostor per
  search up to 102 (p99 96, median 69) at 1,000 subjects, and up to 94 in 150 searches at
  10,000. 150 leaves ~1.5x the highest impostor seen and ~0.64x the lowest genuine score, near
  their geometric mean (155); a false hit names the wrong person (and notifies immigration),
  so the margin is kept on the impostor side. A booking needs about three good fingers to reach
  it: partial bookings (one or two fingers) are searched but rarely hit.
* Prefilter, at 10,000 subjects (150 mated searches): with the best 1 / 2 / 3 / 4 fingers the
  mate fell outside the top 10 in 21 / 1 / 0 / 0 searches; with three, the mate's prefilter
  score was at least 2.0x (p5 3.1x) the 10th best non-mate's, and it ranked first every time.
  Three fingers cost 3/4 of the time of four, and the prefilter is >99 % of the comparisons of a
  10,000-subject search.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from biometrics.matching import MATCH_THRESHOLD, compare_many
from central.gallery_index import FingerTable, GalleryIndex

FUSED_FINGERS = 3
HIT_THRESHOLD = 150
SHORTLIST = 10
PREFILTER_FINGERS = 3
MAX_CANDIDATES = 5


@dataclass(frozen=True)
class Probe:
    """One searchable finger of a booking."""

    position: int
    template: bytes  # ISO/IEC 19794-2:2011, extracted from the WSQ-decoded image
    prefilter: bytes  # the same, cut for the prefilter
    nfiq2: int | None


@dataclass(frozen=True)
class SearchSettings:
    threshold: int = HIT_THRESHOLD
    fused_fingers: int = FUSED_FINGERS
    shortlist: int = SHORTLIST
    prefilter_fingers: int = PREFILTER_FINGERS
    max_candidates: int = MAX_CANDIDATES

    def __post_init__(self) -> None:
        for name in ("threshold", "fused_fingers", "shortlist", "prefilter_fingers", "max_candidates"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class ScoredSubject:
    subject_id: str
    score: int  # fused
    fingers_matched: int
    finger_scores: dict[int, int]  # position -> best full-template score


@dataclass(frozen=True)
class GallerySearch:
    """The shortlist of one gallery, best first (no threshold applied), with the work it took."""

    gallery: str
    ranked: tuple[ScoredSubject, ...]
    prefiltered: tuple[str, ...]  # the shortlist in prefilter order (empty: no prefilter needed)
    prefilter_comparisons: int
    comparisons: int
    elapsed_ms: float


def fuse(finger_scores: Sequence[int], fused_fingers: int = FUSED_FINGERS) -> int:
    """The subject score: the sum of the ``fused_fingers`` best finger scores."""
    return int(sum(sorted(finger_scores, reverse=True)[:fused_fingers]))


def search_gallery(index: GalleryIndex, probes: Sequence[Probe], settings: SearchSettings) -> GallerySearch:
    started = time.perf_counter()
    usable = [probe for probe in probes if probe.position in index.fingers]
    if not usable or index.size == 0:
        return GallerySearch(index.gallery, (), (), 0, 0, (time.perf_counter() - started) * 1000)
    shortlist, prefilter_comparisons = _shortlist(index, usable, settings)
    prefiltered = tuple(index.subject_ids[s] for s in shortlist.tolist()) if prefilter_comparisons else ()
    shortlist = np.sort(shortlist)
    scores = np.zeros((len(shortlist), len(usable)), dtype=np.int64)
    comparisons = 0
    for column, probe in enumerate(usable):
        comparisons += _best_per_subject(
            index.fingers[probe.position], shortlist, probe.template, full=True, out=scores[:, column]
        )
    ranked = sorted(
        (
            ScoredSubject(
                subject_id=index.subject_ids[subject],
                score=fuse(row.tolist(), settings.fused_fingers),
                fingers_matched=int((row >= MATCH_THRESHOLD).sum()),
                finger_scores={p.position: int(s) for p, s in zip(usable, row.tolist(), strict=True)},
            )
            for subject, row in zip(shortlist.tolist(), scores, strict=True)
        ),
        key=lambda s: (-s.score, -s.fingers_matched, s.subject_id),
    )
    elapsed = (time.perf_counter() - started) * 1000
    return GallerySearch(
        index.gallery, tuple(ranked), prefiltered, prefilter_comparisons, comparisons, elapsed
    )


def _shortlist(
    index: GalleryIndex, probes: Sequence[Probe], settings: SearchSettings
) -> tuple[np.ndarray, int]:
    """The subject indices worth a full comparison (best prefilter score first), and the number of
    prefilter comparisons made."""
    everyone = np.arange(index.size, dtype=np.int64)
    if index.size <= settings.shortlist:
        return everyone, 0
    chosen = sorted(probes, key=lambda p: (-(p.nfiq2 if p.nfiq2 is not None else -1), p.position))
    totals = np.zeros(index.size, dtype=np.int64)
    comparisons = 0
    for probe in chosen[: settings.prefilter_fingers]:
        best = np.zeros(index.size, dtype=np.int64)
        comparisons += _best_per_subject(
            index.fingers[probe.position], None, probe.prefilter, full=False, out=best
        )
        totals += best
    order = np.lexsort((everyone, -totals))  # best first; ties by subject order
    return order[: settings.shortlist], comparisons


def _best_per_subject(
    table: FingerTable, subjects: np.ndarray | None, probe: bytes, *, full: bool, out: np.ndarray
) -> int:
    """Fill ``out`` (one slot per subject in ``subjects``, or per gallery subject when None) with
    each subject's best score at this position; the number of comparisons made."""
    gallery = table.templates if full else table.prefilter
    if subjects is None:
        rows = list(range(len(gallery)))
        slots = table.owners
    else:
        slot_of = {int(subject): slot for slot, subject in enumerate(subjects.tolist())}
        rows = table.rows_of(slot_of)
        slots = np.fromiter(
            (slot_of[int(table.owners[row])] for row in rows), dtype=np.int64, count=len(rows)
        )
    if not rows:
        return 0
    scores = np.asarray(compare_many(probe, [gallery[row] for row in rows]), dtype=np.int64)
    np.maximum.at(out, slots, scores)
    return len(rows)
