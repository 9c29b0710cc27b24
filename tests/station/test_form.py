"""The kiosk booking form: typed values to Subject and Arrest, problems tied to inputs."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from station.form import FormInvalid, check_form, code_tables, parse_form

NOW = datetime(2024, 3, 15, 14, 30, tzinfo=UTC)
AGENCY = "NY0303000"


def complete(**changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "name": "Doe, John",
        "date_of_birth": "1980-01-02",
        "place_of_birth": "NY",
        "sex": "M",
        "race": "W",
        "height_feet": "5",
        "height_inches": "10",
        "weight": "180",
        "eye": "BRO",
        "hair": "BLK",
        "arrest_date": "2024-03-15",
        "offences": "THEFT OF PROPERTY\nRESISTING ARREST",
        "offence_date": "2024-03-14",
        "case_number": "2024-000123",
        "retain": True,
    }
    form.update(changes)
    return form


def problems(form: dict[str, object]) -> dict[str, str]:
    result = check_form(form, now=NOW, agency=AGENCY)
    return {p.field: p.message for p in result.problems}


def test_complete_form_builds_the_booking_parts() -> None:
    subject, arrest = parse_form(
        complete(aliases="smith, jack\n", ssn="123-45-6789", citizenship="US"), now=NOW, agency=AGENCY
    )
    assert subject.name == "DOE,JOHN"
    assert subject.dates_of_birth == (date(1980, 1, 2),)
    assert subject.height_inches == 70 and subject.weight_pounds == 180
    assert subject.aliases == ("SMITH,JACK",)
    assert subject.social_security_numbers == ("123456789",)
    assert subject.citizenship == ("US",)
    assert [o.literal for o in arrest.offences] == ["THEFT OF PROPERTY", "RESISTING ARREST"]
    assert all(o.date == date(2024, 3, 14) for o in arrest.offences)
    assert arrest.controlling_agencies == (AGENCY,)
    assert arrest.retain is True and arrest.rap_sheet is False
    assert arrest.case_number == "2024-000123"


def test_name_is_romanised_and_shown_back() -> None:
    result = check_form(complete(name="Łukasz , Żółć-Nowak"), now=NOW, agency=AGENCY)
    assert result.problems == []
    assert result.name_sent == "LUKASZ,ZOLC-NOWAK"


def test_empty_form_names_every_required_input() -> None:
    found = problems({})
    for field in (
        "name",
        "date_of_birth",
        "place_of_birth",
        "sex",
        "race",
        "eye",
        "hair",
        "arrest_date",
        "offences",
    ):
        assert field in found, field
    assert "height" not in found and "weight" not in found  # unknown is allowed


def test_problems_come_from_the_ebts_rules() -> None:
    found = problems(
        complete(name="Иванов,Иван", sex="G", place_of_birth="QQ", height_feet="3", weight="900", ssn="12")
    )
    assert "romanised" in found["name"]
    assert "legacy code" in found["sex"]
    assert "place of birth 'QQ'" in found["place_of_birth"]
    assert "4'00\"" in found["height"]
    assert "50-499" in found["weight"]
    assert "9 digits" in found["ssn"]


def test_typing_mistakes_are_reported_per_input() -> None:
    found = problems(
        complete(date_of_birth="02/01/1980", height_inches="14", weight="1a0", arrest_date="2024-13-01")
    )
    assert "YYYY-MM-DD" in found["date_of_birth"]
    assert "0 to 11" in found["height"]
    assert "whole number" in found["weight"]
    assert "YYYY-MM-DD" in found["arrest_date"]


def test_dates_are_checked_against_each_other() -> None:
    found = problems(complete(arrest_date="1979-05-05", offence_date=""))
    assert "before the date of birth" in found["arrest_date"]
    assert "in the future" in problems(complete(arrest_date="2024-04-30"))["arrest_date"]


def test_unknown_date_of_birth() -> None:
    subject, _ = parse_form(complete(date_of_birth="", dob_unknown=True), now=NOW, agency=AGENCY)
    assert subject.dates_of_birth == (None,)
    assert "clear the date" in problems(complete(dob_unknown=True))["date_of_birth"]


def test_agency_can_be_changed_and_is_checked() -> None:
    _, arrest = parse_form(complete(agency="ny0303001"), now=NOW, agency=AGENCY)
    assert arrest.controlling_agencies == ("NY0303001",)
    assert "NCIC ORI" in problems(complete(agency="NY-03"))["agency"]


def test_hostile_input_is_refused_with_a_problem() -> None:
    found = problems({**complete(), "name": 12, "retain": "yes", "comments": "x" * 5000, "evil": "1"})
    assert found["name"] == "must be text"
    assert found["retain"] == "must be yes or no"
    assert "at most 1000" in found["comments"]
    assert "unknown input(s) 'evil'" in found["form"]


def test_parse_form_raises_with_all_problems() -> None:
    with pytest.raises(FormInvalid) as raised:
        parse_form(complete(sex="", race=""), now=NOW, agency=AGENCY)
    assert {p.field for p in raised.value.problems} == {"sex", "race"}


def test_version_0400_limits_names_to_30() -> None:
    long_name = "ABCDEFGHIJKLMNOPQRSTUVWXYZ,ABCDEFGHIJ"
    assert problems(complete(name=long_name)) == {}
    found = check_form(complete(name=long_name), now=NOW, agency=AGENCY, version="0400").problems
    assert [p.field for p in found] == ["name"]


def test_code_tables() -> None:
    tables = code_tables()
    assert tables["sex"]["X"] == "unknown"
    assert tables["fingers"]["1"] == "right thumb"
    assert "NY" in tables["place_of_birth"] and "US" in tables["citizenship"]
