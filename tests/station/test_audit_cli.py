"""``livescan audit verify | export`` on a real outbox file."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from outbox_helpers import booking_transaction, new_outbox

from station.audit_cli import audit


@pytest.fixture
def station(tmp_path: Path) -> str:
    """An outbox with a booking and station events; the booking's TCN."""
    outbox = new_outbox(tmp_path)
    outbox.audit("officer-17", "signed in")
    tcn = outbox.submit(booking_transaction().data, actor="officer-17")
    outbox.audit("sup-3", "override", tcn, "fgp 7 nfiq2 22 < 30")
    outbox.audit("officer-17", "signed out")
    outbox.close()
    return tcn


def run(tmp_path: Path, *arguments: str, ok: bool = True) -> Result:
    options = ["--db", str(tmp_path / "outbox.db"), "--key-file", str(tmp_path / "outbox.key")]
    result = CliRunner().invoke(audit, [*options, *arguments])
    assert (result.exit_code == 0) == ok, result.output
    return result


def test_verify_reports_an_intact_chain_and_its_head(tmp_path: Path, station: str) -> None:
    output = run(tmp_path, "verify").output
    assert output.startswith("audit chain intact: 4 entries, head ")
    head = output.split("head ")[1].strip()
    assert len(head) == 64
    assert "intact" in run(tmp_path, "verify", "--anchor", head).output


def test_verify_exits_non_zero_naming_the_altered_entry(tmp_path: Path, station: str) -> None:
    with closing(sqlite3.connect(tmp_path / "outbox.db")) as connection:
        connection.execute("UPDATE audit SET detail = 'fgp 7 nfiq2 40 >= 30' WHERE id = 3")
        connection.commit()
    result = run(tmp_path, "verify", ok=False)
    assert result.exit_code == 1
    assert "audit chain broken at entry 3: its content was altered" in result.output


def test_verify_with_an_anchor_finds_a_cut_off_end(tmp_path: Path, station: str) -> None:
    head = run(tmp_path, "verify").output.split("head ")[1].strip()
    with closing(sqlite3.connect(tmp_path / "outbox.db")) as connection:
        connection.execute("DELETE FROM audit WHERE id = 4")
        connection.commit()
    assert "intact: 3 entries" in run(tmp_path, "verify").output
    assert "cut off its end" in run(tmp_path, "verify", "--anchor", head, ok=False).output


def test_export_writes_json_lines_to_stdout_or_a_file(tmp_path: Path, station: str) -> None:
    result = run(tmp_path, "export")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["id"], line["actor"], line["event"]) for line in lines] == [
        (1, "officer-17", "signed in"),
        (2, "officer-17", "queued"),
        (3, "sup-3", "override"),
        (4, "officer-17", "signed out"),
    ]
    assert lines[2]["tcn"] == station and "BEEBLEBROX" not in result.stdout
    assert "4 entries exported; audit chain intact" in result.stderr
    out = tmp_path / "audit.jsonl"
    result = run(tmp_path, "export", "--out", str(out), "--since", "2000-01-01")
    assert out.read_text().splitlines() == [json.dumps(line, separators=(", ", ": ")) for line in lines]
    assert result.stdout == "" and f"to {out}" in result.stderr
    assert run(tmp_path, "export", "--since", "2999-01-01T00:00:00Z").stdout == ""


def test_export_refuses_a_bad_since_and_a_missing_database(tmp_path: Path, station: str) -> None:
    assert "write 2024-03-15" in run(tmp_path, "export", "--since", "last week", ok=False).output
    result = CliRunner().invoke(audit, ["--db", str(tmp_path / "nope.db"), "--key-file", "k", "verify"])
    assert result.exit_code == 1 and "no outbox database" in result.output
