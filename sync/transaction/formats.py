"""Text forms of dates, times, height and weight on the wire, both ways.

Parsers raise ``ValueError`` with a message fit for a problem report; the decoder attaches the
field. Dates are CCYYMMDD; GMT timestamps CCYYMMDDHHMMSSZ.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

UNKNOWN_DATE_OF_BIRTH = "00000000"
UNKNOWN_MEASURE = "000"  # 2.027 HGT / 2.029 WGT

_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_GMT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})Z")
_DIGITS = re.compile(r"[0-9]{1,9}")


def format_date(value: date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def parse_date(text: str) -> date:
    match = _DATE.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a date in the form CCYYMMDD")
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        raise ValueError(f"{text!r} is not a calendar date") from None


def parse_date_of_birth(text: str) -> date | None:
    """A DOB: a full date, or ``None`` for 00000000 (entirely unknown). Partial dates are refused."""
    if text == UNKNOWN_DATE_OF_BIRTH:
        return None
    match = _DATE.fullmatch(text)
    if match and any(not part.strip("0") for part in match.groups()):
        raise ValueError(
            f"{text!r} is a partial date; give the full date of birth, or 00000000 if it is entirely unknown"
        )
    return parse_date(text)


def format_gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def parse_gmt(text: str) -> datetime:
    match = _GMT.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a GMT timestamp in the form CCYYMMDDHHMMSSZ")
    try:
        return datetime(*map(int, match.groups()), tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{text!r} is not a real date and time") from None


def format_height(inches: int | None) -> str:
    """Feet then two digits of inches (70 -> "510"); "000" when unknown."""
    if inches is None:
        return UNKNOWN_MEASURE
    feet, rest = divmod(inches, 12)
    return f"{feet}{rest:02d}"


def parse_height(text: str) -> int | None:
    """Inches from "510" (feet + inches) or "N70" (inches); ``None`` for "000"."""
    if text == UNKNOWN_MEASURE:
        return None
    if re.fullmatch(r"N[0-9]{2}", text):
        return int(text[1:])
    if re.fullmatch(r"[0-9]{3}", text) and int(text[1:]) <= 11:
        return int(text[0]) * 12 + int(text[1:])
    raise ValueError(f"{text!r} is not a height: feet then inches 00-11 (510), N then inches, or 000")


def format_weight(pounds: int | None) -> str:
    return UNKNOWN_MEASURE if pounds is None else f"{pounds:03d}"


def parse_weight(text: str) -> int | None:
    if not re.fullmatch(r"[0-9]{3}", text):
        raise ValueError(f"{text!r} is not a weight: three digits of pounds, or 000")
    return None if text == UNKNOWN_MEASURE else int(text)


def parse_number(text: str) -> int:
    """A non-negative decimal integer of at most nine digits."""
    if not _DIGITS.fullmatch(text):
        raise ValueError(f"{text!r} is not a number")
    return int(text)
