"""Central 1:N search benchmark: latency by gallery size, comparisons/s, rank-1 hit rate; JSON lines.

    .venv/bin/python bench/central_search.py [--sizes 100,1000,10000] [--rate-sizes 1000] [--rate-probes N]
        [--enrolled 200] [--strangers 200] [--latency-probes 20] [--seed 0] [--workers 2]

Population (``central.gallery_synthetic`` conventions): the enrolled subjects are the first
``--enrolled`` synthetic ids the plan enrols (S0001.., skipping every k % 5 == 0), in the
galleries the plan gives them (criminal 75 %, immigration 50 %, both 25 %), enrolled from
impression 0 (raw frame); strangers are the plan's non-enrolled ids among them plus the ids
after them. Every probe is a ten-print booking of impression 1000 (a capture index, as the
simulator uses), WSQ-compressed; the search
decodes and templates it as the service does. Templates and probe bookings are cached under
``$LIVESCAN_CACHE/bench-central`` (built once, in ``--workers`` processes; ``build_s`` says how
long that took).

Galleries of N subjects each (criminal and immigration, searched concurrently): the real members
(the first N for N below their count) plus **filler subjects made of replicated templates**:
filler j's finger f is the enrolment template of an enrolled real subject's *other* finger g ≠ f,
so every filler comparison is an impostor comparison between different fingers, and comparison
costs are those of real templates. Rendering 10,000 ten-print subjects would take ~14 CPU-hours
here (0.4 s a master, 0.15 s an extraction), hence the replication: with ~2,000 distinct
templates, each appears about N/200 times per finger position at size N.

Lines: ``population``; ``throughput`` (raw bozorth3 batch rates, full and prefilter templates);
per size ``gallery`` (write and load times) and ``latency`` (end-to-end ``Matcher.search`` of
``--latency-probes`` bookings: extraction and matching separately, comparisons per search and per
second); per rate size ``accuracy`` (every probe: rank-1 hit rate, false hits, the genuine and
best-impostor fused-score distributions, the genuine subject's prefilter rank, alternative fusion
rules scored on the same finger scores).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from biometrics.matching import MATCH_THRESHOLD, compare_many
from biometrics.synthetic import GENERATOR_VERSION, default_cache_dir
from biometrics.worker import shared_extractor
from central.galleries import EnrolledTemplate, Enrolment, Gallery, GalleryDatabase
from central.gallery_index import prefilter_template
from central.gallery_search import GallerySearch, SearchSettings, fuse
from central.gallery_synthetic import (
    CAPTURE_FIRST_IMPRESSION,
    filler_enrolments,
    plan_subject,
    synthetic_booking,
    synthetic_subject_id,
    synthetic_templates,
)
from central.search import Matcher, Probes, extract_probes
from sync.transaction import Booking

PERCENTILES = (0, 1, 5, 10, 50, 90, 99, 100)


def emit(**fields: object) -> None:
    """One JSON line; ``load`` is the 1/5/15-minute load average when it was written (the CPU may be
    shared: figures measured under load are slower than the machine can do)."""
    load = [round(value, 2) for value in os.getloadavg()]
    print(json.dumps({**fields, "load": load}), flush=True)


def summary(values: Sequence[float]) -> dict[str, float]:
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return {"n": 0}
    return {"n": int(data.size), **{f"p{p}": round(float(np.percentile(data, p)), 1) for p in PERCENTILES}}


# --- population -------------------------------------------------------------------------------


@dataclass
class Material:
    """One synthetic subject: enrolment templates (enrolled subjects only) and the probe."""

    subject_id: str
    galleries: frozenset[Gallery]
    templates: list[EnrolledTemplate]
    booking: Booking
    probes: Probes


def subject_material(job: tuple[str, bool, int]) -> Material:
    subject_id, enrolled, seed = job
    plan = plan_subject(int(subject_id[1:]), seed)
    templates = synthetic_templates(subject_id, seed=seed) if enrolled else []
    booking = synthetic_booking(subject_id, seed=seed, sequence=int(subject_id[1:]))
    return Material(
        subject_id, plan.galleries if enrolled else frozenset(), templates, booking,
        extract_probes(booking, shared_extractor()),
    )  # fmt: skip


def population(enrolled: int, strangers: int, seed: int) -> tuple[list[str], list[str]]:
    """(enrolled ids, stranger ids) following the synthetic plan."""
    members: list[str] = []
    outsiders: list[str] = []
    k = 0
    while len(members) < enrolled:
        k += 1
        (members if plan_subject(k, seed).galleries else outsiders).append(synthetic_subject_id(k))
    while len(outsiders) < strangers:
        k += 1
        outsiders.append(synthetic_subject_id(k))
    return members, outsiders[:strangers]


def load_material(members: list[str], strangers: list[str], seed: int, workers: int) -> dict[str, Material]:
    cache = default_cache_dir().parent / "bench-central"
    name = (
        f"v{GENERATOR_VERSION}-seed{seed}-{len(members)}-{len(strangers)}-capture{CAPTURE_FIRST_IMPRESSION}"
    )
    path = cache / f"{name}.pickle"
    started = time.perf_counter()
    if path.exists():
        with path.open("rb") as file:
            material = {subject: Material(subject, *fields) for subject, fields in pickle.load(file).items()}
        emit(step="population", cached=str(path), load_s=round(time.perf_counter() - started, 1))
        return material
    jobs = [(s, True, seed) for s in members] + [(s, False, seed) for s in strangers]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        built = list(pool.map(subject_material, jobs, chunksize=2))
    material = {item.subject_id: item for item in built}
    cache.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as file:
        # plain tuples: the cache must not depend on this script's module name
        pickle.dump({s: (m.galleries, m.templates, m.booking, m.probes) for s, m in material.items()}, file)
    os.replace(temporary, path)
    emit(
        step="population", built=len(material), enrolled=len(members), strangers=len(strangers),
        workers=workers, build_s=round(time.perf_counter() - started, 1), cached=str(path),
    )  # fmt: skip
    return material


# --- galleries --------------------------------------------------------------------------------


def build_galleries(path: Path, size: int, material: dict[str, Material], members: list[str]) -> dict:
    """Each gallery: its real members (first ``size``) topped up with shared fillers to ``size``."""
    started = time.perf_counter()
    database = GalleryDatabase(path)
    real: dict[str, set[Gallery]] = {}
    for gallery in Gallery:
        chosen = [s for s in members if gallery in material[s].galleries][:size]
        for subject in chosen:
            real.setdefault(subject, set()).add(gallery)
    enrolments = [
        Enrolment(
            s, frozenset(g), templates=tuple(material[s].templates), record=plan_subject(int(s[1:])).record
        )
        for s, g in real.items()
    ]
    counts = {g: sum(g in gs for gs in real.values()) for g in Gallery}
    pool = [material[s].templates for s in members]
    # fillers go to both galleries until the fuller one has `size`, then to the other one alone
    low, high = sorted(counts.values())
    enrolments += filler_enrolments(pool, size - high, Gallery)
    enrolments += filler_enrolments(
        pool, high - low, [g for g in Gallery if counts[g] == low], start=size - high + 1
    )
    for start in range(0, len(enrolments), 500):
        database.enrol_many(enrolments[start : start + 500])
    database.close()
    return {"write_s": round(time.perf_counter() - started, 1), "subjects": len(enrolments)}


# --- measurements -----------------------------------------------------------------------------


def throughput(
    material: dict[str, Material], members: list[str], count: int = 10_000, probes: int = 10
) -> None:
    """bozorth3 batch rates: ``probes`` probe fingers (different subjects and positions), each
    against ``count`` other subjects' templates (full, then prefilter cuts) of the same position."""
    full = {"comparisons": 0, "seconds": 0.0}
    cut = {"comparisons": 0, "seconds": 0.0}
    for number, subject in enumerate(members[:probes]):
        usable = material[subject].probes.usable
        probe = usable[number % len(usable)]
        pool = [  # impostor templates only, as nearly all of a large gallery is
            t.template
            for s in members
            if s != subject
            for t in material[s].templates
            if t.position == probe.position
        ]
        gallery = [pool[i % len(pool)] for i in range(count)]
        for tally, template, templates in (
            (full, probe.template, gallery),
            (cut, probe.prefilter, [prefilter_template(t) for t in gallery]),
        ):
            started = time.perf_counter()
            compare_many(template, templates)
            tally["seconds"] += time.perf_counter() - started
            tally["comparisons"] += count
    emit(
        step="throughput", probes=probes, gallery_templates=count,
        bozorth_threads=os.environ.get("NBIS_BOZORTH_THREADS", "default (min(CPUs, 8))"),
        full_per_s=round(full["comparisons"] / full["seconds"]),
        prefilter_per_s=round(cut["comparisons"] / cut["seconds"]),
    )  # fmt: skip


def latency(matcher: Matcher, size: int, bookings: list[Booking]) -> None:
    extract_ms, match_ms, total_ms, comparisons, prefilter = [], [], [], [], []
    for booking in bookings:
        started = time.perf_counter()
        probes = matcher.probes(booking)
        extracted = time.perf_counter()
        searches = matcher.rank(probes)
        done = time.perf_counter()
        extract_ms.append((extracted - started) * 1000)
        match_ms.append((done - extracted) * 1000)
        total_ms.append((done - started) * 1000)
        comparisons.append(sum(s.comparisons + s.prefilter_comparisons for s in searches.values()))
        prefilter.append(sum(s.prefilter_comparisons for s in searches.values()))
    emit(
        step="latency", size=size, probes=len(bookings), extract_ms=summary(extract_ms),
        match_ms=summary(match_ms), total_ms=summary(total_ms),
        comparisons_per_search=round(float(np.mean(comparisons))),
        prefilter_share=round(float(np.sum(prefilter) / np.sum(comparisons)), 3),
        comparisons_per_s=round(float(np.sum(comparisons) / (np.sum(match_ms) / 1000))),
    )  # fmt: skip


ALTERNATIVES: dict[str, Callable[[list[int]], float]] = {
    "sum_top2": lambda scores: fuse(scores, 2),
    "sum_top3": lambda scores: fuse(scores, 3),
    "sum_top4": lambda scores: fuse(scores, 4),
    "sum_all": lambda scores: float(sum(scores)),
    "fingers_over_34": lambda scores: float(sum(s >= MATCH_THRESHOLD for s in scores)),
}


def accuracy(matcher: Matcher, size: int, material: dict[str, Material], probes: list[str]) -> None:
    settings = matcher.settings
    genuine: dict[str, list[float]] = {name: [] for name in ALTERNATIVES}
    impostor: dict[str, list[float]] = {name: [] for name in ALTERNATIVES}
    prefilter_rank: list[int] = []
    enrolled_ok = enrolled_total = false_hits = stranger_total = 0
    per_gallery = {g.value: {"expected": 0, "rank1": 0, "false_hits": 0} for g in Gallery}
    started = time.perf_counter()
    for subject in probes:
        item = material[subject]
        searches = matcher.rank(item.probes)
        ok = True
        for gallery, search in searches.items():
            result = matcher.result(search)
            expected = gallery in item.galleries
            tally = per_gallery[gallery.value]
            if expected:
                tally["expected"] += 1
                found = result.hit and result.candidates[0].subject_id == subject
                tally["rank1"] += found
                ok &= found
                if search.prefiltered:
                    prefilter_rank.append(
                        search.prefiltered.index(subject) + 1 if subject in search.prefiltered else 10**6
                    )
            wrong = [c for c in result.candidates if c.subject_id != subject]
            tally["false_hits"] += bool(wrong)
            ok &= not wrong
            _collect(search, subject if expected else None, genuine, impostor)
        if item.galleries:
            enrolled_total += 1
            enrolled_ok += ok
        else:
            stranger_total += 1
            false_hits += not ok
    emit(
        step="accuracy", size=size, threshold=settings.threshold, shortlist=settings.shortlist,
        prefilter_fingers=settings.prefilter_fingers,
        enrolled_bookings=enrolled_total, rank1_all_galleries=enrolled_ok,
        rank1_rate=round(enrolled_ok / max(enrolled_total, 1), 4),
        stranger_bookings=stranger_total, stranger_false_hits=false_hits, per_gallery=per_gallery,
        seconds=round(time.perf_counter() - started, 1),
        fused_genuine=summary(genuine["sum_top3"]), fused_best_impostor=summary(impostor["sum_top3"]),
        prefilter_rank_of_mate=summary(prefilter_rank),
        alternatives={name: _separation(genuine[name], impostor[name]) for name in ALTERNATIVES},
    )  # fmt: skip


def _separation(genuine: list[float], impostor: list[float]) -> dict[str, float | None]:
    low, high = min(genuine, default=None), max(impostor, default=None)
    ratio = round(low / max(high, 1.0), 2) if low is not None and high is not None else None
    return {"genuine_min": low, "impostor_max": high, "genuine_min_over_impostor_max": ratio}


def _collect(
    search: GallerySearch, mate: str | None, genuine: dict[str, list[float]], impostor: dict[str, list[float]]
) -> None:
    """The mate's score under each rule, and the best non-mate's (over the shortlist)."""
    best: dict[str, float] = {}
    for scored in search.ranked:
        scores = list(scored.finger_scores.values())
        for name, rule in ALTERNATIVES.items():
            value = rule(scores)
            if scored.subject_id == mate:
                genuine[name].append(value)
            else:
                best[name] = max(best.get(name, 0.0), value)
    for name, value in best.items():
        impostor[name].append(value)


def index_load(size: int, repeats: int = 7) -> None:
    """``--index-load N``: how long a matcher takes to load (and open, the templates being sealed)
    both galleries of N subjects, ten random 30-59 minutiae ISO templates each; median of ``repeats``."""
    import random

    from biometrics.iso import IsoMinutia, IsoTemplate, QualityBlock, encode_template

    rng = random.Random(0)

    def template(position: int) -> bytes:
        points = tuple(
            IsoMinutia(rng.choice((1, 2)), rng.randrange(256), rng.randrange(288), rng.randrange(256),
                       rng.randrange(101))
            for _ in range(rng.randrange(30, 60))
        )  # fmt: skip
        return encode_template(
            IsoTemplate(position, 0, 197, 197, 256, 288, None, QualityBlock(60, 0x0101, 0x39), points)
        )

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "galleries.db"
        database = GalleryDatabase(path)
        subjects = [
            Enrolment(f"R{i:05d}", frozenset(Gallery), templates=tuple(
                EnrolledTemplate(p, "0", template(p), None) for p in range(1, 11)))
            for i in range(size)
        ]  # fmt: skip
        for start in range(0, size, 500):
            database.enrol_many(subjects[start : start + 500])
        database.close()
        with Matcher(path) as matcher:
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                matcher.refresh()
                times.append(time.perf_counter() - started)
            templates = sum(matcher.index(g).template_count for g in Gallery)
    emit(step="index_load", size=size, templates=templates, load_ms=summary([t * 1000 for t in times]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100,1000,10000", help="gallery sizes (subjects per gallery)")
    parser.add_argument("--rate-sizes", default="1000", help="sizes at which every probe is searched")
    parser.add_argument(
        "--rate-probes", type=int, metavar="N", help="search only the first N enrolled and N strangers there"
    )
    parser.add_argument("--enrolled", type=int, default=200)
    parser.add_argument("--strangers", type=int, default=200)
    parser.add_argument("--latency-probes", type=int, default=20, help="bookings timed end to end per size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--shortlist", type=int, default=SearchSettings().shortlist)
    parser.add_argument("--prefilter-fingers", type=int, default=SearchSettings().prefilter_fingers)
    parser.add_argument("--threshold", type=int, default=SearchSettings().threshold)
    parser.add_argument("--index-load", type=int, metavar="N", help="only time the index load of N subjects")
    args = parser.parse_args()
    if args.index_load:
        index_load(args.index_load)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rate_sizes = {int(s) for s in args.rate_sizes.split(",") if s}
    settings = SearchSettings(
        threshold=args.threshold, shortlist=args.shortlist, prefilter_fingers=args.prefilter_fingers
    )
    emit(step="start", cpus=os.cpu_count(), settings=settings.__dict__)
    members, strangers = population(args.enrolled, args.strangers, args.seed)
    material = load_material(members, strangers, args.seed, args.workers)
    throughput(material, members)
    half = args.latency_probes // 2
    timed = [material[s].booking for s in members[:half] + strangers[: args.latency_probes - half]]
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            path = Path(folder) / f"galleries-{size}.db"
            built = build_galleries(path, size, material, members)
            with Matcher(path, extractor=shared_extractor(), settings=settings) as matcher:
                started = time.perf_counter()
                matcher.refresh()
                indexes = {g.value: matcher.index(g).size for g in Gallery}
                emit(step="gallery", size=size, members=indexes, **built,
                     load_s=round(time.perf_counter() - started, 1))  # fmt: skip
                matcher.search(timed[0])  # warm-up
                latency(matcher, size, timed)
                if size in rate_sizes:
                    count = args.rate_probes
                    accuracy(matcher, size, material, members[:count] + strangers[:count])
            path.unlink()


if __name__ == "__main__":
    main()
