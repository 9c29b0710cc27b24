"""Operator accounts, sign-in with lockout, sessions, and `livescan station operator`."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from station.operators import (
    SIGN_IN_FAILED,
    BadOperator,
    LockedOut,
    NotSupervisor,
    OperatorFile,
    OperatorFileError,
    Operators,
    SessionExpired,
    UnknownOperator,
    WrongPin,
    operator,
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 3, 15, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def accounts(tmp_path: Path) -> OperatorFile:
    found = OperatorFile(tmp_path / "operators.json")
    found.add("officer1", "Officer One", "officer", "1234")
    found.add("sup", "Sergeant Sup", "supervisor", "987654")
    return found


@pytest.fixture
def audit_log() -> list[tuple[str, str, str | None]]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def operators(accounts: OperatorFile, audit_log: list, clock: Clock) -> Operators:
    return Operators(accounts, audit=lambda *entry: audit_log.append(entry), clock=clock)


def test_file_is_private_and_holds_no_pin(accounts: OperatorFile) -> None:
    text = accounts.path.read_text()
    assert stat.S_IMODE(accounts.path.stat().st_mode) == 0o600
    assert "1234" not in text and "987654" not in text
    records = json.loads(text)["operators"]
    assert {r["id"] for r in records} == {"officer1", "sup"}
    assert records[0]["salt"] != records[1]["salt"]


def test_same_pin_gets_different_hashes(tmp_path: Path) -> None:
    found = OperatorFile(tmp_path / "ops.json")
    found.add("a", "A", "officer", "1111")
    found.add("b", "B", "officer", "1111")
    first, second = json.loads(found.path.read_text())["operators"]
    assert first["hash"] != second["hash"]


def test_verify(accounts: OperatorFile) -> None:
    assert accounts.verify("officer1", "1234").name == "Officer One"
    assert accounts.verify("officer1", "1235") is None
    assert accounts.verify("nobody", "1234") is None


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("bad id!", "N", "officer", "1234"), "operator id"),
        (("x", "N", "chief", "1234"), "role 'chief'"),
        (("x", "N", "officer", "12"), "4 to 12 digits"),
        (("x", "N", "officer", "12ab"), "4 to 12 digits"),
        (("x", "", "officer", "1234"), "display name"),
        (("officer1", "Again", "officer", "1234"), "exists already"),
    ],
)
def test_bad_accounts_are_refused(accounts: OperatorFile, args: tuple, words: str) -> None:
    with pytest.raises(BadOperator, match=words):
        accounts.add(*args)


def test_remove(accounts: OperatorFile) -> None:
    accounts.remove("officer1")
    assert accounts.get("officer1") is None
    with pytest.raises(BadOperator, match="no operator"):
        accounts.remove("officer1")


def test_a_running_station_sees_changes_to_the_file(accounts: OperatorFile) -> None:
    other_process = OperatorFile(accounts.path)
    other_process.add("late", "Late Comer", "officer", "4444")
    assert accounts.verify("late", "4444") is not None


def test_file_readable_by_others_is_refused(accounts: OperatorFile) -> None:
    accounts.path.chmod(0o644)
    with pytest.raises(OperatorFileError, match="chmod 600"):
        OperatorFile(accounts.path).operators()


def test_corrupt_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "operators.json"
    path.write_text('{"version": 1, "operators": [{"id": "x"}]}')
    path.chmod(0o600)
    with pytest.raises(OperatorFileError, match="not a valid operator file"):
        OperatorFile(path).get("x")


def test_sign_in_and_out(operators: Operators, audit_log: list) -> None:
    session = operators.sign_in("officer1", "1234")
    assert operators.session(session.token).operator.role == "officer"
    assert len(session.token) >= 40
    assert operators.sign_out(session.token).id == "officer1"
    with pytest.raises(SessionExpired):
        operators.session(session.token)
    assert [(actor, event) for actor, event, _ in audit_log] == [
        ("officer1", "signed_in"),
        ("officer1", "signed_out"),
    ]


def test_unknown_operator_and_wrong_pin_look_the_same(operators: Operators, audit_log: list) -> None:
    with pytest.raises(WrongPin) as wrong:
        operators.sign_in("officer1", "0000")
    with pytest.raises(UnknownOperator) as unknown:
        operators.sign_in("ghost", "0000")
    assert str(wrong.value) == str(unknown.value) == SIGN_IN_FAILED
    assert wrong.value.attempts_left == unknown.value.attempts_left == 4
    assert [event for _, event, _ in audit_log] == ["sign_in_failed", "sign_in_failed"]
    assert "unknown operator id" in audit_log[1][2]


def test_lockout_after_five_failures_then_expires(
    operators: Operators, clock: Clock, audit_log: list
) -> None:
    for left in (4, 3, 2, 1):
        with pytest.raises(WrongPin) as failed:
            operators.sign_in("officer1", "0000")
        assert failed.value.attempts_left == left
    with pytest.raises(LockedOut) as locked:
        operators.sign_in("officer1", "0000")
    assert locked.value.until == clock.now + timedelta(minutes=15)
    with pytest.raises(LockedOut):  # even the right PIN, while locked
        operators.sign_in("officer1", "1234")
    assert ("officer1", "locked_out") in [(a, e) for a, e, _ in audit_log]
    assert audit_log[-1][1] == "sign_in_refused"
    clock.advance(minutes=15)
    assert operators.sign_in("officer1", "1234").operator.id == "officer1"


def test_unknown_ids_lock_out_too(operators: Operators) -> None:
    for _ in range(4):
        with pytest.raises(UnknownOperator):
            operators.sign_in("ghost", "1111")
    with pytest.raises(LockedOut):
        operators.sign_in("ghost", "1111")


def test_success_resets_the_count(operators: Operators) -> None:
    for _ in range(4):
        with pytest.raises(WrongPin):
            operators.sign_in("officer1", "0000")
    operators.sign_in("officer1", "1234")
    with pytest.raises(WrongPin) as failed:
        operators.sign_in("officer1", "0000")
    assert failed.value.attempts_left == 4


def test_configurable_limits(accounts: OperatorFile, clock: Clock) -> None:
    strict = Operators(accounts, clock=clock, max_failures=2, lockout=timedelta(minutes=1))
    with pytest.raises(WrongPin):
        strict.sign_in("officer1", "0000")
    with pytest.raises(LockedOut) as locked:
        strict.sign_in("officer1", "0000")
    assert locked.value.until == clock.now + timedelta(minutes=1)


def test_session_expires_after_idle(operators: Operators, clock: Clock, audit_log: list) -> None:
    session = operators.sign_in("officer1", "1234")
    clock.advance(minutes=29)
    operators.session(session.token)  # use restarts the idle time
    clock.advance(minutes=29)
    assert operators.active(session.token)
    clock.advance(minutes=1)
    assert not operators.active(session.token)
    with pytest.raises(SessionExpired, match="idle"):
        operators.session(session.token)
    assert audit_log[-1][:2] == ("officer1", "session_expired")


def test_abandoned_sessions_are_purged_and_audited(
    operators: Operators, clock: Clock, audit_log: list
) -> None:
    """A session whose token never comes back (the browser closed) is dropped once idle, at the next
    sign-in or session lookup, and audited as expired; live sessions stay."""
    abandoned = [operators.sign_in("officer1", "1234") for _ in range(3)]
    clock.advance(minutes=20)
    kept = operators.sign_in("sup", "987654")
    assert operators.sessions() == 4
    clock.advance(minutes=10)  # the first three are idle for 30 minutes, the last for 10
    operators.session(kept.token)
    assert operators.sessions() == 1
    expired = [entry for entry in audit_log if entry[1] == "session_expired"]
    assert expired == [("officer1", "session_expired", "idle 30 min")] * 3
    clock.advance(minutes=30)
    operators.sign_in("officer1", "1234")
    assert operators.sessions() == 1 and audit_log[-2][:2] == ("sup", "session_expired")
    for session in abandoned:
        with pytest.raises(SessionExpired):
            operators.session(session.token)


def test_no_session(operators: Operators) -> None:
    with pytest.raises(SessionExpired):
        operators.session(None)
    with pytest.raises(SessionExpired):
        operators.session("made-up")


def test_supervisor_check(operators: Operators, audit_log: list) -> None:
    assert operators.verify_supervisor("sup", "987654").id == "sup"
    with pytest.raises(NotSupervisor):
        operators.verify_supervisor("officer1", "1234")
    with pytest.raises(WrongPin):
        operators.verify_supervisor("sup", "000000")
    assert audit_log[-1][2].startswith("supervisor override: wrong PIN")


def test_cli_add_list_remove(tmp_path: Path) -> None:
    path = tmp_path / "ops.json"
    runner = CliRunner()
    added = runner.invoke(
        operator,
        ["add", "jdoe", "--name", "J Doe", "--role", "supervisor", "--file", str(path)],
        input="2468\n2468\n",
    )
    assert added.exit_code == 0, added.output
    assert "added supervisor jdoe" in added.output
    assert OperatorFile(path).verify("jdoe", "2468") is not None
    listed = runner.invoke(operator, ["list", "--file", str(path)])
    assert "jdoe" in listed.output and "supervisor" in listed.output and "2468" not in listed.output
    bad = runner.invoke(operator, ["add", "x", "--name", "X", "--file", str(path)], input="12\n12\n")
    assert bad.exit_code != 0 and "4 to 12 digits" in bad.output
    removed = runner.invoke(operator, ["remove", "jdoe", "--file", str(path)])
    assert removed.exit_code == 0
    assert OperatorFile(path).operators() == []
    missing = runner.invoke(operator, ["remove", "jdoe", "--file", str(path)])
    assert missing.exit_code != 0 and "no operator 'jdoe'" in missing.output


def test_a_flood_of_ids_does_not_reset_a_lockout(operators: Operators, clock: Clock) -> None:
    operators.MAX_TRACKED_IDS = 3
    for _ in range(5):
        with pytest.raises((WrongPin, LockedOut)):
            operators.sign_in("officer1", "0000")
    for ghost in ("ghost1", "ghost2"):
        with pytest.raises(UnknownOperator):
            operators.sign_in(ghost, "1111")
    with pytest.raises(LockedOut):  # the table is full of live counters: a new id is refused
        operators.sign_in("ghost3", "1111")
    with pytest.raises(LockedOut):  # and the locked id is still locked
        operators.sign_in("officer1", "1234")
    clock.advance(minutes=15)  # every counter is stale now: room again
    with pytest.raises(UnknownOperator):
        operators.sign_in("ghost3", "1111")
    assert operators.sign_in("officer1", "1234").operator.id == "officer1"


def test_parallel_guesses_cannot_pass_the_lockout(operators: Operators, accounts: OperatorFile) -> None:
    """Only ``max_failures`` PINs are ever tried against the id, however many arrive at once."""
    from concurrent.futures import ThreadPoolExecutor

    tried: list[str] = []
    verify = accounts.verify

    def counted(operator_id: str, pin: str) -> object:
        tried.append(pin)
        return verify(operator_id, pin)

    accounts.verify = counted  # type: ignore[method-assign]

    def guess(number: int) -> str:
        try:
            operators.sign_in("officer1", f"{number:04d}")
        except LockedOut:
            return "locked"
        except WrongPin:
            return "wrong"
        return "in"

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(guess, range(16)))
    assert answers.count("wrong") == 4 and answers.count("locked") == 12
    assert len(tried) == 5
