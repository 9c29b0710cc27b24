"""Matching off keeps transactions pending; a restart with a matcher resumes them (even after kill -9)."""

from __future__ import annotations

import json
from pathlib import Path

from central_helpers import HERE, STATION_A, station_client, transaction
from click.testing import CliRunner
from webhook_receiver import WebhookReceiver

from central.cli import central
from central.pki import PkiLayout
from central.process import CentralProcess


def notifications_ls(data: Path, *options: str) -> str:
    result = CliRunner().invoke(central, ["notifications", "ls", "--data", str(data), *options])
    assert result.exit_code == 0, result.output
    return result.output


def test_pending_work_survives_a_crash_and_is_resumed_on_start(pki: PkiLayout, tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "central.log"
    plain, hit = transaction(), transaction(case="IMM-2")
    intake_only = CentralProcess(pki.root, data, log=log, options=["--matching", "off"])
    with intake_only:
        client = station_client(intake_only.url, pki, STATION_A)
        for sent in (plain, hit):
            assert client.submit(sent.data, sent.tcn).status_code == 202
        assert client.status(plain.tcn).json()["status"] == "pending"
        client.close()
        intake_only.kill()  # SIGKILL right after the 202s: the rows were committed before them
    assert notifications_ls(data) == "no notifications\n"

    with WebhookReceiver() as webhook:
        options = [
            "--matcher",
            "fake_matcher:open_matcher",
            "--webhook",
            webhook.url,
            "--webhook-retry-base",
            "0.05",
        ]
        with CentralProcess(pki.root, data, log=log, options=options, python_path=[HERE]) as matching:
            client = station_client(matching.url, pki, STATION_A)
            assert (
                client.wait_for(plain.tcn, lambda view: view["status"] == "complete")["status"] == "complete"
            )
            assert (
                client.submit(plain.data, plain.tcn).json()["status"] == "complete"
            )  # replay, current state
            webhook.wait_for_success()
            view = client.wait_for(
                hit.tcn, lambda v: (v.get("immigration", {}).get("notification") or {}).get("sent")
            )
            assert view["immigration"]["notification"]["sent"] is True
            client.close()
    assert "resumed 2 pending transaction(s)" in log.read_text()
    listed = [json.loads(line) for line in notifications_ls(data, "--json").splitlines()]
    assert [(notice["tcn"], notice["status"]) for notice in listed] == [(hit.tcn, "delivered")]
    assert hit.tcn in notifications_ls(data, "--status", "delivered")
