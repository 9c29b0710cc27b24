"""The gallery database schema (``galleries.db``), versioned with SQLite's ``user_version``.

``MIGRATIONS[n]`` takes a database from version n to n + 1; a database newer than this code is
refused. Tables:

* ``subjects``: one row per person, demographics only.
* ``memberships``: (subject, gallery) for gallery in criminal | immigration; a subject may be in both.
* ``record_entries``: the criminal record, one row per offence: date, literal, category (see
  ``central.levels``), disposition convicted | charged, imposed sentence in days, source code.
* ``templates``: one ISO/IEC 19794-2:2011 template per (subject, finger position, impression),
  with the NFIQ 2 of its image, the minutiae count and ``prefilter``, the same template cut to its
  most reliable minutiae for the search's first stage (derived; rebuilt when the cut changes).
* ``meta``: ``generation`` (bumped by every enrolment, so a matcher knows to reload) and
  ``prefilter_minutiae`` (the cut the stored prefilter templates were made with).
"""

from __future__ import annotations

import sqlite_utils

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1
    """
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
        template BLOB NOT NULL,
        prefilter BLOB NOT NULL,
        nfiq2 INTEGER CHECK (nfiq2 IS NULL OR nfiq2 BETWEEN 0 AND 100),
        minutiae INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (subject_id, position, impression)
    ) STRICT;
    CREATE INDEX templates_subject ON templates (subject_id);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class GallerySchemaError(RuntimeError):
    """The gallery database was written by a newer version of the centre."""


def schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite_utils.Database, *, label: str) -> None:
    """Bring ``db`` to SCHEMA_VERSION, one migration per transaction."""
    version = schema_version(db)
    if version > SCHEMA_VERSION:
        raise GallerySchemaError(
            f"{label} has gallery schema version {version}; this centre knows up to {SCHEMA_VERSION}"
        )
    for number in range(version, SCHEMA_VERSION):
        with db.atomic():
            for statement in _statements(MIGRATIONS[number]):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";") if statement.strip()]
