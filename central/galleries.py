"""The criminal and immigration galleries in SQLite (through sqlite-utils): ``GalleryDatabase``.

One file, ``galleries.db`` in the centre's data directory (schema: ``central.gallery_schema``).
A subject is a person with demographics; gallery membership says which galleries hold them (one,
or both); the criminal record is a list of ``RecordEntry``; templates are the ISO/IEC 19794-2
records the search compares. Biometrics never leave through ``record_summary``.

Enrolment writes a whole subject in one transaction and bumps ``generation``; a ``Matcher``
compares the generation before each search and reloads its in-memory index when it moved.
Each thread gets its own connection (WAL: readers never wait for the writer).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlite_utils

from biometrics.iso import parse_template
from central.gallery_index import PREFILTER_MINUTIAE, TemplateRow, prefilter_template
from central.gallery_schema import SCHEMA_VERSION, migrate, schema_version
from central.levels import RecordEntry, entry_level, offence_level

GALLERY_FILE = "galleries.db"
BUSY_TIMEOUT_SECONDS = 30.0


class Gallery(StrEnum):
    CRIMINAL = "criminal"
    IMMIGRATION = "immigration"


def galleries_of(names: Iterable[str]) -> frozenset[Gallery]:
    """Gallery names as ``Gallery`` values; ``ValueError`` names an unknown one."""
    chosen = set()
    for name in names:
        try:
            chosen.add(Gallery(name))
        except ValueError:
            raise ValueError(f"unknown gallery {name!r}; choose from {[g.value for g in Gallery]}") from None
    return frozenset(chosen)


@dataclass(frozen=True)
class Demographics:
    name: str | None = None  # "SURNAME,GIVEN", as in EBTS 2.018
    sex: str | None = None
    race: str | None = None
    date_of_birth: date | None = None
    place_of_birth: str | None = None
    citizenship: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "citizenship", tuple(self.citizenship))


@dataclass(frozen=True)
class EnrolledTemplate:
    position: int  # finger position 1..10
    impression: str  # unique per (subject, position): a TCN, a file name, "synthetic:1000"
    template: bytes  # ISO/IEC 19794-2:2011
    nfiq2: int | None


@dataclass(frozen=True)
class Enrolment:
    """Everything enrolment writes for one subject; existing data is kept and added to."""

    subject_id: str
    galleries: frozenset[Gallery]
    demographics: Demographics = Demographics()
    templates: tuple[EnrolledTemplate, ...] = ()
    record: tuple[RecordEntry, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.subject_id, str) or not self.subject_id.strip():
            raise ValueError(f"subject id must be a non-empty string, got {self.subject_id!r}")
        object.__setattr__(self, "galleries", galleries_of(self.galleries))
        if not self.galleries:
            raise ValueError(f"subject {self.subject_id}: choose at least one gallery to enrol into")
        object.__setattr__(self, "templates", tuple(self.templates))
        object.__setattr__(self, "record", tuple(self.record))


@dataclass(frozen=True)
class GalleryCounts:
    subjects: int
    members: dict[str, int] = field(default_factory=dict)  # gallery -> subjects
    templates: int = 0
    record_entries: int = 0


class GalleryDatabase:
    """``PATH`` (created with its schema when missing); safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        db = self.db()
        db.enable_wal()
        migrate(db, label=str(self.path))
        self._refresh_prefilter()

    @classmethod
    def in_directory(cls, data_dir: str | Path) -> GalleryDatabase:
        return cls(Path(data_dir) / GALLERY_FILE)

    def db(self) -> sqlite_utils.Database:
        """This thread's sqlite-utils handle."""
        handle = getattr(self._local, "db", None)
        if handle is None:
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False, isolation_level=None
            )
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
            handle = sqlite_utils.Database(connection)
            self._local.db = handle
            with self._lock:
                self._connections.append(connection)
        return handle

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    # --- writing -----------------------------------------------------------------------------

    def enrol(self, enrolment: Enrolment) -> None:
        self.enrol_many([enrolment])

    def enrol_many(self, enrolments: Sequence[Enrolment]) -> None:
        """Write the subjects in one transaction and bump the generation once."""
        if not enrolments:
            return
        db = self.db()
        now = _now()
        with db.atomic():
            for enrolment in enrolments:
                self._write(db, enrolment, now)
            db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    def _write(self, db: sqlite_utils.Database, enrolment: Enrolment, now: str) -> None:
        subject_id = enrolment.subject_id
        person = enrolment.demographics
        db.execute(
            "INSERT INTO subjects (id, source, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
            [subject_id, enrolment.source, now],
        )
        known = {
            "name": person.name,
            "sex": person.sex,
            "race": person.race,
            "date_of_birth": person.date_of_birth.isoformat() if person.date_of_birth else None,
            "place_of_birth": person.place_of_birth,
            "citizenship": json.dumps(list(person.citizenship)) if person.citizenship else None,
        }
        updates = {column: value for column, value in known.items() if value is not None}
        if updates:
            db["subjects"].update(subject_id, updates)
        db["memberships"].insert_all(
            [{"subject_id": subject_id, "gallery": g.value, "enrolled_at": now} for g in enrolment.galleries],
            ignore=True,
        )
        db["record_entries"].insert_all(
            [_entry_row(subject_id, entry) for entry in enrolment.record], ignore=True
        )
        db["templates"].insert_all(
            [_template_row(subject_id, t, now) for t in enrolment.templates], replace=True
        )

    def _refresh_prefilter(self) -> None:
        """Rebuild the prefilter cuts when they were made with another PREFILTER_MINUTIAE."""
        db = self.db()
        row = db.execute("SELECT value FROM meta WHERE key = 'prefilter_minutiae'").fetchone()
        if row is not None and int(row[0]) == PREFILTER_MINUTIAE:
            return
        with db.atomic():
            for template_id, template in db.execute("SELECT id, template FROM templates").fetchall():
                db.execute(
                    "UPDATE templates SET prefilter = ? WHERE id = ?",
                    [prefilter_template(template, PREFILTER_MINUTIAE), template_id],
                )
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('prefilter_minutiae', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [str(PREFILTER_MINUTIAE)],
            )

    # --- reading -----------------------------------------------------------------------------

    def schema_version(self) -> int:
        return schema_version(self.db())

    def generation(self) -> int:
        return int(self.db().execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def members(self, gallery: Gallery | str) -> list[str]:
        rows = self.db().execute(
            "SELECT subject_id FROM memberships WHERE gallery = ? ORDER BY subject_id",
            [Gallery(gallery).value],
        )
        return [subject_id for (subject_id,) in rows.fetchall()]

    def template_rows(self, gallery: Gallery | str) -> Iterator[TemplateRow]:
        """Every template of the gallery's members, in a stable order."""
        cursor = self.db().execute(
            "SELECT t.subject_id, t.position, t.template, t.prefilter FROM templates t "
            "JOIN memberships m ON m.subject_id = t.subject_id AND m.gallery = ? "
            "ORDER BY t.position, t.subject_id, t.impression",
            [Gallery(gallery).value],
        )
        for subject_id, position, template, prefilter in cursor:
            yield TemplateRow(subject_id, position, template, prefilter)

    def templates(self, subject_id: str) -> list[EnrolledTemplate]:
        rows = self.db().execute(
            "SELECT position, impression, template, nfiq2 FROM templates WHERE subject_id = ? "
            "ORDER BY position, impression",
            [subject_id],
        )
        return [EnrolledTemplate(*row) for row in rows.fetchall()]

    def subject_galleries(self, subject_id: str) -> frozenset[Gallery]:
        rows = self.db().execute("SELECT gallery FROM memberships WHERE subject_id = ?", [subject_id])
        return frozenset(Gallery(gallery) for (gallery,) in rows.fetchall())

    def demographics(self, subject_id: str) -> Demographics | None:
        row = (
            self.db()
            .execute(
                "SELECT name, sex, race, date_of_birth, place_of_birth, citizenship "
                "FROM subjects WHERE id = ?",
                [subject_id],
            )
            .fetchone()
        )
        if row is None:
            return None
        name, sex, race, born, place, citizenship = row
        return Demographics(
            name=name,
            sex=sex,
            race=race,
            date_of_birth=date.fromisoformat(born) if born else None,
            place_of_birth=place,
            citizenship=tuple(json.loads(citizenship)),
        )

    def record(self, subject_id: str) -> tuple[RecordEntry, ...]:
        rows = self.db().execute(
            "SELECT date, offence, category, disposition, sentence_days, code FROM record_entries "
            "WHERE subject_id = ? ORDER BY date, id",
            [subject_id],
        )
        return tuple(
            RecordEntry(date.fromisoformat(day), offence, category, disposition, sentence, code)
            for day, offence, category, disposition, sentence, code in rows.fetchall()
        )

    def record_summary(self, subject_id: str) -> dict[str, Any] | None:
        """Demographics, galleries, record entries and offence level of a subject, JSON-ready;
        no biometric data. None for an unknown subject."""
        person = self.demographics(subject_id)
        if person is None:
            return None
        entries = self.record(subject_id)
        return {
            "subject_id": subject_id,
            "name": person.name,
            "sex": person.sex,
            "race": person.race,
            "date_of_birth": person.date_of_birth.isoformat() if person.date_of_birth else None,
            "place_of_birth": person.place_of_birth,
            "citizenship": list(person.citizenship),
            "galleries": sorted(g.value for g in self.subject_galleries(subject_id)),
            "entries": [_entry_summary(entry) for entry in entries],
            "level": offence_level(entries),
        }

    def counts(self) -> GalleryCounts:
        db = self.db()

        def count(sql: str) -> int:
            return int(db.execute(sql).fetchone()[0])

        members = dict(db.execute("SELECT gallery, COUNT(*) FROM memberships GROUP BY gallery").fetchall())
        return GalleryCounts(
            subjects=count("SELECT COUNT(*) FROM subjects"),
            members={g.value: int(members.get(g.value, 0)) for g in Gallery},
            templates=count("SELECT COUNT(*) FROM templates"),
            record_entries=count("SELECT COUNT(*) FROM record_entries"),
        )


@contextmanager
def using_galleries(db: GalleryDatabase | str | Path) -> Iterator[GalleryDatabase]:
    """``db`` itself, or the database at that path, opened for the block and closed after it."""
    if isinstance(db, GalleryDatabase):
        yield db
        return
    opened = GalleryDatabase(db)
    try:
        yield opened
    finally:
        opened.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _entry_row(subject_id: str, entry: RecordEntry) -> dict[str, Any]:
    return {
        "subject_id": subject_id,
        "date": entry.date.isoformat(),
        "offence": entry.offence,
        "category": entry.category.value,
        "disposition": entry.disposition.value,
        "sentence_days": entry.sentence_days,
        "code": entry.code,
    }


def _entry_summary(entry: RecordEntry) -> dict[str, Any]:
    return {
        "date": entry.date.isoformat(),
        "offence": entry.offence,
        "category": entry.category.value,
        "disposition": entry.disposition.value,
        "sentence_days": entry.sentence_days,
        "code": entry.code,
        "level": entry_level(entry),
    }


def _template_row(subject_id: str, enrolled: EnrolledTemplate, now: str) -> dict[str, Any]:
    parsed = parse_template(enrolled.template)
    return {
        "subject_id": subject_id,
        "position": enrolled.position,
        "impression": enrolled.impression,
        "template": enrolled.template,
        "prefilter": prefilter_template(enrolled.template, PREFILTER_MINUTIAE),
        "nfiq2": enrolled.nfiq2,
        "minutiae": len(parsed.minutiae),
        "created_at": now,
    }


__all__ = [
    "GALLERY_FILE",
    "SCHEMA_VERSION",
    "Demographics",
    "EnrolledTemplate",
    "Enrolment",
    "Gallery",
    "GalleryCounts",
    "GalleryDatabase",
    "galleries_of",
    "using_galleries",
]
