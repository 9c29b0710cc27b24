"""The centre's databases at rest: personal and biometric columns hold AES-256-GCM envelopes.

Both of the centre's files (``central.db``: transactions, answers, notifications;
``galleries.db``: demographics, criminal records, templates) are a ``SealedStore``: the shared
SQLite file of ``sync.sqlite_store`` plus the station's envelope code (``sync.sealing``,
``sync.keyring``) under one key file for the whole data directory, ``DIR/central.key`` (mode
0600, JSON, key ids; ``livescan central key rotate`` adds a key and re-seals everything).

* Each envelope's associated data names its table, column and row (``transactions.body:<TCN>``,
  ``templates.template:<subject>:<finger>:<impression>``, ...): an envelope copied into another
  row or column does not open (``SealError``).
* Ids, TCNs, states, times, gallery membership and finger positions stay plain, so that every
  query and index still works; nothing else about a person does.
* The key file is created on first use, when the database holds nothing sealed yet. A database
  that does hold sealed data refuses to start without its key, or with another key
  (``CentralKeyError``, which says what to do), checked at once against a sealed marker in the
  ``keycheck`` table rather than at the first search.
* Databases written before sealing (schema version 1) are sealed by migration 2 when they are
  first opened with a key: in one transaction per file, then the file and its WAL are compacted
  so that no plaintext page is left behind.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from sync.keyring import KeyFile, KeyFileError, KeyRing, UnknownKey, create_key_file, load_key_ring
from sync.sealing import HEADER_BYTES, Sealer, SealError, envelope_key_id
from sync.sqlite_store import MigrationLike, SqliteStore

log = logging.getLogger(__name__)
KEY_FILE = "central.key"
KEY_FILE_HELP = (
    "key file sealing the personal and biometric data, mode 0600 [default: {default}, created on first "
    "use; back it up: the data cannot be read without it]"
)
SEALING_VERSION = 2  # the migration of both files that seals what version 1 stored in plaintext
KEYCHECK = b"livescan central keycheck"
KEYCHECK_TABLE = """
    CREATE TABLE keycheck (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        envelope BLOB NOT NULL              -- KEYCHECK sealed: proves the key file opens this file
    ) STRICT
"""
Keys = KeyFile | KeyRing | Path | str | None


class CentralKeyError(Exception):
    """The centre's key file is missing, unsafe or not the one its data is sealed under; the message
    says what to do."""


@dataclass(frozen=True)
class SealedColumn:
    """A column of envelopes; ``identity`` is the SQL expression naming its row in the context."""

    table: str
    column: str
    identity: str

    @property
    def where(self) -> str:
        return f"{self.table}.{self.column}"


def context(where: str, identity: str) -> str:
    """The associated data of an envelope: ``table.column:row``."""
    return f"{where}:{identity}"


MigrationFactory = Callable[[Sealer], Sequence[MigrationLike]]


class SealedStore(SqliteStore):
    """A database whose ``sealed`` columns hold envelopes under the key file ``keys`` (default:
    ``central.key`` beside the database), migrated with ``migrations(sealer)``."""

    def __init__(
        self,
        path: Path,
        keys: Keys,
        *,
        migrations: MigrationFactory,
        sealed: Sequence[SealedColumn],
        label: str,
        error: type[Exception],
    ) -> None:
        super().__init__(path, label=label, error=error)
        self.sealed = (*sealed, SealedColumn("keycheck", "envelope", "id"))
        try:
            self.keys = self._key_source(keys)
            self.sealer = Sealer(self.keys)
            applied = self.migrate(migrations(self.sealer))
            if SEALING_VERSION in applied and 1 not in applied and not self.compact():
                # plaintext pages of version 1 must not outlive the migration
                log.warning("%s: sealed, but a reader kept its WAL busy; old frames go as it is reused", path)
            self._check_key()
        except BaseException:
            self.close()
            raise

    # --- sealing -----------------------------------------------------------------------------

    def seal(self, where: str, identity: str, plaintext: bytes) -> bytes:
        return self.sealer.seal(plaintext, context(where, identity))

    def open(self, where: str, identity: str, envelope: bytes) -> bytes:
        return self.sealer.open(envelope, context(where, identity))

    def opener(self) -> Callable[[str, str, bytes], bytes]:
        """``open`` with the keys read once, for bulk reads (an index load): no check of the key
        file per envelope."""
        sealer = Sealer(self.sealer.ring())
        return lambda where, identity, envelope: sealer.open(envelope, context(where, identity))

    def seal_json(self, where: str, identity: str, value: Any) -> bytes:
        return self.seal(where, identity, json_bytes(value))

    def open_json(self, where: str, identity: str, envelope: bytes | None) -> Any:
        return None if envelope is None else json.loads(self.open(where, identity, envelope))

    # --- keys ----------------------------------------------------------------------------------

    def key_ids_in_use(self) -> set[str]:
        """The ids of the keys some stored envelope was sealed under."""
        found: set[str] = set()
        for column in self.sealed:
            rows = self.db().execute(
                f"SELECT substr({column.column}, 1, {HEADER_BYTES}) FROM {column.table} "
                f"WHERE {column.column} IS NOT NULL"
            )
            found.update(envelope_key_id(head) for (head,) in rows)
        return found

    def reseal(self, batch: int = 200) -> int:
        """Seal every envelope not under the active key again under it (after a rotation); how many."""
        active = self.sealer.ring().active_id
        count = 0
        for column in self.sealed:
            last, more = -1, True
            while more:
                with self.write() as db:  # read and rewrite in one transaction: no lost update
                    rows = db.execute(
                        f"SELECT rowid, {column.identity}, {column.column} FROM {column.table} "
                        f"WHERE rowid > ? AND {column.column} IS NOT NULL ORDER BY rowid LIMIT ?",
                        [last, batch],
                    ).fetchall()
                    for rowid, identity, envelope in rows:
                        if envelope_key_id(envelope) == active:
                            continue
                        fresh = self.seal(
                            column.where, str(identity), self.open(column.where, str(identity), envelope)
                        )
                        db.execute(
                            f"UPDATE {column.table} SET {column.column} = ? WHERE rowid = ?", [fresh, rowid]
                        )
                        count += 1
                more = len(rows) == batch
                last = rows[-1][0] if rows else last
        if count:
            try:
                self.compact()  # the envelopes under the old key go from the file and its WAL too
            except sqlite3.OperationalError as exc:
                log.warning(
                    "%s: not compacted after re-sealing (%s); old pages go as they are reused", self.path, exc
                )
        return count

    def _key_source(self, keys: Keys) -> KeyFile | KeyRing:
        if isinstance(keys, KeyFile | KeyRing):
            return keys
        path = Path(keys) if keys is not None else self.path.parent / KEY_FILE
        if not path.exists():
            sealed_under = self._keycheck_key_id()
            if sealed_under is not None:
                raise CentralKeyError(
                    f"no key file at {path}, but {self.path} is sealed under key {sealed_under}: restore "
                    "the key file from its backup (or pass the right one with --key-file); a new key "
                    "cannot open the stored data"
                )
            try:
                ring = create_key_file(path)
                log.warning(
                    "created the key file %s (key %s): back it up with the data", path, ring.active_id
                )
            except KeyFileError:
                if not path.exists():  # another process may have created it a moment ago: use that one
                    raise
        try:
            load_key_ring(path)
            return KeyFile(path)
        except KeyFileError as exc:
            raise CentralKeyError(f"the centre's key file cannot be used: {exc}") from None

    def _keycheck_key_id(self) -> str | None:
        db = self.db()
        if not db["keycheck"].exists():
            return None
        row = db.execute("SELECT substr(envelope, 1, ?) FROM keycheck", [HEADER_BYTES]).fetchone()
        return None if row is None else envelope_key_id(row[0])

    def _check_key(self) -> None:
        row = self.db().execute("SELECT envelope FROM keycheck WHERE id = 1").fetchone()
        if row is None:
            with self.write() as db:
                db.execute(
                    "INSERT INTO keycheck (id, envelope) VALUES (1, ?) ON CONFLICT (id) DO NOTHING",
                    [self.seal("keycheck.envelope", "1", KEYCHECK)],
                )
            return
        try:
            opened = self.open("keycheck.envelope", "1", row[0])
        except UnknownKey as exc:
            raise CentralKeyError(
                f"{self.path} is sealed under key {exc.key_id}, which the key file "
                f"{self.keys.path} does not hold: start with the key file this data was sealed "
                "under (--key-file), or restore it from its backup"
            ) from None
        except (SealError, KeyFileError) as exc:
            raise CentralKeyError(
                f"the key file {self.keys.path} does not open {self.path} ({exc}): start with the "
                "key file this data was sealed under (--key-file), or restore it from its backup"
            ) from None
        if opened != KEYCHECK:
            raise CentralKeyError(f"{self.path}: the key check holds something else; the file was altered")


def seal_existing(
    db: sqlite_utils.Database, sealer: Sealer, column: SealedColumn, *, into: str | None = None
) -> int:
    """Migration step: seal the plaintext of ``column`` into the column ``into`` (default: itself),
    under ``column``'s context; the number of rows sealed."""
    rows = db.execute(
        f"SELECT rowid, {column.identity}, {column.column} FROM {column.table} "
        f"WHERE {column.column} IS NOT NULL"
    ).fetchall()
    for rowid, identity, value in rows:
        plaintext = value.encode("utf-8") if isinstance(value, str) else value
        db.execute(
            f"UPDATE {column.table} SET {into or column.column} = ? WHERE rowid = ?",
            [sealer.seal(plaintext, context(column.where, str(identity))), rowid],
        )
    return len(rows)


def replace_column(db: sqlite_utils.Database, table: str, column: str, sealed: str) -> None:
    """Migration step: drop the plaintext ``column`` and give its name to the ``sealed`` one."""
    db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    db.execute(f"ALTER TABLE {table} RENAME COLUMN {sealed} TO {column}")


def json_bytes(value: Any) -> bytes:
    """``value`` as compact, key-sorted JSON: what a sealed JSON column holds."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")
