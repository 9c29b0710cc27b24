"""``livescan queue ...``: the outbox for technicians.

    livescan queue ls [--state dead] [--json]     what is queued, sent, answered, stuck
    livescan queue show TCN [--json]              one booking's delivery, answers and audit trail
    livescan queue retry TCN                      send a dead item again (attempts start over)
    livescan queue dead [--json]                  dead letters and rejections, with their reasons
    livescan queue purge [TCN ...]                retention now; or destroy dead/rejected payloads
    livescan queue key init | rotate | retire     the outbox's encryption key file

Registered into ``livescan`` by the station CLI (``from station.queue_cli import queue``). The
database and key file come from ``--db``/``--key-file`` or ``LIVESCAN_OUTBOX``/``LIVESCAN_OUTBOX_KEY``
(opened through ``station.outbox_access``). Listings show metadata only; reading a rejection's
messages is an audited access under the user's name.
"""

from __future__ import annotations

import getpass
import json
from datetime import timedelta
from pathlib import Path

import click

from station.outbox_access import Paths, opened, pass_paths, path_options
from sync.keyring import KeyFileError, create_key_file, retire_keys, rotate_key_file
from sync.lock import OutboxBusy, OwnerLock
from sync.outbox import DEAD, MEANING, REJECTED, STATES, OutboxItem

CONTEXT = {"help_option_names": ["-h", "--help"]}
DEFAULT_RETENTION_DAYS = 30


@click.group("queue", context_settings=CONTEXT)
@path_options("the outbox database")
@click.pass_context
def queue(context: click.Context, database: Path, key_file: Path) -> None:
    """The station's outbox: bookings waiting for, sent to and answered by the centre."""
    context.obj = Paths(database, key_file)


@queue.command("ls")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES), help="only these (repeat)")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
@pass_paths
def queue_ls(paths: Paths, states: tuple[str, ...], limit: int, as_json: bool) -> None:
    """List bookings, oldest first, with their delivery state."""
    with opened(paths) as outbox:
        items = outbox.items(states or STATES, limit)
        counts = outbox.counts()
    if as_json:
        for item in items:
            click.echo(json.dumps(item.as_dict()))
        return
    click.echo("  ".join(f"{state} {count}" for state, count in counts.items()))
    _table(items)


@queue.command("dead")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
@pass_paths
def queue_dead(paths: Paths, as_json: bool) -> None:
    """Dead letters (delivery gave up) and rejections (the centre refused), with their reasons."""
    with opened(paths) as outbox:
        items = outbox.items((DEAD, REJECTED), 100_000)
    if as_json:
        for item in items:
            click.echo(json.dumps(item.as_dict()))
        return
    if not items:
        click.echo("no dead or rejected bookings")
        return
    _table(items)
    click.echo(f"\n{MEANING[DEAD]}\n{MEANING[REJECTED]}")


@queue.command("show")
@click.argument("tcn")
@click.option("--json", "as_json", is_flag=True)
@pass_paths
def queue_show(paths: Paths, tcn: str, as_json: bool) -> None:
    """One booking: delivery state, receipt, answers stored, rejection messages, audit trail."""
    with opened(paths) as outbox:
        item = outbox.item(tcn)
        if item is None:
            raise click.ClickException(f"no booking {tcn} in the outbox")
        problems = outbox.problems(tcn, getpass.getuser()) if item.state == REJECTED else None
        trail = outbox.audit_trail(tcn)
    if as_json:
        document = {**item.as_dict(), "problems": problems, "audit": [entry.as_dict() for entry in trail]}
        click.echo(json.dumps(document))
        return
    for name, value in item.as_dict().items():
        shown = json.dumps(value) if isinstance(value, dict | list | tuple) else value
        click.echo(f"{name.replace('_', ' '):>17}: {'' if shown is None else shown}")
    click.echo(f"{'meaning':>17}: {MEANING[item.state]}")
    for problem in problems or []:
        click.echo(f"{'problem':>17}: {problem.get('field', '?')}: {problem.get('message', '')}")
    click.echo("audit:")
    for entry in trail:
        click.echo(
            f"  {entry.at}  {entry.actor:<12} {entry.event}{f' ({entry.detail})' if entry.detail else ''}"
        )


@queue.command("retry")
@click.argument("tcn")
@pass_paths
def queue_retry(paths: Paths, tcn: str) -> None:
    """Send a dead item again, its attempts and age starting over (fix the cause first)."""
    with opened(paths) as outbox:
        outbox.retry(tcn, getpass.getuser())
    click.echo(f"{tcn} queued again; the station sends it within a minute")


@queue.command("purge")
@click.argument("tcns", nargs=-1, metavar="[TCN]...")
@click.option(
    "--retention-days", type=click.IntRange(min=0), default=DEFAULT_RETENTION_DAYS, show_default=True,
    help="without TCNs: destroy the payloads answered more than this many days ago",
)  # fmt: skip
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@pass_paths
def queue_purge(paths: Paths, tcns: tuple[str, ...], retention_days: int, yes: bool) -> None:
    """Destroy biometric payloads: past retention, or of the dead/rejected TCNs named.

    Transaction bytes and booking details are overwritten and the file compacted; TCN, states,
    times, answers and the audit trail are kept.
    """
    actor = getpass.getuser()
    with opened(paths) as outbox:
        if not tcns:
            destroyed = outbox.purge_expired(timedelta(days=retention_days), actor)
            click.echo(
                f"destroyed the payloads of {len(destroyed)} booking(s) answered {retention_days}+ days ago"
            )
            return
        if not yes:
            click.confirm(
                f"Destroy the payloads of {len(tcns)} booking(s)? This cannot be undone", abort=True
            )
        for tcn in tcns:
            outbox.purge(tcn, actor)
            click.echo(f"{tcn}: payload destroyed")


@queue.group("key")
def key() -> None:
    """The key file that seals the outbox's personal data (AES-256-GCM)."""


@key.command("init")
@pass_paths
def key_init(paths: Paths) -> None:
    """Create the key file (mode 0600); an existing one is never overwritten."""
    try:
        ring = create_key_file(paths.key_file)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{paths.key_file}: key {ring.active_id}; back this file up, the queue cannot be read without it"
    )


@key.command("rotate")
@pass_paths
def key_rotate(paths: Paths) -> None:
    """Add a new key, make it the active one and re-seal everything stored under it."""
    try:
        ring = rotate_key_file(paths.key_file)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    with opened(paths) as outbox:
        count = outbox.reseal(getpass.getuser())
    click.echo(
        f"active key {ring.active_id}; {count} envelope(s) re-sealed (`queue key retire` drops old keys)"
    )


@key.command("retire")
@pass_paths
def key_retire(paths: Paths) -> None:
    """Remove the keys no stored envelope uses (with the station daemon stopped)."""
    lock = OwnerLock(paths.database)
    try:
        lock.acquire()
    except OutboxBusy as exc:
        raise click.ClickException(f"{exc}; stop the station daemon first (it may hold an old key)") from None
    try:
        with opened(paths) as outbox:
            removed = retire_keys(paths.key_file, outbox.key_ids_in_use())
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        lock.release()
    click.echo(f"removed key(s): {', '.join(removed)}" if removed else "no key to remove")


def _table(items: list[OutboxItem]) -> None:
    click.echo(f"{'TCN':<36}  {'STATE':<12}  {'TRIES':>5}  {'CREATED':<24}  {'NEXT ATTEMPT':<24}  LAST ERROR")
    for item in items:
        waiting = item.next_attempt_at if item.state in ("queued", "accepted") else ""
        click.echo(
            f"{item.tcn:<36}  {item.state:<12}  {item.attempts:>5}  {item.created_at:<24}  {waiting:<24}  "
            f"{item.last_error or ''}"
        )
