"""The criminal and immigration galleries in SQLite (through sqlite-utils): ``GalleryDatabase``.

One file, ``galleries.db`` in the centre's data directory (schema: ``central.gallery_schema``).
A subject is a person with demographics; gallery membership says which galleries hold them (one,
or both); the criminal record is a list of ``RecordEntry``; templates are the ISO/IEC 19794-2
records the search compares. Biometrics never leave through ``record_summary``.

Enrolment writes a whole subject in one transaction and bumps ``generation``; a ``Matcher``
compares the generation before each search and reloads its in-memory index when it moved.
The file is a ``central.sealed_store.SealedStore``: a connection per thread (WAL: readers never
wait for the writer), and demographics, record entries and templates sealed (AES-256-GCM) under
the data directory's key file; ids, memberships and finger positions stay plain for the queries.
"""

from __future__ import annotations

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
from central.gallery_schema import (
    DEMOGRAPHICS,
    PREFILTER,
    RECORD,
    SCHEMA_VERSION,
    SEALED,
    TEMPLATE,
    GallerySchemaError,
    migrations,
)
from central.levels import RecordEntry, entry_level, offence_level
from central.sealed_store import Keys, SealedStore

GALLERY_FILE = "galleries.db"


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


class InvalidSubjectId(ValueError):
    """A subject id that is empty or contains ':'; the message says which."""


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
            raise InvalidSubjectId(f"subject id must be a non-empty string, got {self.subject_id!r}")
        if ":" in self.subject_id:  # ':' separates the id from the row in the sealed envelopes' context
            raise InvalidSubjectId(f"subject id {self.subject_id!r} must not contain ':'; choose another id")
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


class GalleryDatabase(SealedStore):
    """``PATH`` (created with its schema when missing); safe to share between threads.

    ``keys``: the key file sealing demographics, records and templates (default: ``central.key``
    beside the database, created on first use; ``central.sealed_store``)."""

    def __init__(self, path: str | Path, *, keys: Keys = None) -> None:
        super().__init__(
            Path(path), keys, migrations=migrations, sealed=SEALED, label="gallery database",
            error=GallerySchemaError,
        )  # fmt: skip
        self._refresh_prefilter()

    @classmethod
    def in_directory(cls, data_dir: str | Path, *, keys: Keys = None) -> GalleryDatabase:
        return cls(Path(data_dir) / GALLERY_FILE, keys=keys)

    # --- writing -----------------------------------------------------------------------------

    def enrol(self, enrolment: Enrolment) -> None:
        self.enrol_many([enrolment])

    def enrol_many(self, enrolments: Sequence[Enrolment]) -> None:
        """Write the subjects in one transaction and bump the generation once."""
        if not enrolments:
            return
        now = _now()
        with self.write() as db:
            for enrolment in enrolments:
                self._write(db, enrolment, now)
            db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    def _write(self, db: sqlite_utils.Database, enrolment: Enrolment, now: str) -> None:
        subject_id = enrolment.subject_id
        db.execute(
            "INSERT INTO subjects (id, source, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
            [subject_id, enrolment.source, now],
        )
        given = _demographics_json(enrolment.demographics)
        if given:
            merged = {**self._demographics_json(subject_id), **given}
            db.execute(
                "UPDATE subjects SET demographics = ? WHERE id = ?",
                [self.seal_json(DEMOGRAPHICS.where, subject_id, merged), subject_id],
            )
        db["memberships"].insert_all(
            [{"subject_id": subject_id, "gallery": g.value, "enrolled_at": now} for g in enrolment.galleries],
            ignore=True,
        )
        known = {_entry_key(entry) for _, entry in self._entries(subject_id)}
        next_id = db.execute("SELECT coalesce(max(id), 0) + 1 FROM record_entries").fetchone()[0]
        for entry in enrolment.record:
            if _entry_key(entry) in known:
                continue
            known.add(_entry_key(entry))
            envelope = self.seal_json(RECORD.where, f"{subject_id}:{next_id}", _entry_json(entry))
            db.execute(
                "INSERT INTO record_entries (id, subject_id, entry) VALUES (?, ?, ?)",
                [next_id, subject_id, envelope],
            )
            next_id += 1
        db["templates"].insert_all(
            [self._template_row(subject_id, t, now) for t in enrolment.templates], replace=True
        )

    def _template_row(self, subject_id: str, enrolled: EnrolledTemplate, now: str) -> dict[str, Any]:
        parsed = parse_template(enrolled.template)
        identity = _template_identity(subject_id, enrolled.position, enrolled.impression)
        prefilter = prefilter_template(enrolled.template, PREFILTER_MINUTIAE)
        return {
            "subject_id": subject_id,
            "position": enrolled.position,
            "impression": enrolled.impression,
            "template": self.seal(TEMPLATE.where, identity, enrolled.template),
            "prefilter": self.seal(PREFILTER.where, identity, prefilter),
            "nfiq2": enrolled.nfiq2,
            "minutiae": len(parsed.minutiae),
            "created_at": now,
        }

    def _refresh_prefilter(self) -> None:
        """Rebuild the prefilter cuts when they were made with another PREFILTER_MINUTIAE."""
        row = self.db().execute("SELECT value FROM meta WHERE key = 'prefilter_minutiae'").fetchone()
        if row is not None and int(row[0]) == PREFILTER_MINUTIAE:
            return
        with self.write() as db:
            rows = db.execute(f"SELECT id, {TEMPLATE.identity}, template FROM templates").fetchall()
            for template_id, identity, envelope in rows:
                cut = prefilter_template(self.open(TEMPLATE.where, identity, envelope), PREFILTER_MINUTIAE)
                db.execute(
                    "UPDATE templates SET prefilter = ? WHERE id = ?",
                    [self.seal(PREFILTER.where, identity, cut), template_id],
                )
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('prefilter_minutiae', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [str(PREFILTER_MINUTIAE)],
            )

    # --- reading -----------------------------------------------------------------------------

    def generation(self) -> int:
        return int(self.db().execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def members(self, gallery: Gallery | str) -> list[str]:
        rows = self.db().execute(
            "SELECT subject_id FROM memberships WHERE gallery = ? ORDER BY subject_id",
            [Gallery(gallery).value],
        )
        return [subject_id for (subject_id,) in rows.fetchall()]

    def template_rows(self, gallery: Gallery | str) -> Iterator[TemplateRow]:
        """Every template of the gallery's members, opened, in a stable order."""
        cursor = self.db().execute(
            "SELECT t.subject_id, t.position, t.impression, t.template, t.prefilter FROM templates t "
            "JOIN memberships m ON m.subject_id = t.subject_id AND m.gallery = ? "
            "ORDER BY t.position, t.subject_id, t.impression",
            [Gallery(gallery).value],
        )
        open_ = self.opener()
        for subject_id, position, impression, template, prefilter in cursor:
            identity = _template_identity(subject_id, position, impression)
            yield TemplateRow(
                subject_id,
                position,
                open_(TEMPLATE.where, identity, template),
                open_(PREFILTER.where, identity, prefilter),
            )

    def templates(self, subject_id: str) -> list[EnrolledTemplate]:
        rows = self.db().execute(
            "SELECT position, impression, template, nfiq2 FROM templates WHERE subject_id = ? "
            "ORDER BY position, impression",
            [subject_id],
        )
        return [
            EnrolledTemplate(
                position,
                impression,
                self.open(TEMPLATE.where, _template_identity(subject_id, position, impression), template),
                nfiq2,
            )
            for position, impression, template, nfiq2 in rows.fetchall()
        ]

    def subject_galleries(self, subject_id: str) -> frozenset[Gallery]:
        rows = self.db().execute("SELECT gallery FROM memberships WHERE subject_id = ?", [subject_id])
        return frozenset(Gallery(gallery) for (gallery,) in rows.fetchall())

    def demographics(self, subject_id: str) -> Demographics | None:
        """The subject's demographics (empty ones if none were given); None for an unknown subject."""
        if self.db().execute("SELECT 1 FROM subjects WHERE id = ?", [subject_id]).fetchone() is None:
            return None
        known = self._demographics_json(subject_id)
        born = known.get("date_of_birth")
        return Demographics(
            name=known.get("name"),
            sex=known.get("sex"),
            race=known.get("race"),
            date_of_birth=date.fromisoformat(born) if born else None,
            place_of_birth=known.get("place_of_birth"),
            citizenship=tuple(known.get("citizenship", ())),
        )

    def record(self, subject_id: str) -> tuple[RecordEntry, ...]:
        """The subject's record entries, oldest first."""
        entries = sorted(self._entries(subject_id), key=lambda found: (found[1].date, found[0]))
        return tuple(entry for _, entry in entries)

    def record_summary(self, subject_id: str) -> dict[str, Any] | None:
        """Demographics, galleries, record entries and offence level of a subject, JSON-ready;
        no biometric data. None for an unknown subject."""
        person = self.demographics(subject_id)
        if person is None:
            return None
        entries = self.record(subject_id)
        return {
            "subject_id": subject_id,
            **_demographics_fields(person),
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

    # --- internals ---------------------------------------------------------------------------

    def _demographics_json(self, subject_id: str) -> dict[str, Any]:
        row = self.db().execute("SELECT demographics FROM subjects WHERE id = ?", [subject_id]).fetchone()
        return (self.open_json(DEMOGRAPHICS.where, subject_id, row[0]) if row else None) or {}

    def _entries(self, subject_id: str) -> list[tuple[int, RecordEntry]]:
        """The subject's record entries with their row ids, in storage order."""
        rows = self.db().execute(
            "SELECT id, entry FROM record_entries WHERE subject_id = ? ORDER BY id", [subject_id]
        )
        found = []
        for row_id, envelope in rows.fetchall():
            entry = self.open_json(RECORD.where, f"{subject_id}:{row_id}", envelope)
            found.append((row_id, RecordEntry(**{**entry, "date": date.fromisoformat(entry["date"])})))
        return found


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


def _template_identity(subject_id: str, position: int, impression: str) -> str:
    """A template's row in its envelopes' context (``gallery_schema.TEMPLATE.identity``)."""
    return f"{subject_id}:{position}:{impression}"


def _demographics_fields(person: Demographics) -> dict[str, Any]:
    """Every demographic field, JSON-ready (None or [] where not known)."""
    return {
        "name": person.name,
        "sex": person.sex,
        "race": person.race,
        "date_of_birth": person.date_of_birth.isoformat() if person.date_of_birth else None,
        "place_of_birth": person.place_of_birth,
        "citizenship": list(person.citizenship),
    }


def _demographics_json(person: Demographics) -> dict[str, Any]:
    """The demographics given (None and empty fields left out), as sealed in ``subjects``."""
    return {name: value for name, value in _demographics_fields(person).items() if value not in (None, [])}


def _entry_key(entry: RecordEntry) -> tuple[object, ...]:
    """What makes a record entry the same one again (version 1 had it as a UNIQUE constraint)."""
    return (entry.date, entry.offence, entry.category, entry.disposition)


def _entry_json(entry: RecordEntry) -> dict[str, Any]:
    return {
        "date": entry.date.isoformat(),
        "offence": entry.offence,
        "category": entry.category.value,
        "disposition": entry.disposition.value,
        "sentence_days": entry.sentence_days,
        "code": entry.code,
    }


def _entry_summary(entry: RecordEntry) -> dict[str, Any]:
    return {**_entry_json(entry), "level": entry_level(entry)}


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
