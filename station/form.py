"""The kiosk's booking form: typed text in, ``Subject`` and ``Arrest`` out, problems by form field.

The page posts the form as it stands (partial while the officer types). ``check_form`` answers
every problem, each tied to the name of the input it belongs to, so the page can show it next to
that input; ``parse_form`` returns the booking parts or raises ``FormInvalid`` with the same list.

The EBTS rules are not repeated here: the typed values are parsed into the model
(``sync.transaction.model``) and checked by ``sync.transaction.validate``; its problems, which
name EBTS fields ("2.018 NAM"), are mapped to the inputs below. Only what the model cannot hold
(a date that is not a date, a height that is not a number) is reported while parsing.

Inputs (all strings unless noted; empty = not given):

====================  ==========================================================================
name                  SURNAME,GIVEN MIDDLE as typed; sent romanised (``romanise_name``), shown back
aliases               other names, one per line
date_of_birth         YYYY-MM-DD; ``dob_unknown`` (bool) when entirely unknown
place_of_birth        POB code (``places.PLACE_OF_BIRTH``); citizenship: a country code, optional
sex, race, eye, hair  codes of ``codes.py``
height_feet/_inches   both empty = unknown; problems are reported as ``height``
weight                pounds; empty = unknown
ssn, misc_number      optional; one value each
arrest_date           YYYY-MM-DD
offences              one offence per line; ``offence_date`` (optional) applies to each
agency                controlling agency ORI (defaults to the station's ORI)
case_number           OCA, optional; comments: ICO, optional
retain, rap_sheet, treat_as_adult   booleans
====================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sync.transaction import (
    Arrest,
    Booking,
    FingerImage,
    Offence,
    Problem,
    Subject,
    TransactionHeader,
    romanise_name,
    validate,
)
from sync.transaction.codes import DEFAULT_VERSION, EYE_COLOUR, FINGER_NAMES, HAIR_COLOUR, RACE, SEX
from sync.transaction.places import COUNTRY, PLACE_OF_BIRTH

# EBTS field label -> the form input its problems belong to
FIELD_INPUTS = {
    "2.018 NAM": "name",
    "2.019 AKA": "aliases",
    "2.020 POB": "place_of_birth",
    "2.021 CTZ": "citizenship",
    "2.022 DOB": "date_of_birth",
    "2.024 SEX": "sex",
    "2.025 RAC": "race",
    "2.027 HGT": "height",
    "2.029 WGT": "weight",
    "2.031 EYE": "eye",
    "2.032 HAI": "hair",
    "2.016 SOC": "ssn",
    "2.017 MNU": "misc_number",
    "2.045 DOA": "arrest_date",
    "2.047 ASL": "offences",
    "2.073 CRI": "agency",
    "2.005 RET": "retain",
    "2.009 OCA": "case_number",
    "2.056 ICO": "comments",
}
INPUTS = (
    "name", "aliases", "date_of_birth", "dob_unknown", "place_of_birth", "citizenship", "sex", "race",
    "height_feet", "height_inches", "weight", "eye", "hair", "ssn", "misc_number", "arrest_date",
    "offences", "offence_date", "agency", "case_number", "comments", "retain", "rap_sheet",
    "treat_as_adult",
)  # fmt: skip
MAX_INPUT_CHARACTERS = 1000
MAX_OFFENCE_LINES = 40

# Validation runs on a whole booking; these stand in for the parts the form does not fill.
_PLACEHOLDER_ORI = "NY0000000"
_PLACEHOLDER_FINGERS = tuple(
    FingerImage(position=p, wsq=b"\0", width=256, height=288, nfiq2=None, captured=date(2000, 1, 1))
    for p in FINGER_NAMES
)


class FormInvalid(Exception):
    """The form has problems; ``problems`` lists them all with the inputs they belong to."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(problem) for problem in problems))


@dataclass
class FormResult:
    """What a form amounts to: the booking parts (when complete enough to build) and every problem."""

    subject: Subject | None
    arrest: Arrest | None
    problems: list[Problem] = field(default_factory=list)
    name_sent: str = ""  # the name as it will be sent, to show back to the officer

    def as_dict(self) -> dict[str, Any]:
        return {"problems": [p.as_dict() for p in self.problems], "name_sent": self.name_sent}


def code_tables() -> dict[str, Any]:
    """The pickers' choices: code -> meaning for each coded input, and the finger names."""
    return {
        "sex": SEX,
        "race": RACE,
        "eye": EYE_COLOUR,
        "hair": HAIR_COLOUR,
        "place_of_birth": PLACE_OF_BIRTH,
        "citizenship": COUNTRY,
        "fingers": {str(position): name for position, name in FINGER_NAMES.items()},
    }


def check_form(
    form: Mapping[str, Any], *, now: datetime, agency: str, version: str = DEFAULT_VERSION
) -> FormResult:
    """Every problem of ``form`` (partial or complete) and, if it could be built, the booking parts."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    parser = _Parser(form, now.astimezone().date())
    subject, arrest = parser.build(agency)
    problems = list(parser.problems)
    if subject is not None and arrest is not None:
        header = TransactionHeader(
            ori=_PLACEHOLDER_ORI, destination=_PLACEHOLDER_ORI, tcn="X" * 10, created=now, version=version
        )
        booking = Booking(header, subject, arrest, _PLACEHOLDER_FINGERS)
        reported = {problem.field for problem in problems}
        for problem in validate(booking, now=now):
            target = FIELD_INPUTS.get(problem.field)
            if target is not None and target not in reported:
                problems.append(Problem(target, problem.message))
    complete = not problems
    return FormResult(subject if complete else None, arrest if complete else None, problems, parser.name_sent)


def parse_form(
    form: Mapping[str, Any], *, now: datetime, agency: str, version: str = DEFAULT_VERSION
) -> tuple[Subject, Arrest]:
    """The booking parts of a complete, valid form; ``FormInvalid`` with every problem otherwise."""
    result = check_form(form, now=now, agency=agency, version=version)
    if result.problems or result.subject is None or result.arrest is None:
        raise FormInvalid(result.problems)
    return result.subject, result.arrest


class _Parser:
    """Turns typed strings into model values; what cannot be parsed becomes a problem."""

    def __init__(self, form: Mapping[str, Any], today: date) -> None:
        if not isinstance(form, Mapping):
            raise FormInvalid([Problem("form", "the form must be an object of input names and values")])
        self.form = form
        self.today = today
        self.problems: list[Problem] = []
        self.name_sent = ""
        unknown = sorted(str(key) for key in form if key not in INPUTS)
        if unknown:
            shown = ", ".join(repr(key[:40]) for key in unknown[:5])
            self.add("form", f"unknown input(s) {shown}; the form has: {', '.join(INPUTS)}")

    def add(self, key: str, message: str) -> None:
        self.problems.append(Problem(key, message))

    def text(self, key: str) -> str:
        value = self.form.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.problems.append(Problem(key, "must be text"))
            return ""
        if len(value) > MAX_INPUT_CHARACTERS:
            self.add(key, f"is {len(value)} characters long; at most {MAX_INPUT_CHARACTERS}")
            return ""
        return value.strip()

    def flag(self, key: str, default: bool) -> bool:
        value = self.form.get(key, default)
        if not isinstance(value, bool):
            self.problems.append(Problem(key, "must be yes or no"))
            return default
        return value

    def lines(self, key: str) -> list[str]:
        return [line.strip() for line in self.text(key).splitlines() if line.strip()]

    def day(self, key: str, what: str, *, required: bool) -> date | None:
        text = self.text(key)
        if not text:
            if required:
                self.problems.append(Problem(key, f"enter the {what}"))
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.problems.append(Problem(key, f"{text[:20]!r} is not a date; use YYYY-MM-DD"))
            return None

    def number(self, key: str, what: str, report_as: str | None = None) -> int | None:
        text = self.text(key)
        if not text:
            return None
        if not text.isdigit() or len(text) > 4:
            self.problems.append(Problem(report_as or key, f"{what} {text[:10]!r} must be a whole number"))
            return None
        return int(text)

    def height(self) -> int | None:
        feet = self.number("height_feet", "feet", "height")
        inches = self.number("height_inches", "inches", "height")
        if feet is None and inches is None:
            return None
        if inches is not None and inches > 11:
            self.problems.append(Problem("height", "inches must be 0 to 11 (feet and inches)"))
            return None
        return (feet or 0) * 12 + (inches or 0)

    def build(self, agency: str) -> tuple[Subject | None, Arrest | None]:
        typed_name = self.text("name")
        self.name_sent = romanise_name(typed_name) if typed_name else ""
        if self.flag("dob_unknown", False):
            dates_of_birth: tuple[date | None, ...] = (None,)
            if self.text("date_of_birth"):
                self.problems.append(
                    Problem("date_of_birth", "clear the date, or untick 'date of birth unknown'")
                )
        else:
            born = self.day("date_of_birth", "date of birth (or tick 'unknown')", required=True)
            dates_of_birth = (born,) if born else ()
        citizenship = self.text("citizenship")
        ssn, misc = self.text("ssn"), self.text("misc_number")
        subject = Subject(
            name=self.name_sent,
            place_of_birth=self.text("place_of_birth"),
            dates_of_birth=dates_of_birth,
            sex=self.text("sex"),
            race=self.text("race"),
            height_inches=self.height(),
            weight_pounds=self.number("weight", "weight"),
            eye_colour=self.text("eye"),
            hair_colour=self.text("hair"),
            aliases=tuple(romanise_name(alias) for alias in self.lines("aliases")),
            citizenship=(citizenship,) if citizenship else (),
            social_security_numbers=(ssn.replace("-", "").replace(" ", ""),) if ssn else (),
            misc_numbers=(misc.upper(),) if misc else (),
        )
        arrested = self.day("arrest_date", "arrest date", required=True)
        offence_date = self.day("offence_date", "offence date", required=False)
        literals = self.lines("offences")
        if len(literals) > MAX_OFFENCE_LINES:
            self.add("offences", f"{len(literals)} offences; at most {MAX_OFFENCE_LINES}")
            literals = literals[:MAX_OFFENCE_LINES]
        if not literals:
            self.problems.append(Problem("offences", "enter the offence charged (one per line)"))
        case_number, comments = self.text("case_number"), self.text("comments")
        agency_typed = self.text("agency").upper() or agency
        arrest = Arrest(
            date=arrested or self.today,
            offences=tuple(Offence(literal, offence_date) for literal in literals),
            controlling_agencies=(agency_typed,),
            retain=self.flag("retain", True),
            case_number=case_number or None,
            comments=comments or None,
            rap_sheet=self.flag("rap_sheet", False),
            treat_as_adult=self.flag("treat_as_adult", False),
        )
        return subject, arrest
