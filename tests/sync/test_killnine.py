"""kill -9 at every crash point and at random moments: nothing saved is lost, nothing is sent twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from outbox_helpers import centre, centre_counts, endpoint, pki

from central.pki import PkiLayout
from central.process import CentralProcess
from sync.crash_drill import POINTS, CrashDrill
from sync.keyring import KeyFile
from sync.outbox import Outbox

__all__ = ["centre", "pki"]  # fixtures
CYCLES = 24  # every point once in turn, then at random; bench/outbox_killnine.py runs 500


@pytest.mark.slow
def test_kill_nine_loses_nothing_and_duplicates_nothing(
    centre: CentralProcess, pki: PkiLayout, tmp_path: Path
) -> None:
    drill = CrashDrill(
        tmp_path, endpoint(centre.url, pki), centre_counts=lambda: centre_counts(centre), seed=11
    )
    report = drill.run(CYCLES)
    summary = json.dumps(report.as_dict())
    assert report.ok, summary
    assert report.cycles == CYCLES and report.saved >= CYCLES // 2 and report.acknowledged > 0, summary
    assert (report.lost, report.duplicated, report.integrity_failures, report.lease_violations) == (
        0,
        0,
        0,
        0,
    )
    assert set(report.points_hit) == set(POINTS), summary  # each moment was really hit
    assert report.delivered >= report.saved
    outbox = Outbox(drill.database, KeyFile(drill.key_file), create=False)
    try:
        receipts = [item.receipt for item in outbox.items(limit=10_000)]
        assert any(receipt and receipt["replayed"] for receipt in receipts)  # a kill after the centre had it
        assert outbox.integrity_check() == "ok"
    finally:
        outbox.close()
