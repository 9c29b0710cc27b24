"""Offence levels from record entries (2008–09 Secure Communities definition, central/levels.py)."""

from __future__ import annotations

from datetime import date

import pytest

from central.levels import (
    LEVEL_1_CATEGORIES,
    LEVEL_2_CATEGORIES,
    Disposition,
    OffenceCategory,
    RecordEntry,
    classify_offence,
    entry_level,
    offence_level,
)

DAY = date(2020, 5, 1)


def entry(
    category: OffenceCategory,
    disposition: Disposition = Disposition.CONVICTED,
    sentence_days: int | None = None,
    offence: str = "AN OFFENCE",
) -> RecordEntry:
    return RecordEntry(DAY, offence, category, disposition, sentence_days)


@pytest.mark.parametrize("category", sorted(LEVEL_1_CATEGORIES))
@pytest.mark.parametrize("disposition", list(Disposition))
def test_level_1_categories_convicted_or_charged(category: OffenceCategory, disposition: Disposition) -> None:
    assert offence_level([entry(category, disposition)]) == 1


@pytest.mark.parametrize("category", sorted(LEVEL_2_CATEGORIES))
@pytest.mark.parametrize("disposition", list(Disposition))
def test_property_offences_are_level_2(category: OffenceCategory, disposition: Disposition) -> None:
    assert offence_level([entry(category, disposition)]) == 2


def test_other_offences_are_level_3() -> None:
    assert offence_level([entry(OffenceCategory.OTHER)]) == 3
    assert offence_level([entry(OffenceCategory.OTHER, Disposition.CHARGED)]) == 3


@pytest.mark.parametrize(
    ("disposition", "sentence_days", "level"),
    [
        (Disposition.CONVICTED, 366, 1),  # more than one year
        (Disposition.CONVICTED, 730, 1),
        (Disposition.CONVICTED, 365, 2),  # exactly one year is not more than one year
        (Disposition.CONVICTED, 30, 2),
        (Disposition.CONVICTED, None, 2),  # sentence unknown
        (Disposition.CHARGED, None, 2),  # a charge carries no sentence yet
    ],
)
def test_drug_offences_depend_on_the_sentence(
    disposition: Disposition, sentence_days: int | None, level: int
) -> None:
    assert offence_level([entry(OffenceCategory.DRUG, disposition, sentence_days)]) == level


def test_the_most_serious_entry_decides() -> None:
    record = [
        entry(OffenceCategory.OTHER),
        entry(OffenceCategory.LARCENY, Disposition.CHARGED),
        entry(OffenceCategory.WEAPONS, Disposition.CHARGED),
    ]
    assert offence_level(record) == 1
    assert offence_level(record[:2]) == 2
    assert [entry_level(e) for e in record] == [3, 2, 1]


def test_an_empty_record_has_no_level() -> None:
    assert offence_level([]) is None


def test_every_category_has_a_level() -> None:
    assert {entry_level(entry(category)) for category in OffenceCategory} == {1, 2, 3}


def test_entries_check_their_values() -> None:
    assert entry("drug", "charged").category is OffenceCategory.DRUG  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        entry("arson?")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        entry(OffenceCategory.OTHER, "acquitted")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        entry(OffenceCategory.DRUG, sentence_days=-1)
    with pytest.raises(ValueError):
        entry(OffenceCategory.OTHER, offence="  ")


@pytest.mark.parametrize(
    ("literal", "category"),
    [
        ("ARMED ROBBERY", OffenceCategory.ROBBERY),
        ("MURDER 2ND DEGREE", OffenceCategory.HOMICIDE),
        ("Aggravated assault with a weapon", OffenceCategory.AGGRAVATED_ASSAULT),
        ("AGGRAVATED SEXUAL ASSAULT", OffenceCategory.SEXUAL_ASSAULT),
        ("POSSESSION OF COCAINE", OffenceCategory.DRUG),
        ("IDENTITY THEFT", OffenceCategory.FRAUD),
        ("THEFT OF PROPERTY", OffenceCategory.LARCENY),
        ("BURGLARY 2ND DEGREE", OffenceCategory.BURGLARY),
        ("MONEY LAUNDERING", OffenceCategory.MONEY_LAUNDERING),
        ("CARRYING A CONCEALED FIREARM", OffenceCategory.WEAPONS),
        ("DOMESTIC VIOLENCE", OffenceCategory.CRUELTY_TO_CHILD_OR_SPOUSE),
        ("RESISTING ARREST", OffenceCategory.OTHER),
        ("DRIVING UNDER THE INFLUENCE", OffenceCategory.OTHER),
    ],
)
def test_classify_offence_literals(literal: str, category: OffenceCategory) -> None:
    assert classify_offence(literal) is category
