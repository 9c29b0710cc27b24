"""Enrolment from bookings, image folders and the synthetic population; the enroll command."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from outbox_helpers import raw_files
from PIL import Image
from search_population import FINGERS, booking, masters_cache

from biometrics.synthetic import SyntheticPrints
from central.enrol import NoUsablePrints, enrol_booking, enrol_image_folder
from central.enrol_cli import enroll
from central.galleries import Demographics, Gallery, GalleryDatabase, using_galleries
from central.gallery_synthetic import CAPTURE_FIRST_IMPRESSION, synthetic_booking, synthetic_templates
from central.levels import Disposition, OffenceCategory
from central.search import Matcher
from hw_sim.fingers import SIMULATOR_FIRST_IMPRESSION
from sync.transaction import MissingReason


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return masters_cache(tmp_path_factory)


@pytest.fixture
def database(tmp_path: Path) -> GalleryDatabase:
    opened = GalleryDatabase(tmp_path / "galleries.db")
    yield opened
    opened.close()


def test_enrol_a_booking_then_find_it(database: GalleryDatabase, cache_dir: Path) -> None:
    enrolled = booking(cache_dir, "S0003", impression=1005, missing={9: MissingReason.AMPUTATED})
    report = enrol_booking(database, enrolled, galleries=["criminal"])
    tcn = enrolled.header.tcn
    assert report.subject_id == tcn  # the default subject id
    assert [position for position, _ in report.enrolled] == [2, 3, 4, 7, 8]
    assert {impression for _, impression in report.enrolled} == {tcn}
    assert {what for what, _ in report.skipped} == {
        "finger 1",
        "finger 5",
        "finger 6",
        "finger 9",
        "finger 10",
    }
    assert database.subject_galleries(tcn) == {Gallery.CRIMINAL}
    person = database.demographics(tcn)
    assert person.name == enrolled.subject.name and person.date_of_birth == enrolled.subject.dates_of_birth[0]
    (entry,) = database.record(tcn)  # the arrest's offence, as a charge
    assert (entry.offence, entry.category, entry.disposition) == (
        "TRESPASSING",
        OffenceCategory.OTHER,
        Disposition.CHARGED,
    )
    with Matcher(database.path) as matcher:
        outcome = matcher.search(booking(cache_dir, "S0003"))
    assert outcome.criminal.hit and outcome.criminal.candidates[0].subject_id == tcn
    assert not outcome.immigration.hit
    assert outcome.level == 3
    secrets = {"name": enrolled.subject.name.encode(), "offence": b"TRESPASSING"}
    secrets.update({f"wsq {f.position}": f.wsq[100:164] for f in enrolled.fingers})
    secrets.update({f"template {t.position}": t.template[32:96] for t in database.templates(tcn)})
    files = raw_files(database.path)  # after enrolment, index load and search
    assert f"{database.path.name}-wal" in files
    assert [(name, what) for name, data in files.items() for what, s in secrets.items() if s in data] == []


def test_an_immigration_enrolment_gets_no_record_unless_given(
    database: GalleryDatabase, cache_dir: Path
) -> None:
    enrolled = booking(cache_dir, "S0003", impression=1005, fingers=FINGERS[:2])
    report = enrol_booking(database, enrolled, galleries=["immigration"], subject_id="A-1")
    assert report.record_entries == 0 and database.record("A-1") == ()
    assert database.subject_galleries("A-1") == {Gallery.IMMIGRATION}


def test_a_booking_without_usable_prints_writes_nothing(database: GalleryDatabase, cache_dir: Path) -> None:
    enrolled = booking(cache_dir, "S0003", fingers=FINGERS[:1])
    broken = replace(enrolled, fingers=(replace(enrolled.fingers[0], wsq=b"\xff\xa0garbage"),))
    with pytest.raises(NoUsablePrints, match="finger 2"):
        enrol_booking(database, broken)
    assert database.counts().subjects == 0


def _save(folder: Path, name: str, frame: np.ndarray) -> None:
    Image.fromarray(frame).save(folder / name)


def test_enrol_an_image_folder(database: GalleryDatabase, cache_dir: Path, tmp_path: Path) -> None:
    prints = SyntheticPrints(seed=0, cache_dir=cache_dir)
    folder = tmp_path / "S0004"
    folder.mkdir()
    _save(folder, "02_6.png", prints.impression("S0004", 2, 1006))
    _save(folder, "03.png", prints.impression("S0004", 3, 1006))
    _save(folder, "07.png", np.full((288, 256), 255, np.uint8))  # nothing on the glass
    _save(folder, "11_1.png", prints.impression("S0004", 4, 6))  # no such finger
    _save(folder, "notes.png", prints.impression("S0004", 4, 6))
    (folder / "04_1.png").write_bytes(b"not an image")
    (folder / "readme.txt").write_text("ignored: not an image suffix")
    report = enrol_image_folder(
        database, folder, galleries=["criminal", "immigration"], demographics=Demographics(name="ROE,RICHARD")
    )
    assert report.subject_id == "S0004"
    assert report.enrolled == ((2, "02_6.png"), (3, "03.png"))
    reasons = dict(report.skipped)
    assert reasons["04_1.png"].startswith("unreadable image")
    assert reasons["07.png"] == "no minutiae found"
    assert reasons["11_1.png"] == reasons["notes.png"]
    assert set(reasons) == {"04_1.png", "07.png", "11_1.png", "notes.png"}
    assert database.subject_galleries("S0004") == set(Gallery)
    assert database.demographics("S0004").name == "ROE,RICHARD"


def test_a_folder_without_prints_is_refused(database: GalleryDatabase, tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    _save(folder, "01.png", np.full((288, 256), 255, np.uint8))
    with pytest.raises(NoUsablePrints):
        enrol_image_folder(database, folder)
    with pytest.raises(NotADirectoryError):
        enrol_image_folder(database, tmp_path / "missing")
    assert database.counts().subjects == 0


def test_enrolment_and_capture_impressions_never_meet(cache_dir: Path) -> None:
    assert CAPTURE_FIRST_IMPRESSION == SIMULATOR_FIRST_IMPRESSION  # the simulator captures from there
    with pytest.raises(ValueError, match="capture impressions"):
        synthetic_booking("S0001", impression=CAPTURE_FIRST_IMPRESSION - 1, cache_dir=cache_dir)
    with pytest.raises(ValueError, match="impressions per finger"):
        synthetic_templates("S0001", impressions=CAPTURE_FIRST_IMPRESSION + 1, cache_dir=str(cache_dir))


def test_enroll_command_synthetic(tmp_path: Path, cache_dir: Path) -> None:
    db_path = tmp_path / "data" / "galleries.db"
    args = [
        "--synthetic",
        "1",
        "--db",
        str(db_path),
        "--seed",
        "0",
        "--workers",
        "1",
        "--cache-dir",
        str(cache_dir),
    ]
    result = CliRunner().invoke(enroll, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["population"] == 1 and report["enrolled"] == 1 and report["not_enrolled"] == 0
    assert report["members"] == {"criminal": 1, "immigration": 1}  # S0001 is in both galleries
    assert report["templates"] == report["database"]["templates"] == 10
    with using_galleries(db_path) as database:
        impressions = {t.impression for t in database.templates("S0001")}
    assert impressions == {"synthetic:0"}


def test_enroll_command_folder_and_usage(tmp_path: Path) -> None:
    db_path = tmp_path / "galleries.db"
    runner = CliRunner()
    neither = runner.invoke(enroll, ["--db", str(db_path)])
    assert neither.exit_code == 2 and "exactly one of" in neither.output
    folder = tmp_path / "blank"
    folder.mkdir()
    _save(folder, "01.png", np.full((288, 256), 255, np.uint8))
    refused = runner.invoke(
        enroll, ["--db", str(db_path), "--folder", str(folder), "--gallery", "immigration"]
    )
    assert refused.exit_code == 1 and "no usable print" in refused.output


def test_enroll_command_refuses_a_subject_id_with_a_colon(tmp_path: Path, cache_dir: Path) -> None:
    folder = tmp_path / "prints"
    folder.mkdir()
    _save(folder, "02.png", SyntheticPrints(seed=0, cache_dir=cache_dir).impression("S0004", 2, 1006))
    refused = CliRunner().invoke(
        enroll, ["--db", str(tmp_path / "galleries.db"), "--folder", str(folder), "--subject", "A:B"]
    )
    assert refused.exit_code == 1 and "must not contain ':'" in refused.output
    assert "Traceback" not in refused.output
