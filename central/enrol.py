"""Gallery enrolment: from a booking transaction, from a folder of print images, synthetic.

* ``enrol_booking(db, booking, galleries=...)``: the subject's demographics from Type-2, one
  template per printed finger (decoded WSQ → frame → extractor), and — for the criminal gallery —
  the arrest's offences as ``charged`` record entries (category guessed from the literal by
  ``levels.classify_offence``) unless ``record`` is given. The subject id defaults to the TCN.
* ``enrol_image_folder(db, folder, galleries=...)``: one subject per folder (id defaults to the
  folder name); files named ``<finger position>[_<anything>].<png|bmp|tif|pgm|jpg>``, e.g.
  ``02.png``, ``07_2.tif``; each file is one impression, named by its file name.
* ``enroll_synthetic(db, n, seed)``: see ``central.gallery_synthetic``.

Enrolling the same subject again adds galleries, record entries and impressions; an impression
already stored under the same name is replaced. Fingers without a usable template are reported
in ``EnrolmentReport.skipped``, never silently dropped; when no finger gives a template nothing is
written and ``NoUsablePrints`` says why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biometrics.compression import decode_wsq
from biometrics.errors import BiometricError
from biometrics.extractor import Extractor
from biometrics.worker import shared_extractor
from central.galleries import (
    Demographics,
    EnrolledTemplate,
    Enrolment,
    Gallery,
    GalleryDatabase,
    galleries_of,
    using_galleries,
)
from central.gallery_synthetic import SyntheticReport, enroll_synthetic
from central.levels import Disposition, RecordEntry, classify_offence
from sync.transaction import Booking

IMAGE_SUFFIXES = frozenset({".png", ".bmp", ".tif", ".tiff", ".pgm", ".jpg", ".jpeg"})
_IMAGE_NAME = re.compile(r"(?P<position>[0-9]{1,2})(?:[_-].*)?")


class NoUsablePrints(ValueError):
    """Not one finger gave a template; nothing was written."""

    def __init__(self, subject_id: str, skipped: list[tuple[str, str]]) -> None:
        reasons = "; ".join(f"{what}: {why}" for what, why in skipped) or "no images"
        super().__init__(f"subject {subject_id}: no usable print ({reasons})")
        self.skipped = tuple(skipped)


@dataclass(frozen=True)
class EnrolmentReport:
    subject_id: str
    galleries: frozenset[Gallery]
    enrolled: tuple[tuple[int, str], ...]  # (position, impression)
    skipped: tuple[tuple[str, str], ...]  # (what, why)
    record_entries: int


def enrol_booking(
    db: GalleryDatabase | str | Path,
    booking: Booking,
    *,
    galleries: Iterable[str] = (Gallery.CRIMINAL,),
    subject_id: str | None = None,
    record: Iterable[RecordEntry] | None = None,
    extractor: Extractor | None = None,
) -> EnrolmentReport:
    chosen = galleries_of(galleries)
    subject_id = subject_id or booking.header.tcn
    extractor = extractor or shared_extractor()
    missing = {finger.position for finger in booking.missing}
    templates: list[EnrolledTemplate] = []
    skipped: list[tuple[str, str]] = [(f"finger {p}", "listed as missing (XX/UP)") for p in sorted(missing)]
    for finger in sorted(booking.fingers, key=lambda f: f.position):
        if finger.position in missing:
            continue
        what = f"finger {finger.position}"
        try:
            frame = decode_wsq(finger.wsq)
        except BiometricError as exc:
            skipped.append((what, exc.message))
            continue
        enrolled = _template(extractor, frame, finger.position, booking.header.tcn, finger.nfiq2)
        if isinstance(enrolled, str):
            skipped.append((what, enrolled))
        else:
            templates.append(enrolled)
    if record is None:
        record = _arrest_record(booking) if Gallery.CRIMINAL in chosen else ()
    person = booking.subject
    demographics = Demographics(
        name=person.name,
        sex=person.sex,
        race=person.race,
        date_of_birth=next((day for day in person.dates_of_birth if day is not None), None),
        place_of_birth=person.place_of_birth,
        citizenship=person.citizenship,
    )
    return _write(
        db,
        Enrolment(
            subject_id, chosen, demographics, tuple(templates), tuple(record), f"booking {booking.header.tcn}"
        ),
        skipped,
    )


def enrol_image_folder(
    db: GalleryDatabase | str | Path,
    folder: str | Path,
    *,
    galleries: Iterable[str] = (Gallery.CRIMINAL,),
    subject_id: str | None = None,
    demographics: Demographics | None = None,
    record: Iterable[RecordEntry] = (),
    extractor: Extractor | None = None,
) -> EnrolmentReport:
    from PIL import Image  # only folder enrolment reads image files

    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder of print images")
    extractor = extractor or shared_extractor()
    templates: list[EnrolledTemplate] = []
    skipped: list[tuple[str, str]] = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        match = _IMAGE_NAME.fullmatch(path.stem)
        position = int(match["position"]) if match else 0
        if not 1 <= position <= 10:
            skipped.append((path.name, "the name must start with a finger position 1..10, e.g. 02_1.png"))
            continue
        try:
            with Image.open(path) as image:
                frame = np.asarray(image.convert("L"))
        except OSError as exc:
            skipped.append((path.name, f"unreadable image: {exc}"))
            continue
        enrolled = _template(extractor, frame, position, path.name, None)
        if isinstance(enrolled, str):
            skipped.append((path.name, enrolled))
        else:
            templates.append(enrolled)
    enrolment = Enrolment(
        subject_id or folder.name,
        galleries_of(galleries),
        demographics or Demographics(),
        tuple(templates),
        tuple(record),
        f"folder {folder.name}",
    )
    return _write(db, enrolment, skipped)


def _template(
    extractor: Extractor, frame: np.ndarray, position: int, impression: str, nfiq2: int | None
) -> EnrolledTemplate | str:
    """The template of one frame, or why there is none."""
    try:
        processed = extractor.process(frame, position)
    except BiometricError as exc:
        return f"unusable image: {exc.message}"
    if processed.template is None:
        return "no minutiae found"
    return EnrolledTemplate(
        position, impression, processed.template, nfiq2 if nfiq2 is not None else processed.nfiq2
    )


def _arrest_record(booking: Booking) -> tuple[RecordEntry, ...]:
    arrest = booking.arrest
    return tuple(
        RecordEntry(
            date=offence.date or arrest.date,
            offence=offence.literal,
            category=classify_offence(offence.literal),
            disposition=Disposition.CHARGED,
        )
        for offence in arrest.offences
    )


def _write(
    db: GalleryDatabase | str | Path, enrolment: Enrolment, skipped: list[tuple[str, str]]
) -> EnrolmentReport:
    if not enrolment.templates:
        raise NoUsablePrints(enrolment.subject_id, skipped)
    with using_galleries(db) as galleries:
        galleries.enrol(enrolment)
    return EnrolmentReport(
        subject_id=enrolment.subject_id,
        galleries=enrolment.galleries,
        enrolled=tuple((t.position, t.impression) for t in enrolment.templates),
        skipped=tuple(skipped),
        record_entries=len(enrolment.record),
    )


__all__ = [
    "EnrolmentReport",
    "NoUsablePrints",
    "SyntheticReport",
    "enrol_booking",
    "enrol_image_folder",
    "enroll_synthetic",
]
