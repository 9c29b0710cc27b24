"""Click options shared by the centre's commands (``central.cli`` and the command modules it adds)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from central.sealed_store import KEY_FILE, KEY_FILE_HELP

F = TypeVar("F", bound=Callable[..., Any])


def key_file_option(*, exists: bool = False) -> Callable[[F], F]:
    """``--key-file``: the key sealing the centre's data (default: ``DATA/central.key``)."""
    return click.option(
        "--key-file",
        type=click.Path(exists=exists, dir_okay=False, path_type=Path),
        help=KEY_FILE_HELP.format(default="DATA/" + KEY_FILE),
    )


existing_data_option = click.option(
    "--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True
)
