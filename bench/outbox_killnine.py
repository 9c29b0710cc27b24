"""kill -9 drill of the station's queue-and-send path against a local centre; JSON lines.

    .venv/bin/python bench/outbox_killnine.py [--cycles 500] [--seed 1]

A fresh PKI, a centre with the test suite's fake matcher (so answers come back and officers'
acknowledgements can be interrupted too) and ``sync.crash_drill.CrashDrill``: a child process
queues bookings and sends them; it is SIGKILLed ``--cycles`` times, at each crash point in turn
and then at random points and random moments, and restarted. Figures: cycles run, bookings saved,
lost and duplicated (goal 500, 0, 0), integrity and lease failures, which points were hit.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from central.db import DATABASE_FILE
from central.pki import PkiLayout, StationName, init_pki
from central.process import CentralProcess
from sync.client import CentreEndpoint
from sync.crash_drill import CrashDrill

STATION = StationName("NY0303000", "K01")
FAKE_MATCHER = Path(__file__).resolve().parents[1] / "tests" / "central"  # fake_matcher.py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        layout = PkiLayout(root / "pki")
        init_pki(layout.root, stations=[STATION], site="bench")
        options = ["--matcher", "fake_matcher:open_matcher"]
        data = root / "data"
        with CentralProcess(
            layout.root, data, log=root / "central.log", options=options, python_path=[FAKE_MATCHER]
        ) as centre:

            def centre_counts() -> dict[str, int]:
                with closing(sqlite3.connect(f"file:{data / DATABASE_FILE}?mode=ro", uri=True)) as database:
                    return dict(database.execute("SELECT tcn, count(*) FROM transactions GROUP BY tcn"))

            endpoint = CentreEndpoint(
                centre.url, layout.ca_cert, layout.station_cert(STATION), layout.station_key(STATION)
            )
            (root / "station").mkdir()
            drill = CrashDrill(root / "station", endpoint, centre_counts=centre_counts, seed=args.seed)
            report = drill.run(args.cycles, drain_timeout=300.0)
    print(json.dumps({"bench": "outbox_killnine", "goal": {"cycles": 500, "lost": 0, "duplicated": 0},
                      **report.as_dict()}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
