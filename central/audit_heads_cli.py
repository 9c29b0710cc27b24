"""``livescan central audit-heads``: the stations' audit heads the centre keeps, to check them against.

    livescan central audit-heads --data DATA                       # each station's anchor
    livescan central audit-heads --data DATA --station NY0303000/K01 [--json]   # all its heads

Stations send their audit head with every delivery and poll, and alone when it changes
(``sync.outbox.audit``); the centre keeps each distinct one (``central.db``, table ``audit_heads``).
A station's anchor is the head with the highest entry id: an intact audit log still contains it. On
the station, a technician runs ``livescan audit verify --anchor HASH``; a failure means entries were
cut off the end of its log, or the log was chained again. ``WENT BACK`` marks a station that once
sent a head behind an earlier one. A head received after tampering verifies the tampered log: to
look further back, check older heads of the ``--station`` list (only those received since the
station's last key rotation).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from central.cli_options import existing_data_option, key_file_option
from central.db import Database, SchemaError
from central.identity import ORI_PATTERN, STATION_ID_PATTERN
from central.sealed_store import CentralKeyError

_STATION = re.compile(rf"({ORI_PATTERN.pattern})[/:]({STATION_ID_PATTERN.pattern})")


def parse_station(text: str) -> tuple[str, str]:
    """``NY0303000/K01`` (or ``NY0303000:K01``) as (ORI, station id); ``click.BadParameter`` if not."""
    found = _STATION.fullmatch(text.strip().upper())
    if found is None:
        raise click.BadParameter(
            f"{text!r} is not a station: write ORI/STATION_ID, e.g. NY0303000/K01 (9 and 2-4 capital "
            "letters or digits, as in the station's certificate)",
            param_hint="--station",
        )
    return found.group(1), found.group(2)


@click.command("audit-heads")
@existing_data_option
@key_file_option()
@click.option("--station", metavar="ORI/ID", help="every head of this station, newest first")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
def audit_heads(data_dir: Path, key_file: Path | None, station: str | None, as_json: bool) -> None:
    """List the stations' audit heads: the anchors to run `livescan audit verify --anchor` with."""
    wanted = None if station is None else parse_station(station)
    try:
        database = Database(data_dir, keys=key_file)
    except (SchemaError, CentralKeyError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if wanted is None:
            rows = [(anchor.head, anchor.as_dict(), anchor.went_back) for anchor in database.audit_anchors()]
        else:
            rows = [(head, head.as_dict(), False) for head in database.audit_heads(*wanted)]
    finally:
        database.close()
    if as_json:
        for _, row, _ in rows:
            click.echo(json.dumps(row))
        return
    if not rows:
        click.echo(f"no audit heads from {station}" if station else "no audit heads received yet")
        return
    click.echo(f"{'STATION':<14}  {'ENTRY':>7}  {'HASH':<64}  {'RECEIVED':<24}")
    for head, _, went_back in rows:
        flag = "  WENT BACK" if went_back else ""
        click.echo(f"{head.label:<14}  {head.entry_id:>7}  {head.hash:<64}  {head.received_at:<24}{flag}")
    click.echo("check a station: livescan audit verify --anchor HASH (on the station)")
