"""A small synthetic gallery population for the search tests, built once per test session.

Subjects S0001..S0012 of ``central.gallery_synthetic``'s plan, six fingers each (index, middle
and ring of both hands: 72 masters instead of 120, the dominant cost at ~0.4 s each), plus
impostor fillers so that each gallery is larger than the shortlist and the prefilter runs:

======  ===========================  =====  ==========================
k % 5   subjects                     level  galleries
======  ===========================  =====  ==========================
1       S0001, S0006, S0011          1/2/3  criminal + immigration
2       S0002, S0007, S0012          —      immigration
3, 4    S0003/4 (1), S0008/9 (2)     1/2    criminal
0       S0005, S0010                 —      none: bookings must miss
======  ===========================  =====  ==========================

Masters are cached in one folder per session (under pytest's base temp), shared by every module.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from biometrics.worker import Processor
from central.galleries import Gallery, GalleryDatabase
from central.gallery_synthetic import (
    enroll_synthetic,
    filler_enrolments,
    planned_galleries,
    synthetic_booking,
    synthetic_subject_id,
)
from central.search import Matcher, SearchOutcome
from sync.transaction import Booking

SEED = 0
POPULATION = 12
FINGERS = (2, 3, 4, 7, 8, 9)
FILLERS = 30
SUBJECTS = tuple(synthetic_subject_id(k) for k in range(1, POPULATION + 1))


def masters_cache(factory: pytest.TempPathFactory) -> Path:
    """One synthetic master cache for the whole session (shared with the end-to-end tests)."""
    return factory.getbasetemp() / "synthetic-masters"


def booking(cache_dir: Path, subject: str, **options: object) -> Booking:
    values: dict = {"seed": SEED, "fingers": FINGERS, "cache_dir": cache_dir}
    values.update(options)
    return synthetic_booking(subject, **values)


@dataclass(frozen=True)
class Population:
    db_path: Path
    cache_dir: Path
    matcher: Matcher
    processor: Processor
    bookings: dict[str, Booking]  # the first capture impression of every subject
    outcomes: dict[str, SearchOutcome]  # their searches, run three at a time

    def galleries(self, subject: str) -> frozenset[Gallery]:
        return planned_galleries(int(subject[1:]))


def enrol_population(db_path: Path, cache_dir: Path) -> None:
    """Enrol the population (see the module doc) and the fillers into the galleries at ``db_path``."""
    report = enroll_synthetic(db_path, POPULATION, SEED, fingers=FINGERS, cache_dir=cache_dir, workers=2)
    database = GalleryDatabase(db_path)
    try:
        pool = [database.templates(subject) for subject in SUBJECTS if subject not in report.not_enrolled]
        database.enrol_many(filler_enrolments(pool, FILLERS, Gallery))
    finally:
        database.close()


@cache
def _build(base: Path) -> Population:
    cache_dir = base / "synthetic-masters"
    db_path = base / "population" / "galleries.db"
    enrol_population(db_path, cache_dir)
    processor = Processor(workers=2)  # templates the probe fingers two at a time
    matcher = Matcher(db_path, extractor=processor)
    bookings = {subject: booking(cache_dir, subject, sequence=k) for k, subject in enumerate(SUBJECTS, 1)}
    with ThreadPoolExecutor(3) as pool_:
        outcomes = dict(zip(bookings, pool_.map(matcher.search, bookings.values()), strict=True))
    return Population(db_path, cache_dir, matcher, processor, bookings, outcomes)


def population(factory: pytest.TempPathFactory) -> Population:
    return _build(factory.getbasetemp())
