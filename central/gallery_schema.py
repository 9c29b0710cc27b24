"""The gallery database schema (``galleries.db``), as recorded migrations (``sync.sqlite_store``).

Tables, as of version 2 (version 1 held the sealed columns below in plaintext; migration 2 seals
them, see ``central.sealed_store``):

* ``subjects``: one row per person: ``id``, ``source`` (where the enrolment came from),
  ``created_at`` and ``demographics``, sealed JSON with the keys of ``DEMOGRAPHIC_FIELDS``.
* ``memberships``: (subject, gallery) for gallery in criminal | immigration; a subject may be in both.
* ``record_entries``: the criminal record, one row per offence: ``subject_id`` and ``entry``,
  sealed JSON with the keys of ``RECORD_FIELDS`` (date, literal, category (see
  ``central.levels``), disposition convicted | charged, imposed sentence in days, source code).
* ``templates``: one ISO/IEC 19794-2:2011 template per (subject, finger position, impression),
  sealed, with the NFIQ 2 of its image, the minutiae count and ``prefilter``, the same template
  cut to its most reliable minutiae for the search's first stage (sealed too; derived, rebuilt
  when the cut changes).
* ``meta``: ``generation`` (bumped by every enrolment, so a matcher knows to reload) and
  ``prefilter_minutiae`` (the cut the stored prefilter templates were made with).
* ``keycheck``: proves at start that the key file opens this file.

Subject ids, gallery membership, finger positions, impression names, quality figures and times
stay plain: they are what the search and enrolment query by.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from central.sealed_store import KEYCHECK_TABLE, SealedColumn, context, json_bytes, seal_existing
from sync.sealing import Sealer
from sync.sqlite_store import Migration

DEMOGRAPHIC_FIELDS = ("name", "sex", "race", "date_of_birth", "place_of_birth", "citizenship")
RECORD_FIELDS = ("date", "offence", "category", "disposition", "sentence_days", "code")
_TEMPLATE_ROW = "subject_id || ':' || position || ':' || impression"
DEMOGRAPHICS = SealedColumn("subjects", "demographics", "id")
RECORD = SealedColumn("record_entries", "entry", "subject_id || ':' || id")
TEMPLATE = SealedColumn("templates", "template", _TEMPLATE_ROW)
PREFILTER = SealedColumn("templates", "prefilter", _TEMPLATE_ROW)
SEALED = (DEMOGRAPHICS, RECORD, TEMPLATE, PREFILTER)

_VERSION_1 = """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;
    INSERT INTO meta (key, value) VALUES ('generation', '0');
    CREATE TABLE subjects (
        id TEXT PRIMARY KEY,
        name TEXT,
        sex TEXT,
        race TEXT,
        date_of_birth TEXT,                 -- ISO date
        place_of_birth TEXT,
        citizenship TEXT NOT NULL DEFAULT '[]',  -- JSON list of codes
        source TEXT NOT NULL DEFAULT '',    -- where the enrolment came from
        created_at TEXT NOT NULL
    ) STRICT;
    CREATE TABLE memberships (
        subject_id TEXT NOT NULL REFERENCES subjects (id),
        gallery TEXT NOT NULL CHECK (gallery IN ('criminal', 'immigration')),
        enrolled_at TEXT NOT NULL,
        PRIMARY KEY (subject_id, gallery)
    ) STRICT;
    CREATE INDEX memberships_gallery ON memberships (gallery, subject_id);
    CREATE TABLE record_entries (
        id INTEGER PRIMARY KEY,
        subject_id TEXT NOT NULL REFERENCES subjects (id),
        date TEXT NOT NULL,
        offence TEXT NOT NULL,
        category TEXT NOT NULL,
        disposition TEXT NOT NULL CHECK (disposition IN ('convicted', 'charged')),
        sentence_days INTEGER CHECK (sentence_days IS NULL OR sentence_days >= 0),
        code TEXT,
        UNIQUE (subject_id, date, offence, category, disposition)
    ) STRICT;
    CREATE INDEX record_entries_subject ON record_entries (subject_id);
    CREATE TABLE templates (
        id INTEGER PRIMARY KEY,
        subject_id TEXT NOT NULL REFERENCES subjects (id),
        position INTEGER NOT NULL CHECK (position BETWEEN 1 AND 10),
        impression TEXT NOT NULL,
        template BLOB NOT NULL,             -- sealed from version 2
        prefilter BLOB NOT NULL,            -- sealed from version 2
        nfiq2 INTEGER CHECK (nfiq2 IS NULL OR nfiq2 BETWEEN 0 AND 100),
        minutiae INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (subject_id, position, impression)
    ) STRICT;
    CREATE INDEX templates_subject ON templates (subject_id);
"""

_VERSION_2 = f"""
    ALTER TABLE subjects ADD COLUMN demographics BLOB;  -- sealed JSON (DEMOGRAPHIC_FIELDS)
    CREATE TABLE sealed_record_entries (
        id INTEGER PRIMARY KEY,
        subject_id TEXT NOT NULL REFERENCES subjects (id),
        entry BLOB NOT NULL                 -- sealed JSON (RECORD_FIELDS)
    ) STRICT;
    {KEYCHECK_TABLE}
"""


class GallerySchemaError(RuntimeError):
    """The gallery database was written by a newer version of the centre."""


def migrations(sealer: Sealer) -> tuple[Migration, ...]:
    def seal_version_1(db: sqlite_utils.Database) -> None:
        _seal_subjects(db, sealer)
        _seal_record(db, sealer)
        seal_existing(db, sealer, TEMPLATE)
        seal_existing(db, sealer, PREFILTER)

    return (
        Migration("subjects, memberships, record entries, templates", _VERSION_1),
        Migration("personal data and templates sealed", _VERSION_2, seal_version_1),
    )


SCHEMA_VERSION = 2


def _seal_subjects(db: sqlite_utils.Database, sealer: Sealer) -> None:
    rows = db.execute(f"SELECT id, {', '.join(DEMOGRAPHIC_FIELDS)} FROM subjects").fetchall()
    for subject_id, *values in rows:
        found: dict[str, Any] = dict(zip(DEMOGRAPHIC_FIELDS, values, strict=True))
        found["citizenship"] = json.loads(found["citizenship"] or "[]")
        known = {name: value for name, value in found.items() if value not in (None, [])}
        if known:
            envelope = sealer.seal(json_bytes(known), context(DEMOGRAPHICS.where, subject_id))
            db.execute("UPDATE subjects SET demographics = ? WHERE id = ?", [envelope, subject_id])
    for column in DEMOGRAPHIC_FIELDS:
        db.execute(f"ALTER TABLE subjects DROP COLUMN {column}")


def _seal_record(db: sqlite_utils.Database, sealer: Sealer) -> None:
    rows = db.execute(f"SELECT id, subject_id, {', '.join(RECORD_FIELDS)} FROM record_entries").fetchall()
    for row_id, subject_id, *values in rows:
        entry = json_bytes(dict(zip(RECORD_FIELDS, values, strict=True)))
        envelope = sealer.seal(entry, context(RECORD.where, f"{subject_id}:{row_id}"))
        db.execute(
            "INSERT INTO sealed_record_entries (id, subject_id, entry) VALUES (?, ?, ?)",
            [row_id, subject_id, envelope],
        )
    db.execute("DROP TABLE record_entries")
    db.execute("ALTER TABLE sealed_record_entries RENAME TO record_entries")
    db.execute("CREATE INDEX record_entries_subject ON record_entries (subject_id)")
