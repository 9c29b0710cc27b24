"""The outbox as technician commands open it (``livescan queue``, ``livescan audit``).

    with opened(Paths(database, key_file)) as outbox:
        ...

``Paths`` names the database and the key file (defaults: the installed station's); ``opened``
opens the existing outbox for one command and turns outbox, key-file and envelope errors into
``click.ClickException`` (a message and exit status 1, no traceback); the outbox is closed after.
``init_command`` is the command that creates a missing key file, which key-file errors offer.
``path_options`` gives a command group ``--db``/``--key-file``; it keeps them as its ``Paths``,
which ``pass_paths`` hands to its commands.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


pass_paths = click.make_pass_decorator(Paths)


def path_options(database_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--db`` (``LIVESCAN_OUTBOX``) and ``--key-file`` (``LIVESCAN_OUTBOX_KEY``) for a command group
    that keeps them as ``Paths(database, key_file)`` in its context."""

    def decorate(group: Callable[..., Any]) -> Callable[..., Any]:
        with_key = click.option(
            "--key-file", type=click.Path(dir_okay=False, path_type=Path), envvar="LIVESCAN_OUTBOX_KEY",
            default=DEFAULT_KEY_FILE, show_default=True, help="the outbox key file (mode 0600)",
        )(group)  # fmt: skip
        return click.option(
            "--db", "database", type=click.Path(dir_okay=False, path_type=Path), envvar="LIVESCAN_OUTBOX",
            default=DEFAULT_DATABASE, show_default=True, help=database_help,
        )(with_key)  # fmt: skip

    return decorate
