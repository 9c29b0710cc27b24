"""1:N search on a synthetic population (see search_population.py): who is found where, at rank 1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from search_population import FINGERS, SUBJECTS, Population, booking, population

from biometrics.matching import MATCH_THRESHOLD
from central.galleries import Enrolment, Gallery, GalleryDatabase
from central.gallery_search import SearchSettings
from central.gallery_synthetic import planned_galleries, planned_level
from central.search import Matcher
from sync.transaction import MissingReason

pytestmark = pytest.mark.slow

ENROLLED = [s for s in SUBJECTS if planned_galleries(int(s[1:]))]
NOT_ENROLLED = [s for s in SUBJECTS if not planned_galleries(int(s[1:]))]


@pytest.fixture(scope="module")
def pop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Population]:
    built = population(tmp_path_factory)
    yield built
    built.matcher.close()
    built.processor.close()


def test_the_population_has_every_kind_of_subject(pop: Population) -> None:
    kinds = {planned_galleries(int(s[1:])) for s in SUBJECTS}
    assert kinds == {
        frozenset(),
        frozenset({Gallery.CRIMINAL}),
        frozenset({Gallery.IMMIGRATION}),
        frozenset({Gallery.CRIMINAL, Gallery.IMMIGRATION}),
    }
    for gallery in Gallery:  # larger than the shortlist: the prefilter stage runs
        assert pop.matcher.index(gallery).size > SearchSettings().shortlist


@pytest.mark.parametrize("subject", ENROLLED)
def test_an_enrolled_subject_is_found_at_rank_1_in_each_of_their_galleries(
    pop: Population, subject: str
) -> None:
    outcome = pop.outcomes[subject]
    for gallery in Gallery:
        result = getattr(outcome, gallery.value)
        assert result.gallery == gallery.value
        if gallery in pop.galleries(subject):
            assert result.hit, f"{subject} missed in {gallery}"
            best = result.candidates[0]
            assert (best.subject_id, best.rank) == (subject, 1)
            assert best.score >= SearchSettings().threshold
            assert best.fingers_matched >= 1
        else:
            assert not result.hit, f"{subject} hit in {gallery}, where they are not enrolled"
            assert result.candidates == ()


def test_subjects_in_both_galleries_hit_in_both(pop: Population) -> None:
    both = [s for s in ENROLLED if pop.galleries(s) == set(Gallery)]
    assert both
    for subject in both:
        outcome = pop.outcomes[subject]
        assert outcome.criminal.hit and outcome.immigration.hit
        assert (
            outcome.criminal.candidates[0].subject_id
            == outcome.immigration.candidates[0].subject_id
            == subject
        )


@pytest.mark.parametrize("subject", NOT_ENROLLED)
def test_a_subject_not_enrolled_hits_nowhere_and_nobody_is_named(pop: Population, subject: str) -> None:
    outcome = pop.outcomes[subject]
    assert not outcome.criminal.hit and not outcome.immigration.hit
    assert outcome.criminal.candidates == outcome.immigration.candidates == ()
    assert outcome.record_summary is None and outcome.level is None


def test_candidates_are_only_subjects_over_the_threshold(pop: Population) -> None:
    threshold = pop.matcher.settings.threshold
    for outcome in pop.outcomes.values():
        for result in (outcome.criminal, outcome.immigration):
            assert [c.rank for c in result.candidates] == list(range(1, len(result.candidates) + 1))
            assert all(c.score >= threshold for c in result.candidates)
            assert [c.score for c in result.candidates] == sorted(
                (c.score for c in result.candidates), reverse=True
            )


@pytest.mark.parametrize("subject", [s for s in ENROLLED if planned_level(int(s[1:])) is not None])
def test_a_criminal_hit_carries_the_record_and_its_level(pop: Population, subject: str) -> None:
    outcome = pop.outcomes[subject]
    assert outcome.level == planned_level(int(subject[1:]))
    summary = outcome.record_summary
    assert summary is not None
    assert summary["subject_id"] == subject
    assert summary["level"] == outcome.level
    assert min(entry["level"] for entry in summary["entries"]) == outcome.level
    assert "criminal" in summary["galleries"]
    assert not any(isinstance(value, bytes) for value in summary.values())  # no biometrics


def test_every_level_is_exercised(pop: Population) -> None:
    assert {pop.outcomes[s].level for s in ENROLLED} == {1, 2, 3, None}


def test_an_immigration_only_hit_has_no_record(pop: Population) -> None:
    subject = next(s for s in ENROLLED if pop.galleries(s) == {Gallery.IMMIGRATION})
    outcome = pop.outcomes[subject]
    assert outcome.immigration.hit and not outcome.criminal.hit
    assert outcome.record_summary is None and outcome.level is None


def test_outcome_as_dict_is_plain_data(pop: Population) -> None:
    data = pop.outcomes["S0001"].as_dict()
    assert data["criminal"]["gallery"] == "criminal"
    assert data["criminal"]["candidates"][0]["subject_id"] == "S0001"
    assert set(data["criminal"]["candidates"][0]) == {"subject_id", "score", "rank", "fingers_matched"}
    assert data["fingers_searched"] == list(FINGERS)
    assert data["level"] == 1


def test_fingers_marked_xx_or_up_are_left_out(pop: Population) -> None:
    subject = "S0004"
    amputated = booking(pop.cache_dir, subject, missing={8: MissingReason.AMPUTATED})
    assert 8 not in {finger.position for finger in amputated.fingers}
    # An image at a position the booking also lists as UP is not searched either.
    contradictory = replace(amputated, fingers=pop.bookings[subject].fingers)
    assert 8 in {finger.position for finger in contradictory.fingers}
    outcome = pop.matcher.search(contradictory)
    assert outcome.fingers_searched == (2, 3, 4, 7, 9)
    assert dict(outcome.fingers_skipped) == dict.fromkeys((1, 5, 6, 8, 10), "listed as missing (XX/UP)")
    assert outcome.criminal.hit and outcome.criminal.candidates[0].subject_id == subject


def test_an_unreadable_image_is_skipped_with_its_reason(pop: Population) -> None:
    full = pop.bookings["S0003"]
    broken = replace(full.fingers[0], wsq=b"\xff\xa0 not really WSQ")
    outcome = pop.matcher.search(replace(full, fingers=(broken, *full.fingers[1:])))
    reasons = dict(outcome.fingers_skipped)
    assert reasons[broken.position].startswith("unusable image")
    assert broken.position not in outcome.fingers_searched
    assert outcome.criminal.hit and outcome.criminal.candidates[0].subject_id == "S0003"


def test_in_process_sequential_search_agrees_with_the_fixtures(pop: Population) -> None:
    """The fixture searched three bookings at a time, templating in worker processes; here one
    booking is searched alone with the in-process extractor."""
    with Matcher(pop.db_path) as matcher:
        assert matcher.search(pop.bookings["S0006"]) == pop.outcomes["S0006"]


def test_rank_gives_the_unthresholded_shortlist(pop: Population) -> None:
    searches = pop.matcher.rank(pop.matcher.probes(pop.bookings["S0005"]))
    criminal = searches[Gallery.CRIMINAL]
    assert len(criminal.ranked) == SearchSettings().shortlist  # the prefilter ran
    assert criminal.prefilter_comparisons > 0 and criminal.comparisons > 0
    assert criminal.ranked[0].score < SearchSettings().threshold
    assert all(score < 10 * MATCH_THRESHOLD for s in criminal.ranked for score in s.finger_scores.values())


def test_a_matcher_sees_new_enrolments_without_restarting(pop: Population, tmp_path: Path) -> None:
    database = GalleryDatabase(tmp_path / "galleries.db")
    with Matcher(database.path) as matcher:
        probes = matcher.probes(pop.bookings["S0003"])
        assert not matcher.result(matcher.rank(probes)[Gallery.CRIMINAL]).hit
        source = GalleryDatabase(pop.db_path)
        database.enrol(Enrolment("S0003", {Gallery.CRIMINAL}, templates=tuple(source.templates("S0003"))))
        source.close()
        result = matcher.result(matcher.rank(probes)[Gallery.CRIMINAL])
        assert result.hit and result.candidates[0].subject_id == "S0003"
    database.close()
