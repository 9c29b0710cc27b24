"""Transaction control numbers: format, uniqueness, monotonic sequence, parsing, check character."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from transaction_samples import NOW

from sync.transaction import InMemorySequence, TcnError, TcnIssuer, TransactionHeader, parse_tcn
from sync.transaction.tcn import check_character

FORMAT = re.compile(r"NY0303000K01-20240315143005-\d{6}[0-9A-Z]")


def issuer(clock=lambda: NOW, sequence=None) -> TcnIssuer:
    return TcnIssuer("NY0303000", "K01", clock, sequence or InMemorySequence())


def test_a_tcn_is_ori_station_utc_time_sequence_and_check_character() -> None:
    tcn = issuer().issue()
    assert FORMAT.fullmatch(tcn.text)
    assert tcn.text == str(tcn) == "NY0303000K01-20240315143005-000001" + check_character(tcn.text[:-1])
    assert 10 <= len(tcn.text) <= 40


def test_the_time_is_utc_whatever_the_clock_zone() -> None:
    local = NOW.astimezone(timezone(timedelta(hours=-4))) + timedelta(microseconds=999_999)
    assert issuer(lambda: local).issue().text.startswith("NY0303000K01-20240315143005-")


def test_tcns_are_unique_and_the_sequence_monotonic_within_one_second() -> None:
    tcns = [issuer_.issue() for issuer_ in [issuer()] for _ in range(1000)]
    assert len({tcn.text for tcn in tcns}) == 1000
    assert [tcn.sequence for tcn in tcns] == list(range(1, 1001))


def test_two_stations_of_one_agency_never_collide() -> None:
    sequence = InMemorySequence()
    first = TcnIssuer("NY0303000", "K01", lambda: NOW, sequence).issue()
    second = TcnIssuer("NY0303000", "K02", lambda: NOW, InMemorySequence()).issue()
    assert first.sequence == second.sequence and first.text != second.text


def test_the_sequence_source_is_injected_and_wraps_at_a_million() -> None:
    numbers = iter([41, 999_999, 1_000_000, 1_000_001])
    tcn_issuer = issuer(sequence=lambda: next(numbers))
    assert [tcn_issuer.issue().sequence for _ in range(4)] == [41, 999_999, 0, 1]


def test_concurrent_issues_are_all_distinct() -> None:
    tcn_issuer, found, lock = issuer(), [], threading.Lock()

    def work() -> None:
        for _ in range(200):
            text = tcn_issuer.issue().text
            with lock:
                found.append(text)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 800


def test_a_tcn_depends_on_nothing_but_its_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a TCN must not come from uuid or the host's MAC address")

    monkeypatch.setattr(uuid, "uuid1", refuse)
    monkeypatch.setattr(uuid, "getnode", refuse)
    assert issuer().issue().text == issuer().issue().text


def test_parse_gives_back_the_parts() -> None:
    tcn = issuer(sequence=lambda: 42).issue()
    parsed = parse_tcn(tcn.text)
    assert parsed == tcn
    assert (parsed.ori, parsed.station_id, parsed.sequence) == ("NY0303000", "K01", 42)
    assert parsed.issued == datetime(2024, 3, 15, 14, 30, 5, tzinfo=UTC)


@given(st.integers(0, 34), st.integers(0, 999_999), st.integers(1, 35))
def test_the_check_character_catches_any_single_mistyped_character(
    position: int, sequence: int, shift: int
) -> None:
    text = issuer(sequence=lambda: sequence).issue().text
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if text[position] not in alphabet:
        return
    wrong = alphabet[(alphabet.index(text[position]) + shift) % 36]
    mistyped = text[:position] + wrong + text[position + 1 :]
    with pytest.raises(TcnError):
        parse_tcn(mistyped)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "NY0303000K01-20240315143005-000001",
        "NY0303000K01-20241315143005-000001",
        "ny0303000K01-20240315143005-000001Z",
        "NY0303000K0123-20240315143005-000001Z",
        "NY0303000K01-20240315143005-0000001Z",
    ],
)
def test_other_texts_are_not_tcns_of_this_system(text: str) -> None:
    with pytest.raises(TcnError) as caught:
        parse_tcn(text)
    assert caught.value.problems[0].field == "1.009 TCN"


def test_an_impossible_time_is_refused_even_with_a_valid_check_character() -> None:
    body = "NY0303000K01-20241315143005-000001"
    with pytest.raises(TcnError, match="impossible time"):
        parse_tcn(body + check_character(body))


@pytest.mark.parametrize(("ori", "station"), [("NY030300", "K01"), ("NY0303000", "K"), ("NY0303000", "k01")])
def test_an_issuer_needs_a_9_character_ori_and_a_2_to_4_character_station_id(ori: str, station: str) -> None:
    with pytest.raises(TcnError):
        TcnIssuer(ori, station, lambda: NOW, InMemorySequence())


def test_an_issuer_refuses_a_clock_without_time_zone_and_a_bad_sequence() -> None:
    with pytest.raises(TcnError, match="time zone"):
        issuer(lambda: NOW.replace(tzinfo=None)).issue()
    with pytest.raises(TcnError, match="sequence"):
        issuer(sequence=lambda: -1).issue()


def test_the_header_takes_tcn_ori_and_creation_time_from_one_issue() -> None:
    tcn = issuer().issue()
    zone = timezone(timedelta(hours=-4))
    header = TransactionHeader.for_tcn(tcn, destination="NYCENTRE0", local_zone=zone, priority=2)
    assert (header.tcn, header.ori, header.priority) == (tcn.text, "NY0303000", 2)
    assert header.created == tcn.issued and header.created.utcoffset() == timedelta(hours=-4)
