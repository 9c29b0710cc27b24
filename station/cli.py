"""The `livescan` command line: a thin layer over the library packages."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="livescan-station", prog_name="livescan")
def main() -> None:
    """Livescan Station: fingerprint booking station and central matching service."""
