"""The gallery database: schema and its version, enrolment round trips, the in-memory index."""

from __future__ import annotations

import random
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from biometrics.iso import IsoMinutia, IsoTemplate, QualityBlock, encode_template, parse_template
from central import galleries as galleries_module
from central.galleries import (
    GALLERY_FILE,
    Demographics,
    EnrolledTemplate,
    Enrolment,
    Gallery,
    GalleryDatabase,
    using_galleries,
)
from central.gallery_index import PREFILTER_MINUTIAE, GalleryIndex, prefilter_template
from central.gallery_schema import SCHEMA_VERSION, GallerySchemaError
from central.levels import Disposition, OffenceCategory, RecordEntry
from central.search import open_matcher


def iso_template(seed: int, minutiae: int = 30, position: int = 1) -> bytes:
    rng = random.Random(seed)
    points = tuple(
        IsoMinutia(kind=rng.choice((1, 2)), x=rng.randrange(256), y=rng.randrange(288),
                   angle=rng.randrange(256), quality=rng.randrange(101))
        for _ in range(minutiae)
    )  # fmt: skip
    return encode_template(
        IsoTemplate(
            finger_position=position, impression_type=0, resolution_x=197, resolution_y=197,
            width=256, height=288, captured_at=None, quality=QualityBlock(60, 0x0101, 0x39), minutiae=points,
        )
    )  # fmt: skip


PERSON = Demographics(
    name="DOE,JANE",
    sex="F",
    race="W",
    date_of_birth=date(1990, 4, 5),
    place_of_birth="MX",
    citizenship=("MX",),
)
RECORD = (
    RecordEntry(date(2015, 1, 2), "BURGLARY", OffenceCategory.BURGLARY, Disposition.CONVICTED, 200, "2299"),
    RecordEntry(date(2019, 6, 7), "TRESPASSING", OffenceCategory.OTHER, Disposition.CHARGED),
)


def jane(**changes: object) -> Enrolment:
    values: dict = {
        "subject_id": "P0001",
        "galleries": {Gallery.CRIMINAL},
        "demographics": PERSON,
        "templates": (
            EnrolledTemplate(1, "tcn-1", iso_template(1), 61),
            EnrolledTemplate(2, "tcn-1", iso_template(2, 12), None),
        ),
        "record": RECORD,
        "source": "test",
    }
    values.update(changes)
    return Enrolment(**values)


@pytest.fixture
def database(tmp_path: Path) -> GalleryDatabase:
    opened = GalleryDatabase(tmp_path / GALLERY_FILE)
    yield opened
    opened.close()


def test_a_new_database_has_the_current_schema(database: GalleryDatabase) -> None:
    assert database.schema_version() == SCHEMA_VERSION
    tables = set(database.db().table_names())
    assert {"meta", "subjects", "memberships", "record_entries", "templates"} <= tables
    assert database.generation() == 0
    assert database.counts().subjects == 0


def test_a_database_from_a_newer_centre_is_refused(tmp_path: Path) -> None:
    path = tmp_path / GALLERY_FILE
    GalleryDatabase(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(GallerySchemaError, match="knows up to"):
        GalleryDatabase(path)


def test_enrolment_round_trip(database: GalleryDatabase) -> None:
    database.enrol(jane())
    assert database.demographics("P0001") == PERSON
    assert database.record("P0001") == RECORD
    assert database.subject_galleries("P0001") == {Gallery.CRIMINAL}
    assert database.templates("P0001") == list(jane().templates)
    assert database.members(Gallery.CRIMINAL) == ["P0001"]
    assert database.members(Gallery.IMMIGRATION) == []
    assert database.generation() == 1


def test_the_schema_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / GALLERY_FILE
    with using_galleries(path) as first:
        first.enrol(jane())
    with using_galleries(path) as second:
        assert second.record("P0001") == RECORD
        assert second.schema_version() == SCHEMA_VERSION


def test_enrolling_again_adds_without_duplicating(database: GalleryDatabase) -> None:
    database.enrol(jane())
    replacement = EnrolledTemplate(1, "tcn-1", iso_template(9), 70)
    database.enrol(
        jane(
            galleries={Gallery.IMMIGRATION},
            demographics=Demographics(citizenship=("GT",)),
            templates=(replacement, EnrolledTemplate(1, "tcn-2", iso_template(3), 55)),
            record=RECORD[:1],
        )
    )
    assert database.subject_galleries("P0001") == set(Gallery)
    assert database.record("P0001") == RECORD  # the repeated entry is not stored twice
    person = database.demographics("P0001")
    assert person.name == "DOE,JANE" and person.citizenship == ("GT",)  # given fields updated, others kept
    stored = {(t.position, t.impression): t for t in database.templates("P0001")}
    assert stored[(1, "tcn-1")] == replacement  # same impression name: replaced
    assert len(stored) == 3
    assert database.generation() == 2


def test_record_summary_has_the_record_and_level_but_no_biometrics(database: GalleryDatabase) -> None:
    database.enrol(jane(galleries=set(Gallery)))
    summary = database.record_summary("P0001")
    assert summary == {
        "subject_id": "P0001",
        "name": "DOE,JANE",
        "sex": "F",
        "race": "W",
        "date_of_birth": "1990-04-05",
        "place_of_birth": "MX",
        "citizenship": ["MX"],
        "galleries": ["criminal", "immigration"],
        "entries": [
            {"date": "2015-01-02", "offence": "BURGLARY", "category": "burglary", "disposition": "convicted",
             "sentence_days": 200, "code": "2299", "level": 2},
            {"date": "2019-06-07", "offence": "TRESPASSING", "category": "other", "disposition": "charged",
             "sentence_days": None, "code": None, "level": 3},
        ],
        "level": 2,
    }  # fmt: skip
    assert database.record_summary("NOBODY") is None


def test_an_enrolment_needs_a_subject_and_a_gallery() -> None:
    with pytest.raises(ValueError, match="gallery"):
        jane(galleries=set())
    with pytest.raises(ValueError, match="unknown gallery"):
        jane(galleries={"traffic"})
    with pytest.raises(ValueError, match="subject id"):
        jane(subject_id=" ")
    with pytest.raises(
        ValueError, match="must not contain ':'"
    ):  # "P1:2" + "3:x" would read as "P1" + "2:3:x"
        jane(subject_id="P1:2")


def test_a_failed_enrolment_writes_nothing(database: GalleryDatabase) -> None:
    broken = jane(subject_id="P0002", templates=(EnrolledTemplate(1, "x", b"not a template", None),))
    with pytest.raises(ValueError):
        database.enrol_many([jane(), broken])
    assert database.counts().subjects == 0
    assert database.generation() == 0


def test_prefilter_cut_keeps_the_most_reliable_minutiae() -> None:
    template = iso_template(5, minutiae=PREFILTER_MINUTIAE + 15)
    cut = parse_template(prefilter_template(template))
    full = parse_template(template)
    assert len(cut.minutiae) == PREFILTER_MINUTIAE
    threshold = sorted((m.quality for m in full.minutiae), reverse=True)[PREFILTER_MINUTIAE - 1]
    assert all(m.quality >= threshold for m in cut.minutiae)
    assert set(cut.minutiae) <= set(full.minutiae)
    small = iso_template(6, minutiae=10)
    assert prefilter_template(small) == small


def test_prefilter_cuts_are_rebuilt_when_the_cut_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / GALLERY_FILE
    with using_galleries(path) as first:
        first.enrol(jane())
    monkeypatch.setattr(galleries_module, "PREFILTER_MINUTIAE", 8)
    with using_galleries(path) as second:
        rows = list(second.template_rows(Gallery.CRIMINAL))
        assert {len(parse_template(row.prefilter).minutiae) for row in rows} == {8}


def test_the_index_groups_templates_by_finger_and_subject(database: GalleryDatabase) -> None:
    database.enrol(jane(galleries=set(Gallery)))
    database.enrol(jane(subject_id="P0002", templates=(EnrolledTemplate(1, "a", iso_template(7), 50),)))
    criminal = GalleryIndex.build(
        "criminal", 2, database.members(Gallery.CRIMINAL), database.template_rows(Gallery.CRIMINAL)
    )
    assert criminal.subject_ids == ("P0001", "P0002")
    assert criminal.size == 2 and criminal.template_count == 3
    assert sorted(criminal.fingers) == [1, 2]
    table = criminal.fingers[1]
    assert table.owners.tolist() == [0, 1]
    assert table.rows_of([1]) == [1]
    immigration = GalleryIndex.build(
        "immigration", 2, database.members(Gallery.IMMIGRATION), database.template_rows(Gallery.IMMIGRATION)
    )
    assert immigration.subject_ids == ("P0001",) and immigration.template_count == 2


def test_open_matcher_uses_the_data_directory(tmp_path: Path) -> None:
    with open_matcher(tmp_path) as matcher:
        assert matcher.database.path == tmp_path / GALLERY_FILE
        assert all(matcher.index(g).size == 0 for g in Gallery)
    assert (tmp_path / GALLERY_FILE).exists()
