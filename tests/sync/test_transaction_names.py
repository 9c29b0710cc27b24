"""The name policy: uppercase A-Z, Latin letters transliterated, other scripts refused with a fix."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from transaction_samples import NOW, sample_booking, with_subject

from sync.transaction import decode, encode, romanise_name, validate
from sync.transaction.names import name_problems

SENT = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ ,-")
LATIN_LETTERS = [
    chr(code)
    for code in range(0x00C0, 0x0180)
    if unicodedata.category(chr(code)).startswith("L") and chr(code) not in "×÷"
]


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("Kowalski,Jan", "KOWALSKI,JAN"),
        ("Łukasz , Żółć-Nowak", "LUKASZ,ZOLC-NOWAK"),
        ("O'Brien,Seán", "OBRIEN,SEAN"),
        ("Straße,Jürgen", "STRASSE,JURGEN"),
        ("Ærøskøbing,Søren", "AEROSKOBING,SOREN"),
        ("Œuvray,Cœur", "OEUVRAY,COEUR"),
        ("Đoković,Novak", "DOKOVIC,NOVAK"),
        ("Þórsson,Ðóra", "THORSSON,DORA"),
        ("Nguyễn,Văn  An", "NGUYEN,VAN AN"),
        ("St. John ,  Mary - Ann", "ST JOHN,MARY-ANN"),
        ("ＤＯＥ,ＪＯＨＮ", "DOE,JOHN"),
    ],
)
def test_latin_names_are_romanised(typed: str, sent: str) -> None:
    assert romanise_name(typed) == sent
    assert name_problems(sent, 50) == []


def test_a_name_not_yet_in_sent_form_is_refused_with_the_form_to_use() -> None:
    [problem] = validate(with_subject(sample_booking(), name="Łukasz,Jan"), now=NOW)
    assert problem.field == "2.018 NAM"
    assert "'LUKASZ,JAN'" in problem.message


@pytest.mark.parametrize("name", ["Иванов,Иван", "Παπαδόπουλος,Νίκος", "王,小明", "محمد,علي", "DOE,ИВАН"])
def test_a_name_in_another_script_asks_for_the_romanised_name(name: str) -> None:
    [message] = name_problems(name, 50)
    assert "romanised" in message and "passport" in message


def test_romanised_names_round_trip_through_the_transaction() -> None:
    booking = with_subject(
        sample_booking(), name=romanise_name("Żółć,Łucja"), aliases=(romanise_name("Ørsted,Åse"),)
    )
    assert decode(encode(booking, now=NOW)).subject == booking.subject


@given(
    st.lists(st.sampled_from([*LATIN_LETTERS, *"abcXYZ", " ", ",", "-", "'", "."]), min_size=1, max_size=40)
)
def test_latin_text_always_romanises_to_a_z(characters: list[str]) -> None:
    assert set(romanise_name("".join(characters))) <= SENT


@given(st.text(max_size=40))
def test_romanising_is_idempotent(text: str) -> None:
    once = romanise_name(text)
    assert romanise_name(once) == once


@given(
    st.text(alphabet="ABCDEFGHIJ", min_size=1, max_size=8),
    st.characters(whitelist_categories=["Lu", "Ll", "Lo"]).filter(
        lambda c: not set(romanise_name(c)) <= SENT or not romanise_name(c)
    ),
)
def test_any_letter_without_an_a_z_form_is_a_problem_never_sent(surname: str, letter: str) -> None:
    problems = name_problems(f"{surname},{letter}", 50)
    assert problems
    if romanise_name(letter):
        assert "passport" in problems[0]


@given(st.text(max_size=60))
def test_a_name_that_passes_is_plain_ascii_in_the_sent_form(text: str) -> None:
    if not name_problems(text, 50):
        assert text == romanise_name(text)
        assert set(text) <= SENT
        text.encode("ascii")
