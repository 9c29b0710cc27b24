"""A synthetic gallery population sharing subject ids with the simulator's synthetic prints.

Conventions (the simulator and the centre must agree on them):

* **Subject ids** ``S0001``, ``S0002``, … (``synthetic_subject_id(k) = f"S{k:04d}"``), the ids
  ``hw_sim``'s synthetic finger source lists; finger ``f`` of subject ``s`` is the master
  ``biometrics.synthetic.SyntheticPrints(seed).master(s, f)``, so both ends must use one seed.
* **Impression indices**: the gallery is enrolled from impressions 0, 1, … (below
  ``CAPTURE_FIRST_IMPRESSION``); captures — the simulator (``hw_sim.fingers.
  SIMULATOR_FIRST_IMPRESSION``, the same 1000), test and benchmark probes — use 1000 and above.
  A booking therefore never carries the very image that was enrolled, as in life.
* **Who is where**, by ``k % 5``: 0 not enrolled at all (a booking of them must miss), 1 both
  galleries, 2 immigration only, 3 and 4 criminal only; i.e. 80 % enrolled, 60 % criminal, 40 %
  immigration, 20 % both.
* **Records**: every criminal-gallery member has entries whose offence level is
  ``(k // 5) % 3 + 1`` (so S0001 is Level 1, S0006 Level 2, S0011 Level 3); immigration-only
  members have no record. Demographics and the record details are drawn from ``seed``.

Enrolment templates come from the raw frames (a state's enrolment source is not the WSQ of a
booking); probes are extracted from decoded WSQ, as the service sees them. Rendering a master
takes ~0.4 s and extracting a frame ~0.1 s, so a population of n subjects with ten fingers takes
about n × 5 CPU-seconds, spread over worker processes; masters are cached on disk
(``biometrics.synthetic.default_cache_dir()`` unless ``cache_dir`` is given).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from multiprocessing import get_context
from pathlib import Path

from biometrics.compression import encode_wsq
from biometrics.synthetic import SyntheticPrints
from biometrics.worker import shared_extractor
from central.galleries import (
    Demographics,
    EnrolledTemplate,
    Enrolment,
    Gallery,
    GalleryDatabase,
    using_galleries,
)
from central.levels import Disposition, OffenceCategory, RecordEntry
from sync.transaction import (
    Arrest,
    Booking,
    FingerImage,
    MissingFinger,
    MissingReason,
    Offence,
    Subject,
    TransactionHeader,
)
from sync.transaction.tcn import Tcn

CAPTURE_FIRST_IMPRESSION = 1000  # captures use this index and above; enrolment uses those below
ALL_FINGERS = tuple(range(1, 11))
WRITE_BATCH = 25  # subjects per database transaction
SYNTHETIC_ORI = "NY0303000"
SYNTHETIC_STATION = "SIM"


def synthetic_subject_id(k: int) -> str:
    if k < 1:
        raise ValueError(f"synthetic subjects are numbered from 1, got {k}")
    return f"S{k:04d}"


def subject_number(subject_id: str) -> int:
    """k of ``S{k:04d}``; ValueError for other ids."""
    if not subject_id.startswith("S") or not subject_id[1:].isdigit() or int(subject_id[1:]) < 1:
        raise ValueError(f"{subject_id!r} is not a synthetic subject id (S0001, S0002, ...)")
    return int(subject_id[1:])


def planned_galleries(k: int) -> frozenset[Gallery]:
    """The galleries synthetic subject k is enrolled in (empty: deliberately not enrolled)."""
    return {
        0: frozenset(),
        1: frozenset({Gallery.CRIMINAL, Gallery.IMMIGRATION}),
        2: frozenset({Gallery.IMMIGRATION}),
    }.get(k % 5, frozenset({Gallery.CRIMINAL}))


def planned_level(k: int) -> int | None:
    """The offence level of synthetic subject k's record; None without a criminal record."""
    return (k // 5) % 3 + 1 if Gallery.CRIMINAL in planned_galleries(k) else None


@dataclass(frozen=True)
class SyntheticSubject:
    subject_id: str
    galleries: frozenset[Gallery]
    demographics: Demographics
    record: tuple[RecordEntry, ...]


# (literal, category, disposition or None for either, sentence in days or None)
_Offence = tuple[str, OffenceCategory, Disposition | None, int | None]
_LEVEL_1: tuple[_Offence, ...] = (
    ("ARMED ROBBERY", OffenceCategory.ROBBERY, None, None),
    ("MURDER", OffenceCategory.HOMICIDE, None, None),
    ("KIDNAPPING", OffenceCategory.KIDNAPPING, None, None),
    ("AGGRAVATED ASSAULT", OffenceCategory.AGGRAVATED_ASSAULT, None, None),
    ("SEXUAL ASSAULT", OffenceCategory.SEXUAL_ASSAULT, None, None),
    ("INDECENT EXPOSURE", OffenceCategory.SEX_OFFENSE, None, None),
    ("CRUELTY TO A CHILD", OffenceCategory.CRUELTY_TO_CHILD_OR_SPOUSE, None, None),
    ("UNLAWFUL POSSESSION OF A FIREARM", OffenceCategory.WEAPONS, None, None),
    ("ESPIONAGE", OffenceCategory.NATIONAL_SECURITY, None, None),
    ("SALE OF COCAINE", OffenceCategory.DRUG, Disposition.CONVICTED, 730),
)
_LEVEL_2: tuple[_Offence, ...] = (
    ("BURGLARY", OffenceCategory.BURGLARY, None, None),
    ("GRAND LARCENY", OffenceCategory.LARCENY, None, None),
    ("CREDIT CARD FRAUD", OffenceCategory.FRAUD, None, None),
    ("MONEY LAUNDERING", OffenceCategory.MONEY_LAUNDERING, None, None),
    ("POSSESSION OF MARIJUANA", OffenceCategory.DRUG, Disposition.CONVICTED, 90),
    ("POSSESSION OF COCAINE", OffenceCategory.DRUG, Disposition.CHARGED, None),
)
_LEVEL_3: tuple[_Offence, ...] = (
    ("DRIVING UNDER THE INFLUENCE", OffenceCategory.OTHER, None, None),
    ("TRESPASSING", OffenceCategory.OTHER, None, None),
    ("DISORDERLY CONDUCT", OffenceCategory.OTHER, None, None),
    ("SIMPLE ASSAULT", OffenceCategory.OTHER, None, None),
    ("RESISTING ARREST", OffenceCategory.OTHER, None, None),
)
_POOLS = {1: _LEVEL_1, 2: _LEVEL_2, 3: _LEVEL_3}
_SURNAMES = (
    "GARCIA", "SMITH", "NGUYEN", "JOHNSON", "LOPEZ", "BROWN", "KOWALSKI", "MARTIN", "OKAFOR",
    "HERNANDEZ", "MILLER", "DAVIS", "RIVERA", "WILSON", "MORALES", "TAYLOR", "SILVA", "ANDERSON",
)  # fmt: skip
_GIVEN = ("JOSE", "MARIA", "JOHN", "LINDA", "AHMED", "ANNA", "DAVID", "ROSA", "PETER", "GRACE", "LUIS", "MEI")
# Bump when the synthetic demographics or records change: caches of built populations key on it.
DEMOGRAPHICS_VERSION = 2  # 2: NCIC country codes
# NCIC country codes: Mexico, Guatemala, El Salvador, Honduras, Poland, Nigeria, Vietnam, China.
_FOREIGN = ("MM", "GT", "EL", "HD", "PO", "NG", "RV", "RC")
_PLACES = ("NY", "CA", "TX", "FL", *_FOREIGN)


def plan_subject(k: int, seed: int = 0) -> SyntheticSubject:
    """Synthetic subject k as the population enrols it (galleries may be empty: not enrolled)."""
    rng = random.Random(f"livescan-central-synthetic:{seed}:{k}")
    galleries = planned_galleries(k)
    immigrant = Gallery.IMMIGRATION in galleries
    born_in = rng.choice(_FOREIGN) if immigrant else rng.choice(_PLACES)
    demographics = Demographics(
        name=f"{rng.choice(_SURNAMES)},{rng.choice(_GIVEN)}",
        sex=rng.choice("MF"),
        race=rng.choice("ABIWU"),
        date_of_birth=date(1950, 1, 1) + timedelta(days=rng.randrange(54 * 365)),
        place_of_birth=born_in,
        citizenship=(born_in,) if born_in in _FOREIGN else ("US",),
    )
    level = planned_level(k)
    record = _record(rng, level) if level is not None else ()
    return SyntheticSubject(synthetic_subject_id(k), galleries, demographics, record)


def _record(rng: random.Random, level: int) -> tuple[RecordEntry, ...]:
    """One offence of each level from ``level`` down to 3, on different dates."""
    picks = [rng.choice(_POOLS[lower]) for lower in range(level, 4)]
    start = date(2000, 1, 1)
    entries = []
    for index, (literal, category, disposition, sentence) in enumerate(picks):
        chosen = disposition or rng.choice(tuple(Disposition))
        if sentence is None and chosen is Disposition.CONVICTED and category is not OffenceCategory.DRUG:
            sentence = rng.choice((30, 180, 365, 1095))
        day = start + timedelta(days=rng.randrange(8000) + index)
        entries.append(
            RecordEntry(day, literal, category, chosen, sentence if chosen is Disposition.CONVICTED else None)
        )
    return tuple(entries)


# --- prints ---------------------------------------------------------------------------------


@cache
def _prints(seed: int, cache_dir: str | None) -> SyntheticPrints:
    return SyntheticPrints(seed=seed, cache_dir=cache_dir)


def synthetic_templates(
    subject_id: str,
    *,
    seed: int = 0,
    fingers: Sequence[int] = ALL_FINGERS,
    impressions: int = 1,
    cache_dir: str | None = None,
) -> list[EnrolledTemplate]:
    """The enrolment templates of a synthetic subject: impressions 0 .. impressions - 1 of each
    finger, from the raw frames. Fingers without minutiae are left out."""
    if not 1 <= impressions <= CAPTURE_FIRST_IMPRESSION:
        raise ValueError(f"enrol 1..{CAPTURE_FIRST_IMPRESSION} impressions per finger, got {impressions}")
    prints = _prints(seed, cache_dir)
    extractor = shared_extractor()
    found = []
    for finger in fingers:
        for index in range(impressions):
            processed = extractor.process(prints.impression(subject_id, finger, index), finger)
            if processed.template is not None:
                found.append(
                    EnrolledTemplate(finger, f"synthetic:{index}", processed.template, processed.nfiq2)
                )
    return found


@dataclass(frozen=True)
class SyntheticReport:
    population: int  # subject ids S0001..S{population}
    enrolled: int
    not_enrolled: tuple[str, ...]
    members: dict[str, int]
    templates: int


def enroll_synthetic(
    db: GalleryDatabase | str | Path,
    n: int,
    seed: int = 0,
    *,
    fingers: Sequence[int] = ALL_FINGERS,
    impressions: int = 1,
    cache_dir: str | Path | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SyntheticReport:
    """Plan subjects S0001..S{n} and enrol those the plan puts in a gallery (see the module doc).

    ``workers`` processes render and extract (default: one per CPU; 1 = in this process);
    ``progress(done, total)`` is called after each batch written."""
    if n < 1:
        raise ValueError(f"the population needs at least one subject, got {n}")
    if not 1 <= impressions <= CAPTURE_FIRST_IMPRESSION:
        raise ValueError(f"enrol 1..{CAPTURE_FIRST_IMPRESSION} impressions per finger, got {impressions}")
    plans = [plan_subject(k, seed) for k in range(1, n + 1)]
    chosen = [plan for plan in plans if plan.galleries]
    options = {
        "seed": seed,
        "fingers": tuple(fingers),
        "impressions": impressions,
        "cache_dir": str(cache_dir) if cache_dir is not None else None,
    }
    templates = 0
    batch: list[Enrolment] = []
    with using_galleries(db) as galleries, _mapper(workers) as mapper:
        results = mapper(_templates_of, [(plan.subject_id, options) for plan in chosen])
        for done, (plan, found) in enumerate(zip(chosen, results, strict=True), start=1):
            templates += len(found)
            batch.append(
                Enrolment(
                    subject_id=plan.subject_id,
                    galleries=plan.galleries,
                    demographics=plan.demographics,
                    templates=tuple(found),
                    record=plan.record,
                    source=f"synthetic seed {seed}",
                )
            )
            if len(batch) >= WRITE_BATCH or done == len(chosen):
                galleries.enrol_many(batch)
                batch.clear()
                if progress is not None:
                    progress(done, len(chosen))
    members = {g.value: sum(g in plan.galleries for plan in chosen) for g in Gallery}
    return SyntheticReport(
        population=n,
        enrolled=len(chosen),
        not_enrolled=tuple(plan.subject_id for plan in plans if not plan.galleries),
        members=members,
        templates=templates,
    )


def _templates_of(job: tuple[str, dict]) -> list[EnrolledTemplate]:
    subject_id, options = job
    return synthetic_templates(subject_id, **options)


@contextmanager
def _mapper(workers: int | None) -> Iterator[Callable[..., Iterator]]:
    """``map`` over ``workers`` processes (default: one per CPU), or in this process for 1."""
    count = workers if workers is not None else (os.cpu_count() or 1)
    if count <= 1:
        yield map
        return
    with ProcessPoolExecutor(count, mp_context=get_context("spawn")) as pool:  # never fork threads
        yield pool.map


def filler_enrolments(
    pool: Sequence[Sequence[EnrolledTemplate]], count: int, galleries: Iterable[Gallery], *, start: int = 1
) -> list[Enrolment]:
    """``count`` impostor fillers F00001.. built from replicated templates, for load and scale
    tests where rendering real subjects would take too long (~5 CPU-seconds each).

    Filler j's finger f is a template of another finger g != f of subject ``pool[(7j + 13f) mod
    len(pool)]`` (each pool entry: one subject's templates), so a filler never matches anybody's
    finger at the same position: every comparison with a filler is an impostor comparison between
    different fingers, at the cost of real templates."""
    chosen = frozenset(galleries)
    fillers = []
    for j in range(start, start + count):
        templates = []
        for f in ALL_FINGERS:
            by_position = {t.position: t for t in pool[(7 * j + 13 * f) % len(pool)]}
            g = (f + j % 9) % 10 + 1  # f shifted by 1..9 positions: never f itself
            if g in by_position:
                templates.append(replace(by_position[g], position=f, impression=f"filler:{j}"))
        fillers.append(Enrolment(f"F{j:05d}", chosen, templates=tuple(templates), source="filler"))
    return fillers


# --- bookings -------------------------------------------------------------------------------

SYNTHETIC_BOOKING_TIME = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


def synthetic_booking(
    subject_id: str,
    *,
    seed: int = 0,
    impression: int = CAPTURE_FIRST_IMPRESSION,
    fingers: Sequence[int] = ALL_FINGERS,
    missing: dict[int, MissingReason] | None = None,
    cache_dir: str | Path | None = None,
    sequence: int = 1,
) -> Booking:
    """A valid CAR booking of synthetic subject ``subject_id``: impression ``impression`` (a
    capture index, >= CAPTURE_FIRST_IMPRESSION) of each finger in ``fingers``, WSQ-compressed as a
    station sends it. Every other position is listed in 2.084 AMP, with its reason from
    ``missing`` (default UP); a finger in ``missing`` carries no image even if in ``fingers``."""
    if impression < CAPTURE_FIRST_IMPRESSION:
        raise ValueError(f"capture impressions are {CAPTURE_FIRST_IMPRESSION} and above, got {impression}")
    printed = sorted(set(fingers) - set(missing or {}))
    missing = {
        p: (missing or {}).get(p, MissingReason.UNABLE_TO_PRINT) for p in ALL_FINGERS if p not in printed
    }
    prints = _prints(seed, str(cache_dir) if cache_dir is not None else None)
    images = []
    for position in printed:
        frame = prints.impression(subject_id, position, impression)
        images.append(
            FingerImage(
                position=position,
                wsq=encode_wsq(frame),
                width=frame.shape[1],
                height=frame.shape[0],
                nfiq2=None,
                captured=SYNTHETIC_BOOKING_TIME.date(),
            )
        )
    plan = plan_subject(subject_number(subject_id), seed)
    person = plan.demographics
    tcn = Tcn(SYNTHETIC_ORI, SYNTHETIC_STATION, SYNTHETIC_BOOKING_TIME, sequence).text
    return Booking(
        header=TransactionHeader(
            ori=SYNTHETIC_ORI, destination="NYCENTRE0", tcn=tcn, created=SYNTHETIC_BOOKING_TIME
        ),
        subject=Subject(
            name=person.name or "DOE,JOHN",
            place_of_birth=person.place_of_birth or "NY",
            dates_of_birth=(person.date_of_birth,),
            sex=person.sex or "X",
            race=person.race or "U",
            height_inches=None,
            weight_pounds=None,
            eye_colour="XXX",
            hair_colour="XXX",
            citizenship=person.citizenship,
        ),
        arrest=Arrest(
            date=SYNTHETIC_BOOKING_TIME.date(),
            offences=(Offence("TRESPASSING"),),
            controlling_agencies=(SYNTHETIC_ORI,),
            retain=True,
        ),
        fingers=tuple(images),
        missing=tuple(MissingFinger(position, reason) for position, reason in sorted(missing.items())),
    )
