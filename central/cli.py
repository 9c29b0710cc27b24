"""Command line of the central service: ``livescan central ...`` and ``livescan pki ...``.

Every command that opens the centre's data takes ``--key-file`` (default ``DATA/central.key``,
created 0600 on first use; ``central.sealed_store``); ``livescan central key rotate`` adds a key
and re-seals the stored data under it.

Registered into the ``livescan`` command by the station CLI (``from central.cli import central,
pki``); ``python -m central`` runs the ``central`` group alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from central.audit_heads_cli import audit_heads
from central.cli_options import existing_data_option, key_file_option
from central.db import DATABASE_FILE, Database, SchemaError
from central.enrol_cli import enroll
from central.galleries import GALLERY_FILE, GalleryDatabase
from central.gallery_schema import GallerySchemaError
from central.matching import DEFAULT_MATCHER, MatcherUnavailable, load_matcher
from central.notifications import DELIVERED, FAILED, PENDING, NotificationStore
from central.pki import PkiError, PkiLayout, StationName, init_pki
from central.sealed_store import KEY_FILE, CentralKeyError
from sync.backoff import Backoff
from sync.keyring import KeyFile, KeyFileError, rotate_key_file
from sync.sealing import SealError

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.group(context_settings=CONTEXT)
def central() -> None:
    """The central matching service: intake over mutual TLS, search, answers, notifications."""


@central.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8443,
    show_default=True,
    help="0 picks a free port; the URL is printed once the service is ready",
)
@click.option(
    "--pki",
    "pki_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="directory made by `livescan pki init` (ca.pem, server.pem, server.key)",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="data directory (central.db, galleries.db)",
)
@key_file_option()
@click.option("--webhook", metavar="URL", help="where immigration-hit notifications are POSTed")
@click.option(
    "--webhook-ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CA bundle for an https webhook (default: the system's)",
)
@click.option(
    "--webhook-retry-base",
    type=click.FloatRange(min=0.001),
    default=2.0,
    show_default=True,
    help="seconds; retry n waits up to base x 2^(n-1), full jitter",
)
@click.option(
    "--webhook-retry-cap",
    type=click.FloatRange(min=0.001),
    default=900.0,
    show_default=True,
    help="seconds; the longest wait between two delivery attempts",
)
@click.option(
    "--matching",
    type=click.Choice(["on", "off"]),
    default="on",
    show_default=True,
    help="off: accept and store transactions only; they stay pending until a start with matching on",
)
@click.option(
    "--matcher",
    default=DEFAULT_MATCHER,
    show_default=True,
    hidden=True,
    help="module:factory building the matcher from the data directory (tests use a fake)",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="searches run at the same time",
)
def serve(
    host: str, port: int, pki_dir: Path, data_dir: Path, key_file: Path | None, webhook: str | None,
    webhook_ca: Path | None,
    webhook_retry_base: float, webhook_retry_cap: float, matching: str, matcher: str, workers: int,
) -> None:  # fmt: skip
    """Serve the API over mutual TLS (client certificates from the site CA only)."""
    from central.server import serve as run_server  # uvicorn and FastAPI load only for this command
    from central.service import ServiceConfig

    layout = PkiLayout(pki_dir)
    missing = layout.missing_for_server()
    if missing:
        raise click.ClickException(f"{', '.join(map(str, missing))} missing; run `livescan pki init` first")
    try:
        backoff = Backoff(webhook_retry_base, webhook_retry_cap)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--webhook-retry-base/--webhook-retry-cap") from None
    try:
        config = ServiceConfig(
            data_dir=data_dir,
            key_file=key_file,
            matcher=load_matcher(matcher, data_dir, key_file) if matching == "on" else None,
            webhook=webhook,
            webhook_verify=str(webhook_ca) if webhook_ca else True,
            backoff=backoff,
            workers=workers,
        )
        run_server(config, layout, host, port)
    except MatcherUnavailable as exc:
        raise click.ClickException(f"{exc}; start with --matching off to accept transactions only") from None
    except (SchemaError, GallerySchemaError, CentralKeyError) as exc:
        raise click.ClickException(str(exc)) from None


@central.group("notifications")
def notifications() -> None:
    """Immigration-hit notifications and their delivery."""


@notifications.command("ls")
@existing_data_option
@key_file_option()
@click.option("--status", type=click.Choice([PENDING, DELIVERED, FAILED]), help="only this state")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
def notifications_ls(
    data_dir: Path, key_file: Path | None, status: str | None, limit: int, as_json: bool
) -> None:
    """List notifications, newest first (states only: payloads hold personal data)."""
    try:
        database = Database(data_dir, keys=key_file)
    except (SchemaError, CentralKeyError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        rows = NotificationStore(database).recent(status=status, limit=limit)
    finally:
        database.close()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.as_dict()))
        return
    if not rows:
        click.echo("no notifications")
        return
    click.echo(
        f"{'ID':>5}  {'TCN':<36}  {'ORI':<9}  {'STATUS':<9}  {'TRIES':>5}  {'CREATED':<24}  LAST ERROR"
    )
    for row in rows:
        click.echo(
            f"{row.id:>5}  {row.tcn:<36}  {row.ori:<9}  {row.status:<9}  {row.attempts:>5}  "
            f"{row.created_at:<24}  {row.last_error or ''}"
        )


@central.group("key")
def key() -> None:
    """The key file sealing the centre's personal and biometric data (AES-256-GCM)."""


@key.command("rotate")
@existing_data_option
@key_file_option(exists=True)
def key_rotate(data_dir: Path, key_file: Path | None) -> None:
    """Add a new key, make it the active one and re-seal everything in DATA under it.

    Safe while the service runs (it picks the new key up at its next write); the old keys stay in
    the file so that nothing becomes unreadable. Back the key file up afterwards.
    """
    path = key_file or data_dir / KEY_FILE
    try:
        ring = rotate_key_file(path)
        counts = {}
        for name, store in ((DATABASE_FILE, Database), (GALLERY_FILE, GalleryDatabase.in_directory)):
            if name == GALLERY_FILE and not (data_dir / GALLERY_FILE).exists():
                continue
            opened = store(data_dir, keys=KeyFile(path))
            try:
                counts[name] = opened.reseal()
            finally:
                opened.close()
    except (KeyFileError, CentralKeyError, SealError, SchemaError, GallerySchemaError) as exc:
        raise click.ClickException(str(exc)) from None
    sealed = ", ".join(f"{name} {count}" for name, count in counts.items())
    click.echo(f"active key {ring.active_id}; envelopes re-sealed: {sealed}; back up {path}")


@click.group(context_settings=CONTEXT)
def pki() -> None:
    """Certificates for mutual TLS between stations and the central service."""


@pki.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--site", default="demo", show_default=True, help="organisation name in the CA and server")
@click.option(
    "--station",
    "stations",
    multiple=True,
    metavar="ORI:STATION_ID",
    help="a station certificate, e.g. NY0303000:K01 (repeat for more)",
)
@click.option(
    "--operator",
    "operators",
    multiple=True,
    metavar="NAME",
    help="an operator certificate (lists notifications); repeat for more",
)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="NAME",
    help="another name or address of the server (127.0.0.1 and localhost always)",
)
@click.option("--days", type=click.IntRange(min=1), default=365, show_default=True, help="validity")
@click.option("--force", is_flag=True, help="replace an existing PKI in DIRECTORY")
def pki_init(
    directory: Path, site: str, stations: tuple[str, ...], operators: tuple[str, ...], hosts: tuple[str, ...],
    days: int, force: bool,
) -> None:  # fmt: skip
    """Create a CA, the server certificate and one client certificate per station and operator."""
    try:
        written = init_pki(
            directory,
            stations=[StationName.parse(text) for text in stations],
            operators=operators,
            site=site,
            hosts=hosts,
            days=days,
            force=force,
        )
    except PkiError as exc:
        raise click.ClickException(str(exc)) from None
    for path in written:
        click.echo(path)


central.add_command(enroll)
central.add_command(audit_heads)
