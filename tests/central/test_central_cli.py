"""`livescan central serve` refuses to start without what it needs, with a message saying what to do."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from central.cli import central
from central.pki import PkiLayout


def serve(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(central, ["serve", "--port", "0", *args])
    return result.exit_code, result.output


def test_serve_without_a_pki_says_to_make_one(tmp_path: Path) -> None:
    code, output = serve("--pki", str(tmp_path / "none"), "--data", str(tmp_path / "data"))
    assert code != 0 and "livescan pki init" in output


def test_serve_with_an_unavailable_matcher_suggests_matching_off(pki: PkiLayout, tmp_path: Path) -> None:
    code, output = serve(
        "--pki", str(pki.root), "--data", str(tmp_path / "data"), "--matcher", "no_such_module:open_matcher"
    )
    assert code != 0 and "--matching off" in output


def test_serve_rejects_a_backoff_cap_below_its_base(pki: PkiLayout, tmp_path: Path) -> None:
    code, output = serve(
        "--pki", str(pki.root), "--data", str(tmp_path / "data"), "--matching", "off",
        "--webhook-retry-base", "10", "--webhook-retry-cap", "1",
    )  # fmt: skip
    assert code != 0 and "base" in output
