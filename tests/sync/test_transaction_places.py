"""The NCIC state and country codes behind 2.020 POB, 2.021 CTZ and the ORI's first two letters."""

from __future__ import annotations

import re

import pytest
from transaction_samples import NOW, sample_booking, with_header, with_subject

from sync.transaction import Problem, validate
from sync.transaction.places import _PLACES, COUNTRY, PLACE_OF_BIRTH, _load

KINDS = {"state", "territory", "province", "country", "unknown"}


def problems(booking) -> list[Problem]:
    return validate(booking, now=NOW)


def test_every_code_is_two_capital_letters_of_a_known_kind() -> None:
    assert all(re.fullmatch(r"[A-Z]{2}", code) for code in PLACE_OF_BIRTH)
    assert {kind for kind, _ in _PLACES.values()} == KINDS
    counts = {kind: sum(k == kind for k, _ in _PLACES.values()) for kind in KINDS}
    assert counts == {"state": 51, "territory": 16, "province": 13, "country": 266, "unknown": 1}


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("NB", "Nebraska"),  # not NE: that is the Netherlands
        ("NE", "Netherlands"),
        ("NK", "New Brunswick"),
        ("GM", "Guam"),
        ("MM", "Mexico (Mexican state not known)"),
        ("CD", "Canada (province not known)"),
        ("UK", "Ukraine"),
        ("UN", "United Kingdom"),
        ("EN", "England"),
        ("RC", "China (People's Republic of)"),
        ("RV", "Vietnam"),
        ("XN", "Nunavut"),
    ],
)
def test_codes_are_ncic_ones_not_iso_or_fips(code: str, name: str) -> None:
    assert PLACE_OF_BIRTH[code] == name


@pytest.mark.parametrize("code", ["MX", "VM", "GU", "CH", "HO", "PL", "XX", "NY", "PQ", "AM"])
def test_citizenship_takes_countries_only(code: str) -> None:
    assert code not in COUNTRY
    found = problems(with_subject(sample_booking(), citizenship=(code,)))
    assert [(p.field, "not a known country" in p.message) for p in found] == [("2.021 CTZ", True)]


@pytest.mark.parametrize("citizenship", [("MM",), ("RC", "UN"), ("YY",), ("US",)])
def test_ncic_country_codes_are_valid_citizenships(citizenship: tuple[str, ...]) -> None:
    assert problems(with_subject(sample_booking(), citizenship=citizenship)) == []


@pytest.mark.parametrize("code", ["NB", "NK", "GM", "XX", "MM", "HO"])
def test_any_state_territory_province_country_or_unknown_is_a_place_of_birth(code: str) -> None:
    assert problems(with_subject(sample_booking(), place_of_birth=code)) == []


@pytest.mark.parametrize("code", ["MX", "GU", "ZZ"])  # Mexico's ISO code, Guam's USPS code
def test_codes_of_other_tables_are_refused_as_place_of_birth(code: str) -> None:
    found = problems(with_subject(sample_booking(), place_of_birth=code))
    assert [(p.field, "not a valid code" in p.message) for p in found] == [("2.020 POB", True)]


def test_an_ori_starts_with_an_ncic_state_code() -> None:
    assert problems(with_header(sample_booking(), ori="NB0280000")) == []
    found = problems(with_header(sample_booking(), ori="GU0010000"))
    assert [p.field for p in found] == ["1.008 ORI"]


def test_a_code_listed_twice_is_refused_when_the_table_loads() -> None:
    with pytest.raises(ValueError, match="place code AA is listed twice"):
        _load("AA country Albania\nAA country Albania again")
