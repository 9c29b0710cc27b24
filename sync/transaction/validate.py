"""Every EBTS rule a booking must meet before it is written, all problems reported at once.

``validate(booking, now=...)`` returns the problems (empty when the booking can be sent);
``ensure_valid`` raises ``TransactionInvalid`` with all of them. Each problem names its field
("2.018 NAM") and says what to change. Dates may run up to 24 hours ahead of ``now`` (EBTS allows
that much for time zones) and may not be before 1900.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, timedelta

from sync.transaction import fields as f
from sync.transaction.codes import (
    EYE_COLOUR,
    HAIR_COLOUR,
    LEGACY_SEX,
    RACE,
    SEX,
    SUPPORTED_VERSIONS,
    WSQ_PPI,
    MissingReason,
    finger_name,
    name_length_limit,
)
from sync.transaction.errors import Problem, TransactionInvalid, brief
from sync.transaction.fields import FieldId
from sync.transaction.model import Arrest, Booking, CaptureDevice, FingerImage, Subject, TransactionHeader
from sync.transaction.names import name_problems, to_ascii
from sync.transaction.places import COUNTRY, PLACE_OF_BIRTH

FUTURE_TOLERANCE = timedelta(hours=24)
EARLIEST_DATE = date(1900, 1, 1)
FINGER_POSITIONS = range(1, 11)
HEIGHT_INCHES = range(48, 96)  # HGT 400..711
WEIGHT_POUNDS = range(50, 500)  # WGT 050..499
IMAGE_SIDE = range(10, 100_000)  # HLL/VLL
MAX_DATES_OF_BIRTH = 5
MAX_ALIASES = 10
MAX_CITIZENSHIPS = 10
MAX_SOCIAL_SECURITY_NUMBERS = 4
MAX_MISC_NUMBERS = 4
MAX_OFFENCES = 40
MAX_CONTROLLING_AGENCIES = 3
TCN_LENGTH = range(10, 41)
TEXT_LIMITS = {"AOL": 300, "OCA": 20, "ICO": 50, "DOM": 30, "MAK": 25, "MODL": 25, "SERNO": 50}

_AGENCY = re.compile(r"[A-Z0-9]{9}")
_SOC = re.compile(r"[0-9]{9}")
_MNU = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,12}")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_MISSING_REASONS = frozenset(reason.value for reason in MissingReason)


def validate(booking: Booking, *, now: datetime) -> list[Problem]:
    """All problems of ``booking``, checked against the time ``now`` (timezone-aware)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    checker = _Checker(now)
    checker.header(booking.header)
    checker.subject(booking.subject, booking.header.version)
    checker.arrest(booking.arrest, booking.subject)
    if booking.device is not None:
        checker.device(booking.device)
    checker.fingers(booking.fingers, booking.missing)
    return checker.problems


def ensure_valid(booking: Booking, *, now: datetime) -> None:
    """Raise ``TransactionInvalid`` listing every problem of ``booking``, if it has any."""
    problems = validate(booking, now=now)
    if problems:
        raise TransactionInvalid(problems)


def duplicates(values: list[int]) -> list[int]:
    """The values that occur more than once, in order of first appearance."""
    return [value for value, count in Counter(values).items() if count > 1]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _codes(table: dict[str, str]) -> str:
    return ", ".join(f"{code} {meaning}" for code, meaning in table.items())


class _Checker:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.latest = (now + FUTURE_TOLERANCE).date()
        self.problems: list[Problem] = []

    def add(self, field: FieldId, message: str) -> None:
        self.problems.append(Problem(field.label, message))

    # --- shared rules -------------------------------------------------------------------------

    def date(self, field: FieldId, value: object, what: str) -> bool:
        if not isinstance(value, date):
            self.add(field, f"{what} is missing or not a date")
            return False
        if value > self.latest:
            self.add(field, f"{what} {value.isoformat()} is in the future; check the date")
            return False
        if value < EARLIEST_DATE:
            self.add(field, f"{what} {value.isoformat()} is before 1900; check the year")
            return False
        return True

    def text(self, field: FieldId, value: object, what: str, limit: int) -> None:
        """Free text: 1..limit printable ASCII characters."""
        if not isinstance(value, str) or not value.strip():
            self.add(field, f"{what} is empty")
            return
        if not _PRINTABLE_ASCII.fullmatch(value):
            others = sorted({c for c in value if not _PRINTABLE_ASCII.fullmatch(c)})
            shown = ", ".join(repr(c) for c in others[:8])
            suggestion = to_ascii(value)
            hint = f"; e.g. {brief(suggestion)}" if _PRINTABLE_ASCII.fullmatch(suggestion) else ""
            self.add(field, f"{what} contains {shown}; use plain letters, digits and punctuation{hint}")
        if len(value) > limit:
            self.add(field, f"{what} is {len(value)} characters long; at most {limit} are allowed")

    def agency(self, field: FieldId, value: object, what: str) -> bool:
        if isinstance(value, str) and _AGENCY.fullmatch(value):
            return True
        self.add(field, f"{what} {brief(value)} must be 9 capital letters or digits (an NCIC ORI)")
        return False

    def count(self, field: FieldId, values: tuple, what: str, low: int, high: int) -> None:
        if not low <= len(values) <= high:
            wanted = f"at most {high}" if low == 0 else f"{low} to {high}"
            self.add(field, f"{len(values)} {what} given; {wanted} are allowed")

    def code(self, field: FieldId, value: object, table: dict[str, str], what: str) -> None:
        if not isinstance(value, str) or value not in table:
            self.add(field, f"{what} {brief(value)} is not a valid code; use one of: {_codes(table)}")

    # --- records ------------------------------------------------------------------------------

    def header(self, header: TransactionHeader) -> None:
        if header.version not in SUPPORTED_VERSIONS:
            supported = ", ".join(SUPPORTED_VERSIONS)
            self.add(f.VER, f"version {brief(header.version)} is not supported; use one of {supported}")
        created = header.created
        if not isinstance(created, datetime) or created.tzinfo is None or created.utcoffset() is None:
            self.add(f.DAT, "the transaction time must be a timezone-aware time from the station clock")
        elif created > self.now + FUTURE_TOLERANCE:
            self.add(f.DAT, f"transaction date {created.date()} is in the future; check the clock")
        if header.priority is not None and not (_is_int(header.priority) and 1 <= header.priority <= 9):
            self.add(f.PRY, f"priority {brief(header.priority)} must be 1 (rapid) to 9 (delayed) or none")
        self.agency(f.DAI, header.destination, "destination")
        if self.agency(f.ORI, header.ori, "ORI") and header.ori[:2] not in PLACE_OF_BIRTH:
            self.add(f.ORI, f"ORI {brief(header.ori)} must begin with a state or country code (POB)")
        tcn = header.tcn
        if not (isinstance(tcn, str) and len(tcn) in TCN_LENGTH and _PRINTABLE_ASCII.fullmatch(tcn)):
            self.add(f.TCN, f"TCN {brief(tcn)} must be 10 to 40 printable ASCII characters")
        if header.domain is not None:
            self.text(f.DOM, header.domain, "domain", TEXT_LIMITS["DOM"])

    def subject(self, subject: Subject, version: str) -> None:
        name_limit = name_length_limit(version)
        for message in name_problems(subject.name, name_limit):
            self.add(f.NAM, message)
        self.count(f.AKA, subject.aliases, "aliases", 0, MAX_ALIASES)
        for number, alias in enumerate(subject.aliases, start=1):
            for message in name_problems(alias, name_limit):
                self.add(f.AKA, f"alias {number}: {message}")
        self.code(f.POB, subject.place_of_birth, PLACE_OF_BIRTH, "place of birth")
        self.count(f.CTZ, subject.citizenship, "citizenships", 0, MAX_CITIZENSHIPS)
        for country in subject.citizenship:
            if not isinstance(country, str) or country not in COUNTRY:
                self.add(f.CTZ, f"citizenship {brief(country)} is not a known country code")
        self.dates_of_birth(subject.dates_of_birth)
        if subject.sex in LEGACY_SEX:
            self.add(f.SEX, f"{subject.sex!r} ({LEGACY_SEX[subject.sex]}) is a legacy code; use M, F or X")
        else:
            self.code(f.SEX, subject.sex, SEX, "sex")
        self.code(f.RAC, subject.race, RACE, "race")
        height = subject.height_inches
        if height is not None and not (_is_int(height) and height in HEIGHT_INCHES):
            shown = f"{height // 12}'{height % 12:02d}\"" if _is_int(height) else repr(height)
            self.add(f.HGT, f"height {shown} is outside 4'00\" to 7'11\"; measure again or leave it unknown")
        weight = subject.weight_pounds
        if weight is not None and not (_is_int(weight) and weight in WEIGHT_POUNDS):
            self.add(f.WGT, f"weight {brief(weight)} lb is outside 50-499 lb; weigh again or leave unknown")
        self.code(f.EYE, subject.eye_colour, EYE_COLOUR, "eye colour")
        self.code(f.HAI, subject.hair_colour, HAIR_COLOUR, "hair colour")
        socials = subject.social_security_numbers
        self.count(f.SOC, socials, "social security numbers", 0, MAX_SOCIAL_SECURITY_NUMBERS)
        for number in socials:
            if not (isinstance(number, str) and _SOC.fullmatch(number)):
                self.add(f.SOC, f"social security number {brief(number)} must be 9 digits without dashes")
        self.count(f.MNU, subject.misc_numbers, "miscellaneous numbers", 0, MAX_MISC_NUMBERS)
        for number in subject.misc_numbers:
            if not (isinstance(number, str) and _MNU.fullmatch(number)):
                self.add(f.MNU, f"{brief(number)} must be a 2-letter type, hyphen, 1-12 letters or digits")

    def dates_of_birth(self, dates: tuple) -> None:
        self.count(f.DOB, dates, "dates of birth", 1, MAX_DATES_OF_BIRTH)
        if None in dates and len(dates) > 1:
            self.add(f.DOB, "an unknown date of birth (00000000) cannot be given with other dates of birth")
        for value in dates:
            if value is not None:
                self.date(f.DOB, value, "date of birth")

    def arrest(self, arrest: Arrest, subject: Subject) -> None:
        if not isinstance(arrest.retain, bool):
            self.add(f.RET, "say whether the arrest is retained (yes or no)")
        births = [d for d in subject.dates_of_birth if isinstance(d, date)]
        arrested = self.date(f.DOA, arrest.date, "arrest date")
        if arrested and births and arrest.date < min(births):
            self.add(f.DOA, f"arrest date {arrest.date.isoformat()} is before the date of birth")
        self.count(f.ASL, arrest.offences, "offences", 1, MAX_OFFENCES)
        for number, offence in enumerate(arrest.offences, start=1):
            self.text(f.ASL, offence.literal, f"offence {number} text", TEXT_LIMITS["AOL"])
            what = f"offence {number} date"
            if offence.date is None or not self.date(f.ASL, offence.date, what):
                continue
            if arrested and offence.date > arrest.date:
                self.add(f.ASL, f"{what} {offence.date} is after the arrest date")
            if births and offence.date < min(births):
                self.add(f.ASL, f"{what} {offence.date} is before the date of birth")
        self.count(f.CRI, arrest.controlling_agencies, "controlling agencies", 1, MAX_CONTROLLING_AGENCIES)
        for agency in arrest.controlling_agencies:
            self.agency(f.CRI, agency, "controlling agency")
        if arrest.case_number is not None:
            self.text(f.OCA, arrest.case_number, "case number", TEXT_LIMITS["OCA"])
        if arrest.comments is not None:
            self.text(f.ICO, arrest.comments, "comments", TEXT_LIMITS["ICO"])

    def device(self, device: CaptureDevice) -> None:
        self.text(f.IMA, device.make, "device make", TEXT_LIMITS["MAK"])
        self.text(f.IMA, device.model, "device model", TEXT_LIMITS["MODL"])
        self.text(f.IMA, device.serial_number, "device serial number", TEXT_LIMITS["SERNO"])

    def fingers(self, fingers: tuple[FingerImage, ...], missing: tuple) -> None:
        if not fingers:
            self.add(f.FGP, "no finger was printed; a booking needs at least one finger image")
        for finger in fingers:
            self.finger(finger)
        captured = [finger.position for finger in fingers]
        for position in duplicates(captured):
            self.add(f.FGP, f"{finger_name(position)} has {captured.count(position)} images; keep one")
        absent = [entry.position for entry in missing]
        for entry in missing:
            name = finger_name(entry.position)
            if entry.position not in FINGER_POSITIONS:
                self.add(f.AMP, f"{name} is not a finger position 1-10")
            if not (isinstance(entry.reason, str) and entry.reason in _MISSING_REASONS):
                reason = brief(entry.reason)
                self.add(f.AMP, f"{name}: {reason} must be XX (amputated) or UP (unable to print)")
            if entry.position in captured:
                self.add(f.AMP, f"{name} has an image and is also marked {entry.reason}; remove one")
        for position in duplicates(absent):
            self.add(f.AMP, f"{finger_name(position)} is marked missing more than once")
        for position in FINGER_POSITIONS:
            if position not in captured and position not in absent:
                self.add(f.AMP, f"{finger_name(position)} has no image and is not marked XX or UP")

    def finger(self, finger: FingerImage) -> None:
        name = finger_name(finger.position)
        if not (_is_int(finger.position) and finger.position in FINGER_POSITIONS):
            self.add(f.FGP, f"{name} is not a finger position 1 (right thumb) to 10 (left little)")
        if not finger.wsq:
            self.add(f.DATA, f"{name} has no image data")
        for field, side, what in ((f.HLL, finger.width, "width"), (f.VLL, finger.height, "height")):
            if not (_is_int(side) and side in IMAGE_SIDE):
                self.add(field, f"{name}: image {what} {brief(side)} must be 10 to 99999 pixels")
        if finger.ppi != WSQ_PPI:
            self.add(f.THPS, f"{name}: {brief(finger.ppi)} ppi is not supported; WSQ images are 500 ppi")
        score = finger.nfiq2
        if score is not None and not (_is_int(score) and 0 <= score <= 100):
            self.add(f.FQM, f"{name}: NFIQ 2 score {brief(score)} must be 0-100, or not computed")
        self.date(f.FCD, finger.captured, f"{name}: capture date")
