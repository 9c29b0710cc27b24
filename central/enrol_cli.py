"""``livescan central enroll``: fill the galleries. Register with ``central.add_command(enroll)``.

    livescan central enroll --synthetic 100 --db DATA/galleries.db [--seed 0] [--key-file KEY]
    livescan central enroll --folder PRINTS/S0042 --db DATA/galleries.db --gallery criminal

Prints one JSON line with what was enrolled. Demographics, records and templates are sealed under
the key file (default ``central.key`` beside the database, created on first use), the one
``livescan central serve`` must be given for the same data directory.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from central.enrol import NoUsablePrints, enrol_image_folder, enroll_synthetic
from central.galleries import Gallery, GalleryDatabase, InvalidSubjectId
from central.gallery_schema import GallerySchemaError
from central.sealed_store import KEY_FILE, KEY_FILE_HELP, CentralKeyError


@click.command("enroll")
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="gallery database (created if missing), e.g. DATA/galleries.db",
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=KEY_FILE_HELP.format(default=f"{KEY_FILE} beside the database"),
)
@click.option(
    "--synthetic",
    type=click.IntRange(min=1),
    metavar="N",
    help="synthetic population S0001..SN (80 % enrolled, see central.gallery_synthetic)",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="synthetic print seed; the simulator must use the same one",
)
@click.option(
    "--impressions",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="synthetic impressions enrolled per finger (indices 0, 1, ...; captures use 1000 and up)",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="processes rendering and extracting synthetic prints [default: one per CPU]",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="synthetic master cache [default: $LIVESCAN_CACHE/synthetic or ~/.cache/livescan/synthetic]",
)
@click.option(
    "--folder",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="one subject's prints, files <finger position>[_<n>].png|tif|...",
)
@click.option("--subject", "subject_id", help="subject id for --folder [default: the folder name]")
@click.option(
    "--gallery",
    "galleries",
    multiple=True,
    type=click.Choice([g.value for g in Gallery]),
    help="gallery for --folder (repeat for both) [default: criminal]",
)
def enroll(
    db_path: Path,
    key_file: Path | None,
    synthetic: int | None,
    seed: int,
    impressions: int,
    workers: int | None,
    cache_dir: Path | None,
    folder: Path | None,
    subject_id: str | None,
    galleries: tuple[str, ...],
) -> None:
    """Enrol subjects into the criminal and immigration galleries."""
    if (synthetic is None) == (folder is None):
        raise click.UsageError("give exactly one of --synthetic N or --folder DIR")
    try:
        database = GalleryDatabase(db_path, keys=key_file)
    except (CentralKeyError, GallerySchemaError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if synthetic is not None:

            def progress(done: int, total: int) -> None:
                click.echo(f"enrolled {done}/{total}", err=True)

            report = asdict(
                enroll_synthetic(
                    database,
                    synthetic,
                    seed,
                    impressions=impressions,
                    workers=workers,
                    cache_dir=cache_dir,
                    progress=progress,
                )
            )
            report["not_enrolled"] = len(report["not_enrolled"])
        else:
            assert folder is not None
            try:
                result = enrol_image_folder(
                    database, folder, galleries=galleries or (Gallery.CRIMINAL,), subject_id=subject_id
                )
            except (NoUsablePrints, InvalidSubjectId) as exc:
                raise click.ClickException(str(exc)) from None
            report = {
                "subject_id": result.subject_id,
                "galleries": sorted(g.value for g in result.galleries),
                "templates": len(result.enrolled),
                "skipped": [{"what": what, "why": why} for what, why in result.skipped],
            }
        counts = database.counts()
        report["database"] = {"subjects": counts.subjects, **counts.members, "templates": counts.templates}
        click.echo(json.dumps(report))
    finally:
        database.close()
