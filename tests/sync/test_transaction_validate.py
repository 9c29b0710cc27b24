"""Every validation rule, with its field number; all problems reported at once, as plain data."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import pytest
from transaction_samples import (
    NOW,
    TODAY,
    finger,
    sample_booking,
    with_arrest,
    with_header,
    with_subject,
)

from sync.transaction import (
    Booking,
    CaptureDevice,
    MissingFinger,
    MissingReason,
    Offence,
    Problem,
    TransactionInvalid,
    ensure_valid,
    parse_date_of_birth,
    validate,
)

FUTURE = TODAY + timedelta(days=2)
B = sample_booking()


def fingers(*images) -> Callable[[Booking], Booking]:
    return lambda b: replace(b, fingers=images)


def missing(*entries) -> Callable[[Booking], Booking]:
    return lambda b: replace(b, missing=entries)


def header(**changes) -> Callable[[Booking], Booking]:
    return lambda b: with_header(b, **changes)


def subject(**changes) -> Callable[[Booking], Booking]:
    return lambda b: with_subject(b, **changes)


def arrest(**changes) -> Callable[[Booking], Booking]:
    return lambda b: with_arrest(b, **changes)


RULES = [
    (header(version="0300"), "1.002 VER", "not supported"),
    (header(created=NOW.replace(tzinfo=None)), "1.005 DAT", "timezone-aware"),
    (header(created=NOW + timedelta(hours=25)), "1.005 DAT", "in the future"),
    (header(priority=0), "1.006 PRY", "1 (rapid) to 9"),
    (header(destination="FBI"), "1.007 DAI", "9 capital letters"),
    (header(ori="ny0303000"), "1.008 ORI", "9 capital letters"),
    (header(ori="QQ0303000"), "1.008 ORI", "state or country code"),
    (header(tcn="X" * 41), "1.009 TCN", "10 to 40"),
    (header(tcn="NY0303000\x1d01"), "1.009 TCN", "printable"),
    (header(domain="NO\x1eRAM"), "1.013 DOM", "contains"),
    (subject(name="Doe,John"), "2.018 NAM", "'DOE,JOHN'"),
    (subject(name="DOE JOHN"), "2.018 NAM", "comma"),
    (subject(name="DOE,,JOHN"), "2.018 NAM", "2 commas"),
    (subject(name="DOE,-JOHN"), "2.018 NAM", "starting and ending with a letter"),
    (subject(name="Иванов,Иван"), "2.018 NAM", "passport"),
    (subject(name="DOE,JOHN 3RD"), "2.018 NAM", "'3'"),
    (subject(name=""), "2.018 NAM", "missing"),
    (subject(aliases=("DOE,J",) * 11), "2.019 AKA", "at most 10"),
    (subject(aliases=("JOHNNY",)), "2.019 AKA", "alias 1"),
    (subject(place_of_birth="ZZ"), "2.020 POB", "not a valid code"),
    (subject(citizenship=("NY",)), "2.021 CTZ", "not a known country"),
    (subject(dates_of_birth=()), "2.022 DOB", "0 dates of birth"),
    (subject(dates_of_birth=(date(1980, 1, 1),) * 6), "2.022 DOB", "1 to 5"),
    (subject(dates_of_birth=(None, date(1980, 1, 1))), "2.022 DOB", "unknown date of birth"),
    (subject(dates_of_birth=(FUTURE,)), "2.022 DOB", "in the future"),
    (subject(dates_of_birth=(date(1850, 1, 1),)), "2.022 DOB", "before 1900"),
    (subject(sex="Q"), "2.024 SEX", "M male"),
    (subject(sex="Y"), "2.024 SEX", "legacy code"),
    (subject(race="H"), "2.025 RAC", "not a valid code"),
    (subject(height_inches=47), "2.027 HGT", "3'11\""),
    (subject(height_inches=96), "2.027 HGT", "outside 4'00\" to 7'11\""),
    (subject(weight_pounds=49), "2.029 WGT", "50-499"),
    (subject(weight_pounds=500), "2.029 WGT", "50-499"),
    (subject(eye_colour="BRN"), "2.031 EYE", "BRO brown"),
    (subject(hair_colour="BRN"), "2.032 HAI", "BRO brown"),
    (subject(social_security_numbers=("123-45-6789",)), "2.016 SOC", "9 digits"),
    (subject(social_security_numbers=("123456789",) * 5), "2.016 SOC", "at most 4"),
    (subject(misc_numbers=("A012345678",)), "2.017 MNU", "2-letter type"),
    (arrest(retain="yes"), "2.005 RET", "yes or no"),
    (arrest(date=FUTURE), "2.045 DOA", "in the future"),
    (arrest(date=date(1979, 12, 31)), "2.045 DOA", "before the date of birth"),
    (arrest(offences=()), "2.047 ASL", "0 offences"),
    (arrest(offences=(Offence("THEFT"),) * 41), "2.047 ASL", "1 to 40"),
    (arrest(offences=(Offence(" "),)), "2.047 ASL", "offence 1 text is empty"),
    (arrest(offences=(Offence("VOL À LA TIRE"),)), "2.047 ASL", "'VOL A LA TIRE'"),
    (arrest(offences=(Offence("X" * 301),)), "2.047 ASL", "at most 300"),
    (arrest(offences=(Offence("THEFT\x1d2.018:EVIL,ONE"),)), "2.047 ASL", "'\\x1d'"),
    (arrest(offences=(Offence("THEFT", TODAY + timedelta(days=1)),)), "2.047 ASL", "after the arrest date"),
    (arrest(offences=(Offence("THEFT", FUTURE),)), "2.047 ASL", "in the future"),
    (arrest(offences=(Offence("THEFT", date(1970, 1, 1)),)), "2.047 ASL", "before the date of birth"),
    (arrest(controlling_agencies=()), "2.073 CRI", "0 controlling agencies"),
    (arrest(controlling_agencies=("NY0303000",) * 4), "2.073 CRI", "1 to 3"),
    (arrest(controlling_agencies=("NYPD",)), "2.073 CRI", "9 capital letters"),
    (arrest(case_number="X" * 21), "2.009 OCA", "at most 20"),
    (arrest(comments="X" * 51), "2.056 ICO", "at most 50"),
    (lambda b: replace(b, device=CaptureDevice("", "R307", "1")), "2.067 IMA", "device make is empty"),
    (fingers(), "14.013 FGP", "at least one finger"),
    (fingers(finger(1), finger(1)), "14.013 FGP", "finger 1 (right thumb) has 2 images"),
    (fingers(finger(11)), "14.013 FGP", "finger position 1"),
    (fingers(finger(1, wsq=b"")), "14.999 DATA", "no image data"),
    (fingers(finger(1, width=5)), "14.006 HLL", "10 to 99999"),
    (fingers(finger(1, height=100_000)), "14.007 VLL", "10 to 99999"),
    (fingers(finger(1, ppi=1000)), "14.009 THPS", "500 ppi"),
    (fingers(finger(1, nfiq2=101)), "14.024 FQM", "0-100"),
    (fingers(finger(1, captured=FUTURE)), "14.005 FCD", "in the future"),
    (missing(MissingFinger(1, MissingReason.AMPUTATED)), "2.084 AMP", "has an image and is also marked XX"),
    (
        missing(MissingFinger(9, "XX"), MissingFinger(9, "UP"), MissingFinger(10, "UP")),
        "2.084 AMP",
        "more than once",
    ),
    (missing(MissingFinger(0, "XX")), "2.084 AMP", "not a finger position"),
    (missing(MissingFinger(9, "ZZ"), MissingFinger(10, "UP")), "2.084 AMP", "XX (amputated) or UP"),
    (missing(MissingFinger(9, "XX")), "2.084 AMP", "finger 10 (left little) has no image and is not marked"),
]


def test_the_sample_booking_is_valid() -> None:
    assert validate(B, now=NOW) == []


@pytest.mark.parametrize(("mutate", "field", "fragment"), RULES, ids=[f"{r[1]}:{r[2]}" for r in RULES])
def test_each_rule_reports_its_field(mutate, field: str, fragment: str) -> None:
    problems = validate(mutate(B), now=NOW)
    assert any(p.field == field and fragment in p.message for p in problems), problems


def test_dates_may_run_a_day_ahead_for_time_zones() -> None:
    tomorrow = TODAY + timedelta(days=1)
    booking = with_header(with_arrest(B, date=tomorrow), created=NOW + timedelta(hours=23))
    assert validate(booking, now=NOW) == []


def test_name_length_is_30_under_0400_and_50_from_0500() -> None:
    name = "WOLFESCHLEGELSTEINHAUSENBERGERDORFF,HUBERT"  # 42 characters
    assert validate(with_subject(B, name=name), now=NOW) == []
    problems = validate(with_header(with_subject(B, name=name), version="0400"), now=NOW)
    assert [(p.field, "at most 30" in p.message) for p in problems] == [("2.018 NAM", True)]
    problems = validate(with_subject(B, name=name + "X" * 9), now=NOW)
    assert [(p.field, "at most 50" in p.message) for p in problems] == [("2.018 NAM", True)]


def test_an_entirely_unknown_date_of_birth_is_allowed() -> None:
    assert validate(with_subject(B, dates_of_birth=(None,)), now=NOW) == []


def test_unknown_height_and_weight_are_allowed() -> None:
    assert validate(with_subject(B, height_inches=None, weight_pounds=None), now=NOW) == []


def test_all_problems_are_reported_at_once() -> None:
    broken = with_header(B, ori="BAD", tcn="X")
    broken = with_subject(broken, name="Иванов,Иван", sex="Q", dates_of_birth=(FUTURE,), eye_colour="??")
    broken = with_arrest(broken, offences=(), controlling_agencies=("NYPD",))
    broken = replace(broken, fingers=(finger(1), finger(1, nfiq2=300)), missing=())
    with pytest.raises(TransactionInvalid) as caught:
        ensure_valid(broken, now=NOW)
    fields = {problem.field for problem in caught.value.problems}
    expected = {"1.008 ORI", "1.009 TCN", "2.018 NAM", "2.024 SEX", "2.022 DOB", "2.031 EYE", "2.047 ASL"}
    assert expected | {"2.073 CRI", "14.013 FGP", "14.024 FQM", "2.084 AMP"} <= fields
    assert len(caught.value.problems) >= 15  # every finger 2..10 is reported on its own


def test_problems_are_plain_data_for_an_errt_like_answer() -> None:
    with pytest.raises(TransactionInvalid) as caught:
        ensure_valid(with_subject(B, sex="Q", race="H"), now=NOW)
    body = json.loads(json.dumps(caught.value.as_dicts()))
    assert [entry["field"] for entry in body] == ["2.024 SEX", "2.025 RAC"]
    assert "2.024 SEX: sex 'Q' is not a valid code" in str(caught.value)


def test_errors_survive_pickling_with_their_problems() -> None:
    error = TransactionInvalid([Problem("2.018 NAM", "missing")])
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is TransactionInvalid and again.problems == error.problems


def test_validate_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        validate(B, now=NOW.replace(tzinfo=None))


def test_hostile_long_values_are_not_echoed_in_full() -> None:
    problems = validate(with_subject(B, name="\u0416" * 100_000), now=NOW)
    assert all(len(p.message) < 400 for p in problems)


@pytest.mark.parametrize("typed", ["19800000", "19800100", "00000102", "1980"])
def test_a_partial_or_malformed_date_of_birth_cannot_be_entered(typed: str) -> None:
    with pytest.raises(ValueError, match=r"partial|CCYYMMDD"):
        parse_date_of_birth(typed)


def test_a_date_of_birth_is_full_or_entirely_unknown() -> None:
    assert parse_date_of_birth("19800102") == date(1980, 1, 2)
    assert parse_date_of_birth("00000000") is None
