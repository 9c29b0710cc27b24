"""The centre's 1:N search of a booking: ``Matcher.search(booking) -> SearchOutcome``.

For each printed finger (fingers listed as XX/UP in 2.084 AMP are left out) the WSQ image is
decoded and a template extracted from the decoded frame (``biometrics.extractor``); the criminal
and the immigration gallery are then searched concurrently, each on its own thread
(``central.gallery_search``: prefilter, full bozorth3 comparison, fusion of the three best finger
scores, hit at ``HIT_THRESHOLD``). The two results are independent, as EBTS keeps the SRE and the
IDR/IAR apart. On a criminal hit the outcome carries the rank-1 subject's record summary (no
biometrics) and the offence level computed from that record (``central.levels``).

Candidates are only the subjects whose fused score reaches the threshold, best first (at most
``max_candidates``): a no-hit answer names nobody, so a search never discloses who else is
enrolled. ``Matcher.rank`` gives the unthresholded shortlist for calibration and benchmarks.

The matcher keeps each gallery's templates in memory and reloads them when an enrolment has
moved the database's generation on (checked before every search). It is thread-safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from biometrics.compression import decode_wsq
from biometrics.errors import BiometricError
from biometrics.extractor import Extractor, ProcessedPrint
from biometrics.worker import Processor, shared_extractor
from central.galleries import GALLERY_FILE, Gallery, GalleryDatabase
from central.gallery_index import GalleryIndex, prefilter_template
from central.gallery_search import GallerySearch, Probe, SearchSettings, search_gallery
from central.sealed_store import Keys
from sync.transaction import Booking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    subject_id: str
    score: int  # fused: the sum of the three best finger scores
    rank: int  # 1 = best
    fingers_matched: int  # fingers scoring at least biometrics.matching.MATCH_THRESHOLD


@dataclass(frozen=True)
class GalleryResult:
    gallery: str  # "criminal" | "immigration"
    hit: bool
    candidates: tuple[Candidate, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "gallery": self.gallery,
            "hit": self.hit,
            "candidates": [asdict(candidate) for candidate in self.candidates],
        }


@dataclass(frozen=True)
class SearchOutcome:
    criminal: GalleryResult
    immigration: GalleryResult
    record_summary: dict[str, Any] | None  # rank-1 criminal candidate's record, on a criminal hit
    level: int | None  # offence level 1/2/3 from that record, on a criminal hit
    fingers_searched: tuple[int, ...] = ()
    fingers_skipped: tuple[tuple[int, str], ...] = ()  # (position, reason)

    def as_dict(self) -> dict[str, Any]:
        return {
            "criminal": self.criminal.as_dict(),
            "immigration": self.immigration.as_dict(),
            "record_summary": self.record_summary,
            "level": self.level,
            "fingers_searched": list(self.fingers_searched),
            "fingers_skipped": [{"position": p, "reason": r} for p, r in self.fingers_skipped],
        }


@dataclass(frozen=True)
class Probes:
    """What the booking gives the search: usable fingers, and the ones left out with the reason."""

    usable: tuple[Probe, ...]
    skipped: tuple[tuple[int, str], ...]


def extract_probes(booking: Booking, extractor: Extractor | Processor) -> Probes:
    """The booking's searchable fingers: each printed finger not listed as missing (XX/UP), its WSQ
    decoded and templated; the others with the reason they are left out. With a ``Processor`` the
    fingers are templated in parallel in its worker processes."""
    missing = {finger.position for finger in booking.missing}
    skipped: list[tuple[int, str]] = [(p, "listed as missing (XX/UP)") for p in sorted(missing)]
    pending: list[tuple[int, Future[ProcessedPrint]]] = []
    for finger in sorted(booking.fingers, key=lambda f: f.position):
        if finger.position in missing:
            continue
        future: Future[ProcessedPrint] = Future()
        try:
            frame = decode_wsq(finger.wsq)
            if isinstance(extractor, Processor):
                future = extractor.submit(frame, finger.position)
            else:
                future.set_result(extractor.process(frame, finger.position))
        except BiometricError as exc:
            future.set_exception(exc)
        pending.append((finger.position, future))
    usable: list[Probe] = []
    for position, future in pending:
        try:
            processed = future.result()
        except BiometricError as exc:
            skipped.append((position, f"unusable image: {exc.message}"))
            continue
        if processed.template is None:
            skipped.append((position, "no minutiae found"))
            continue
        cut = prefilter_template(processed.template)
        usable.append(Probe(position, processed.template, cut, processed.nfiq2))
    return Probes(tuple(usable), tuple(sorted(skipped)))


class Matcher:
    """Searches the galleries of the database at ``db_path`` (created empty when missing).

    ``extractor``: what templates the probes: an ``Extractor`` (default: the process's shared one,
    created on first use; the fingers are templated one after the other, ~0.12 s each) or a
    ``biometrics.worker.Processor`` (the fingers are spread over its worker processes, which
    roughly halves the extraction time of a booking with two workers on two idle cores; the
    caller owns and closes it). ``settings``: the search's thresholds and sizes. ``keys``: the
    key file the galleries are sealed under (default: ``central.key`` beside the database); the
    templates are opened once per index load and kept in memory only. Call ``close()`` (or use
    ``with``) to stop the matcher's threads.
    """

    def __init__(
        self,
        db_path: Path,
        *,
        extractor: Extractor | Processor | None = None,
        settings: SearchSettings | None = None,
        keys: Keys = None,
    ) -> None:
        self.settings = settings or SearchSettings()
        self._db = GalleryDatabase(db_path, keys=keys)
        self._extractor = extractor
        self._extractor_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._indexes: dict[Gallery, GalleryIndex] = {}
        self._pool = ThreadPoolExecutor(2 * len(Gallery), thread_name_prefix="gallery-search")

    # --- the contract ------------------------------------------------------------------------

    def search(self, booking: Booking) -> SearchOutcome:
        """Both galleries' answers for ``booking``; thread-safe."""
        probes = self.probes(booking)
        searches = self._search_all(probes.usable)
        criminal = self.result(searches[Gallery.CRIMINAL])
        immigration = self.result(searches[Gallery.IMMIGRATION])
        summary = self._db.record_summary(criminal.candidates[0].subject_id) if criminal.hit else None
        return SearchOutcome(
            criminal=criminal,
            immigration=immigration,
            record_summary=summary,
            level=summary["level"] if summary else None,
            fingers_searched=tuple(probe.position for probe in probes.usable),
            fingers_skipped=probes.skipped,
        )

    # --- parts, for tools and benchmarks -----------------------------------------------------

    def probes(self, booking: Booking) -> Probes:
        """Decode and template every printed finger that is not listed as missing (XX/UP)."""
        return extract_probes(booking, self.extractor)

    def rank(self, probes: Probes) -> dict[Gallery, GallerySearch]:
        """Both galleries' shortlists, best first, without the threshold applied."""
        return self._search_all(probes.usable)

    def result(self, search: GallerySearch) -> GalleryResult:
        """The answer for one gallery: the candidates at or above the threshold, hit if any."""
        above = [s for s in search.ranked if s.score >= self.settings.threshold]
        candidates = tuple(
            Candidate(s.subject_id, s.score, rank, s.fingers_matched)
            for rank, s in enumerate(above[: self.settings.max_candidates], start=1)
        )
        return GalleryResult(search.gallery, bool(candidates), candidates)

    def index(self, gallery: Gallery) -> GalleryIndex:
        """The current in-memory index of ``gallery`` (reloaded if an enrolment happened)."""
        return self._current()[gallery]

    def refresh(self) -> None:
        """Reload the galleries now, whatever the generation says."""
        with self._index_lock:
            self._indexes = self._load(self._db.generation())

    @property
    def database(self) -> GalleryDatabase:
        return self._db

    @property
    def extractor(self) -> Extractor | Processor:
        with self._extractor_lock:
            if self._extractor is None:
                self._extractor = shared_extractor()  # the process's own; loads NFIQ 2 once (~0.5 s)
            return self._extractor

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._db.close()

    def __enter__(self) -> Matcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- internals ---------------------------------------------------------------------------

    def _search_all(self, probes: tuple[Probe, ...]) -> dict[Gallery, GallerySearch]:
        indexes = self._current()
        futures = {
            gallery: self._pool.submit(search_gallery, indexes[gallery], probes, self.settings)
            for gallery in Gallery
        }
        return {gallery: future.result() for gallery, future in futures.items()}

    def _current(self) -> Mapping[Gallery, GalleryIndex]:
        generation = self._db.generation()
        with self._index_lock:
            if not self._indexes or any(i.generation != generation for i in self._indexes.values()):
                self._indexes = self._load(generation)
            return dict(self._indexes)

    def _load(self, generation: int) -> dict[Gallery, GalleryIndex]:
        indexes = {
            gallery: GalleryIndex.build(
                gallery.value, generation, self._db.members(gallery), self._db.template_rows(gallery)
            )
            for gallery in Gallery
        }
        log.info(
            "galleries loaded (generation %d): %s",
            generation,
            ", ".join(
                f"{g.value} {i.size} subjects / {i.template_count} templates" for g, i in indexes.items()
            ),
        )
        return indexes


def open_matcher(data_dir: Path, **options: Any) -> Matcher:
    """The matcher of the service's data directory: its galleries are ``DIR/galleries.db``
    (``keys=``: the key file, default ``DIR/central.key``)."""
    return Matcher(Path(data_dir) / GALLERY_FILE, **options)
