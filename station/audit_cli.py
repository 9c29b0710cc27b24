"""``livescan audit ...``: the station's hash-chained audit log for technicians and auditors.

    livescan audit verify [--anchor HASH]           walk the chain; exit 1 naming the first bad entry
    livescan audit export [--since DATE] [--out F]  every entry as JSON lines (stdout, or a file)

The database and key file come from ``--db``/``--key-file`` or ``LIVESCAN_OUTBOX``/
``LIVESCAN_OUTBOX_KEY``, as for ``livescan queue``: the chain is keyed with the outbox key, so
verifying needs the key file. Keep the head that ``verify`` prints somewhere off the station and
pass it as ``--anchor`` later: that also catches entries cut off the end of the log.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from station.outbox_access import Paths, opened, pass_paths, path_options
from station.queue_cli import CONTEXT
from sync.outbox.audit import since_timestamp


@click.group("audit", context_settings=CONTEXT)
@path_options("the outbox database (holds the audit log)")
@click.pass_context
def audit(context: click.Context, database: Path, key_file: Path) -> None:
    """The station's audit log: sign-ins, captures, overrides, submissions, reads, purges."""
    context.obj = Paths(database, key_file)


@audit.command("verify")
@click.option("--anchor", metavar="HASH", help="a head printed earlier: the log must still contain it")
@pass_paths
def audit_verify(paths: Paths, anchor: str | None) -> None:
    """Check every entry's MAC and link; exit 1 naming the first entry altered, deleted or moved."""
    with opened(paths) as outbox:
        report = outbox.verify_audit(anchor=anchor)
    if not report.ok:
        raise click.ClickException(
            f"{report.summary()}. Keep the database as it is for investigation; "
            "`livescan audit export` shows the entries"
        )
    click.echo(report.summary())


@audit.command("export")
@click.option("--since", metavar="DATE", help="only entries at or after this date or time (UTC if no offset)")
@click.option(
    "--out", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="write here, not stdout"
)
@pass_paths
def audit_export(paths: Paths, since: str | None, out: Path | None) -> None:
    """Every entry, oldest first, as JSON lines with its chain columns (no personal data)."""
    try:
        start = since_timestamp(since) if since else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    with opened(paths) as outbox:
        if out is None:
            count = outbox.export_audit(sys.stdout, start)
        else:
            with out.open("w", encoding="utf-8") as handle:
                count = outbox.export_audit(handle, start)
        report = outbox.verify_audit()
    where = f" to {out}" if out else ""
    click.echo(f"{count} entries exported{where}; {report.summary()}", err=True)
