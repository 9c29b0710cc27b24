"""The outbox as technician commands open it (``livescan queue``, ``livescan audit``).

    with opened(Paths(database, key_file)) as outbox:
        ...

``Paths`` names the database and the key file (defaults: the installed station's); ``opened``
opens the existing outbox for one command and turns outbox, key-file and envelope errors into
``click.ClickException`` (a message and exit status 1, no traceback); the outbox is closed after.
``init_command`` is the command that creates a missing key file, which key-file errors offer.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click

from sync.keyring import KeyFile, KeyFileError
from sync.outbox import Outbox, OutboxError
from sync.sealing import SealError

DEFAULT_DATABASE = Path("/var/lib/livescan/outbox.db")
DEFAULT_KEY_FILE = Path("/etc/livescan/outbox.key")


def init_command(key_file: Path) -> str:
    """The command line that creates the outbox key file ``key_file``."""
    return f"livescan queue --key-file {shlex.quote(str(key_file))} key init"


@dataclass(frozen=True)
class Paths:
    """The outbox database and its key file."""

    database: Path
    key_file: Path

    def open(self) -> Outbox:
        """The existing outbox (never created here); the key file is read at its first use."""
        keys = KeyFile(self.key_file, check_now=False, create_with=init_command(self.key_file))
        try:
            return Outbox(self.database, keys, create=False)
        except OutboxError as exc:
            raise click.ClickException(str(exc)) from None


@contextmanager
def opened(paths: Paths) -> Iterator[Outbox]:
    """The outbox for one command; outbox, key and seal errors become clear command errors."""
    outbox = paths.open()
    try:
        yield outbox
    except (OutboxError, KeyFileError, SealError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        outbox.close()
