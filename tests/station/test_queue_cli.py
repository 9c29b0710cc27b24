"""``livescan queue``: what a technician sees and may do."""

from __future__ import annotations

import getpass
import json
import re
import shlex
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from outbox_helpers import booking_transaction, new_outbox

from station.queue_cli import queue
from sync.keyring import load_key_ring
from sync.lock import OwnerLock
from sync.outbox import Outbox

LEASE = timedelta(minutes=5)
PROBLEMS = [{"field": "2.024 SEX", "message": "Q is not a sex code"}]


@pytest.fixture
def populated(tmp_path: Path) -> dict[str, str]:
    """One booking in each of: queued, responded, dead, rejected."""
    outbox = new_outbox(tmp_path)
    queued, responded, dead, rejected = (
        outbox.submit(booking_transaction().data, actor="officer") for _ in range(4)
    )
    outbox.retry_later(claim(outbox), outbox._clock() + timedelta(hours=1), "HTTP 503")  # the oldest: queued
    accepted = claim(outbox)
    outbox.accepted(accepted, {"tcn": responded, "status": "pending"}, outbox._clock())
    outbox.answered(responded, {"criminal": {"hit": False}, "immigration": {"hit": False}})
    outbox.give_up(claim(outbox), "HTTP 409 conflict")
    outbox.rejected(rejected, PROBLEMS, "HTTP 422 invalid: 1 problem(s) in 2.024 SEX", claim=claim(outbox))
    outbox.close()
    return {"queued": queued, "responded": responded, "dead": dead, "rejected": rejected}


def claim(outbox: Outbox):
    found = outbox.claim("worker", LEASE)
    assert found is not None
    return found


def run(tmp_path: Path, *arguments: str, input: str | None = None, ok: bool = True) -> Result:
    options = ["--db", str(tmp_path / "outbox.db"), "--key-file", str(tmp_path / "outbox.key")]
    result = CliRunner().invoke(queue, [*options, *arguments], input=input)
    assert (result.exit_code == 0) == ok, result.output
    return result


def test_ls_shows_counts_and_every_booking_oldest_first(tmp_path: Path, populated: dict[str, str]) -> None:
    output = run(tmp_path, "ls").output
    assert output.splitlines()[0].startswith("queued 1  sending 0  accepted 0  responded 1")
    rows = [line.split()[:2] for line in output.splitlines()[2:]]
    assert rows == [[tcn, state] for state, tcn in populated.items()]
    assert "HTTP 503" in output and "DOE" not in output and "BEEBLEBROX" not in output
    listed = [
        json.loads(line) for line in run(tmp_path, "ls", "--state", "dead", "--json").output.splitlines()
    ]
    assert [(item["tcn"], item["state"], item["last_error"]) for item in listed] == [
        (populated["dead"], "dead", "HTTP 409 conflict")
    ]


def test_dead_lists_dead_letters_and_rejections(tmp_path: Path, populated: dict[str, str]) -> None:
    output = run(tmp_path, "dead").output
    assert (
        populated["dead"] in output and populated["rejected"] in output and populated["queued"] not in output
    )
    assert "HTTP 409 conflict" in output and "2.024 SEX" in output


def test_show_gives_the_delivery_the_messages_and_the_audit_trail(
    tmp_path: Path, populated: dict[str, str]
) -> None:
    output = run(tmp_path, "show", populated["rejected"]).output
    assert "state: rejected" in output and "problem: 2.024 SEX: Q is not a sex code" in output
    assert (
        "viewed problems" in run(tmp_path, "show", populated["rejected"]).output
    )  # the first read is audited
    document = json.loads(run(tmp_path, "show", populated["responded"], "--json").output)
    assert document["answered"] == ["criminal", "immigration"] and document["problems"] is None
    assert [entry["event"] for entry in document["audit"]] == ["queued", "accepted", "responded"]
    assert "no booking" in run(tmp_path, "show", "NY0303000K01-20240315143005-999999X", ok=False).output


def test_retry_sends_a_dead_letter_again_and_refuses_anything_else(
    tmp_path: Path, populated: dict[str, str]
) -> None:
    assert "queued again" in run(tmp_path, "retry", populated["dead"]).output
    assert "only a dead item" in run(tmp_path, "retry", populated["dead"], ok=False).output
    assert "new TCN" in run(tmp_path, "retry", populated["rejected"], ok=False).output
    trail = json.loads(run(tmp_path, "show", populated["dead"], "--json").output)["audit"]
    assert (trail[-1]["event"], trail[-1]["actor"]) == ("retried", getpass.getuser())


def test_purge_applies_retention_or_destroys_named_dead_payloads(
    tmp_path: Path, populated: dict[str, str]
) -> None:
    assert "0 booking(s)" in run(tmp_path, "purge").output  # answered today: within 30 days
    assert "2 booking(s)" in run(tmp_path, "purge", "--retention-days", "0").output  # responded, rejected
    assert "Aborted" in run(tmp_path, "purge", populated["dead"], input="n\n", ok=False).output
    assert "payload destroyed" in run(tmp_path, "purge", populated["dead"], "--yes").output
    assert "only dead or rejected" in run(tmp_path, "purge", populated["queued"], "--yes", ok=False).output
    listed = {
        item["tcn"]: item for item in map(json.loads, run(tmp_path, "ls", "--json").output.splitlines())
    }
    purged = [tcn for tcn, item in listed.items() if item["purged_at"]]
    assert purged == [populated[state] for state in ("responded", "dead", "rejected")]


def test_key_init_rotate_and_retire(tmp_path: Path) -> None:
    key_file = tmp_path / "outbox.key"
    assert "back this file up" in run(tmp_path, "key", "init").output
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "never overwritten" in run(tmp_path, "key", "init", ok=False).output
    first = load_key_ring(key_file).active_id
    new_outbox(tmp_path).submit(booking_transaction().data, actor="officer")
    assert "2 envelope(s) re-sealed" in run(tmp_path, "key", "rotate").output
    with OwnerLock(tmp_path / "outbox.db"):
        assert "stop the station daemon" in run(tmp_path, "key", "retire", ok=False).output
    assert f"removed key(s): {first}" in run(tmp_path, "key", "retire").output
    assert [entry.id for entry in load_key_ring(key_file).entries] != [first]


def test_clear_errors_for_a_missing_database_or_an_unsafe_key(
    tmp_path: Path, populated: dict[str, str]
) -> None:
    assert "no outbox database" in run(tmp_path / "nowhere", "ls", ok=False).output
    (tmp_path / "outbox.key").chmod(0o644)
    assert populated["rejected"] in run(tmp_path, "ls").output  # metadata needs no key
    assert "chmod 600" in run(tmp_path, "show", populated["rejected"], ok=False).output


def test_a_missing_key_file_error_offers_a_command_that_works(
    tmp_path: Path, populated: dict[str, str]
) -> None:
    key_file = tmp_path / "outbox.key"
    key_file.unlink()
    message = run(tmp_path, "show", populated["rejected"], ok=False).output
    offered = re.search(r"create one with `livescan queue (.*?)`", message)
    assert offered and "restore it from its backup" in message
    assert CliRunner().invoke(queue, shlex.split(offered.group(1))).exit_code == 0  # exactly as offered
    assert load_key_ring(key_file).active_id  # it made the key file the error was about
    assert "restore the key file" in run(tmp_path, "show", populated["rejected"], ok=False).output  # new key


def test_paths_come_from_the_environment(tmp_path: Path, populated: dict[str, str]) -> None:
    environment = {
        "LIVESCAN_OUTBOX": str(tmp_path / "outbox.db"),
        "LIVESCAN_OUTBOX_KEY": str(tmp_path / "outbox.key"),
    }
    result = CliRunner().invoke(queue, ["ls"], env=environment)
    assert result.exit_code == 0 and populated["queued"] in result.output
