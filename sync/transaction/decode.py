"""ANSI/NIST-ITL bytes -> typed ``Booking``; anything else -> ``MalformedTransaction``.

Three steps, each collecting problems: ``framing.scan`` bounds the work on untrusted bytes;
nistitl parses (any exception it raises is wrapped); then every field this system writes is read
back into its type: missing mandatory fields, non-numbers, impossible or partial dates, values
this station never sends (rolled impressions, non-WSQ images), a CNT that disagrees with the
records, or two images of one finger are all reported together.

``decode`` checks form, not content: run ``validate`` on the result for the EBTS rules (codes,
lengths, dates not in the future), as the centre does before accepting a transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

import nistitl

from sync.transaction import fields as f
from sync.transaction.codes import (
    BITS_PER_PIXEL,
    COMPRESSION_WSQ,
    IMPRESSION_LIVE_SCAN_PLAIN,
    MAX_TRANSACTION_BYTES,
    NFIQ2_PRODUCT_CODES,
    NFIQ2_VENDOR_ID,
    QUALITY_FAILED,
    QUALITY_NOT_COMPUTED,
    SCALE_PIXELS_PER_INCH,
    TOT_CAR,
    MissingReason,
    finger_name,
)
from sync.transaction.errors import MalformedTransaction, Problem, brief
from sync.transaction.fields import FieldId
from sync.transaction.formats import (
    parse_date,
    parse_date_of_birth,
    parse_gmt,
    parse_height,
    parse_number,
    parse_weight,
)
from sync.transaction.framing import WHOLE, scan
from sync.transaction.model import (
    Arrest,
    Booking,
    CaptureDevice,
    FingerImage,
    MissingFinger,
    Offence,
    Subject,
    TransactionHeader,
)
from sync.transaction.validate import duplicates

T = TypeVar("T")
MAX_VALUE_LENGTH = 1000  # longer text values are reported, not parsed or echoed
_YES_NO = {"Y": True, "N": False}
_MISSING_REASONS = {reason.value: reason for reason in MissingReason}


def decode(data: bytes, *, max_bytes: int = MAX_TRANSACTION_BYTES) -> Booking:
    """The booking in ``data``; ``MalformedTransaction`` (or ``TransactionTooLarge``) otherwise."""
    spans = scan(data, max_bytes=max_bytes)
    records = _parse(bytes(data))
    if [record.type for record in records] != [span.type for span in spans]:
        raise MalformedTransaction([Problem(WHOLE, "the records do not match their LEN fields")])
    problems: list[Problem] = []
    type2 = [record for record in records if record.type == 2]
    images = [record for record in records if record.type == 14]
    if len(type2) != 1 or not images or sum(record.type == 1 for record in records) != 1:
        message = f"a booking has one Type-1, one Type-2 and 1-14 Type-14 records, not {_census(records)}"
        raise MalformedTransaction([Problem(WHOLE, message)])
    _check_cnt(records, problems)
    header = _header(_Reader(records[0], problems))
    subject, arrest, missing, device = _descriptors(_Reader(type2[0], problems))
    fingers = [_finger(_Reader(record, problems), header.ori) for record in images]
    positions = [finger.position for finger in fingers if finger is not None]
    for position in duplicates(positions):
        problems.append(
            Problem(f.FGP.label, f"{finger_name(position)} has {positions.count(position)} image records")
        )
    if problems:
        raise MalformedTransaction(problems)
    return Booking(header, subject, arrest, tuple(fingers), missing, device)


def _parse(data: bytes) -> list[nistitl.AsciiRecord]:
    message = nistitl.Message()
    try:
        message.parse(data)
        return list(message)
    except Exception as error:  # nistitl raises NistException, TypeError, ValueError, IndexError ...
        reason = str(error)[:200]
        raise MalformedTransaction([Problem(WHOLE, f"not readable as ANSI/NIST-ITL: {reason}")]) from error


def _census(records: list[nistitl.AsciiRecord]) -> str:
    types = [record.type for record in records]
    return ", ".join(f"{types.count(kind)} Type-{kind}" for kind in sorted(set(types)))


def _normalise(value: object) -> list[list[str]]:
    """nistitl's parsed value (a string, or a list of strings and lists) as subfields of items."""
    if not isinstance(value, list):
        return [[str(value)]]
    return [[str(item) for item in sub] if isinstance(sub, list) else [str(sub)] for sub in value]


class _Reader:
    """Reads the fields of one parsed record into types, recording a problem for each fault."""

    def __init__(self, record: nistitl.AsciiRecord, problems: list[Problem], prefix: str = "") -> None:
        self.record = record
        self.problems = problems
        self.prefix = prefix

    def fault(self, field: FieldId, message: str) -> None:
        self.problems.append(Problem(field.label, self.prefix + message))

    def subfields(self, field: FieldId, required: bool = True) -> list[list[str]] | None:
        raw = self.record[field.number]
        if raw is None or raw.value in ("", []):
            if required:
                self.fault(field, "is missing")
            return None
        return _normalise(raw.value)

    def values(self, field: FieldId, required: bool = True) -> list[str]:
        """A field of repeated single values (e.g. 2.022 DOB)."""
        subfields = self.subfields(field, required) or []
        if any(len(sub) != 1 for sub in subfields):
            self.fault(field, "each repetition must hold one value")
            return []
        return [sub[0] for sub in subfields]

    def text(self, field: FieldId, required: bool = True) -> str | None:
        subfields = self.subfields(field, required)
        if subfields is None:
            return None
        if len(subfields) != 1 or len(subfields[0]) != 1:
            self.fault(field, f"must hold one value, not {sum(map(len, subfields))}")
            return None
        value = subfields[0][0]
        if len(value) > MAX_VALUE_LENGTH:
            self.fault(field, f"value of {len(value)} characters is far too long")
            return None
        return value

    def convert(self, field: FieldId, text: str | None, parser: Callable[[str], T]) -> T | None:
        if text is None:
            return None
        try:
            return parser(text)
        except ValueError as error:
            self.fault(field, str(error))
            return None

    def parsed(self, field: FieldId, parser: Callable[[str], T], required: bool = True) -> T | None:
        return self.convert(field, self.text(field, required), parser)

    def constant(self, field: FieldId, expected: str, meaning: str) -> None:
        value = self.text(field)
        if value is not None and value != expected:
            self.fault(field, f"{brief(value)} is not accepted; this system exchanges {meaning} ({expected})")

    def flag(self, field: FieldId, required: bool = False) -> bool | None:
        value = self.text(field, required)
        if value is None or value in _YES_NO:
            return None if value is None else _YES_NO[value]
        self.fault(field, f"{brief(value)} must be Y or N")
        return None


def _check_cnt(records: list[nistitl.AsciiRecord], problems: list[Problem]) -> None:
    reader = _Reader(records[0], problems)
    listed = reader.subfields(f.CNT) or []
    actual = [["1", str(len(records) - 1)]]
    for record in records[1:]:
        idc = record[2]
        actual.append([str(record.type), str(idc.value if idc is not None else "")])
    if [[item.lstrip("0") or "0" for item in sub] for sub in listed] != actual:
        reader.fault(f.CNT, "the record list does not match the records in the transaction")


def _header(reader: _Reader) -> TransactionHeader:
    version = reader.text(f.VER)
    if version is not None and not re.fullmatch("[0-9]{4}", version):
        reader.fault(f.VER, f"{brief(version)} is not a 4-digit version")
    kind = reader.text(f.TOT)
    if kind is not None and kind != TOT_CAR:
        reader.fault(f.TOT, f"{brief(kind)} is not accepted; only CAR bookings are")
    day = reader.parsed(f.DAT, parse_date)
    moment = reader.parsed(f.GMT, parse_gmt, required=False)
    if day and moment and abs(moment.date() - day) > timedelta(days=1):
        reader.fault(f.DAT, f"date {day} is more than a day away from 1.014 GMT {moment:%Y-%m-%d}")
    created = moment or (datetime.combine(day, time(), UTC) if day else None)
    domain = reader.subfields(f.DOM, required=False)
    return TransactionHeader(
        ori=reader.text(f.ORI) or "",
        destination=reader.text(f.DAI) or "",
        tcn=reader.text(f.TCN) or "",
        created=created or datetime.min.replace(tzinfo=UTC),
        version=version or "",
        priority=reader.parsed(f.PRY, parse_number, required=False),
        domain=domain[0][0] if domain else None,
    )


def _descriptors(reader: _Reader) -> tuple[Subject, Arrest, tuple[MissingFinger, ...], CaptureDevice | None]:
    subject = Subject(
        name=reader.text(f.NAM) or "",
        place_of_birth=reader.text(f.POB) or "",
        dates_of_birth=tuple(
            reader.convert(f.DOB, text, parse_date_of_birth) for text in reader.values(f.DOB)
        ),
        sex=reader.text(f.SEX) or "",
        race=reader.text(f.RAC) or "",
        height_inches=reader.parsed(f.HGT, parse_height),
        weight_pounds=reader.parsed(f.WGT, parse_weight),
        eye_colour=reader.text(f.EYE) or "",
        hair_colour=reader.text(f.HAI) or "",
        aliases=tuple(reader.values(f.AKA, required=False)),
        citizenship=tuple(reader.values(f.CTZ, required=False)),
        social_security_numbers=tuple(reader.values(f.SOC, required=False)),
        misc_numbers=tuple(reader.values(f.MNU, required=False)),
    )
    arrest = Arrest(
        date=reader.parsed(f.DOA, parse_date) or date.min,
        offences=_offences(reader),
        controlling_agencies=tuple(reader.values(f.CRI)),
        retain=bool(reader.flag(f.RET, required=True)),
        case_number=reader.text(f.OCA, required=False),
        comments=reader.text(f.ICO, required=False),
        rap_sheet=bool(reader.flag(f.RAP)),
        treat_as_adult=_treat_as_adult(reader),
    )
    return subject, arrest, _missing(reader), _device(reader)


def _offences(reader: _Reader) -> tuple[Offence, ...]:
    offences = []
    for number, items in enumerate(reader.subfields(f.ASL) or [], start=1):
        if len(items) != 2 or not items[1]:
            reader.fault(f.ASL, f"offence {number} must hold a date (may be empty) and the offence text")
            continue
        when = reader.convert(f.ASL, items[0], parse_date) if items[0] else None
        offences.append(Offence(literal=items[1], date=when))
    return tuple(offences)


def _treat_as_adult(reader: _Reader) -> bool:
    value = reader.text(f.TAA, required=False)
    if value not in (None, "Y"):
        reader.fault(f.TAA, f"{brief(value)} must be Y, or the field left out")
    return value == "Y"


def _missing(reader: _Reader) -> tuple[MissingFinger, ...]:
    missing = []
    for items in reader.subfields(f.AMP, required=False) or []:
        position = reader.convert(f.AMP, items[0], parse_number) if len(items) == 2 else None
        reason = _MISSING_REASONS.get(items[-1])
        if position is None or reason is None:
            reader.fault(f.AMP, f"{brief(items)} must be a finger number and XX or UP")
            continue
        missing.append(MissingFinger(position, reason))
    return tuple(missing)


def _device(reader: _Reader) -> CaptureDevice | None:
    subfields = reader.subfields(f.IMA, required=False)
    if subfields is None:
        return None
    if len(subfields) != 1 or len(subfields[0]) != 3:
        reader.fault(f.IMA, "must hold make, model and serial number")
        return None
    return CaptureDevice(*subfields[0])


def _finger(reader: _Reader, ori: str) -> FingerImage | None:
    """The image in one Type-14 record, or None (with its problems recorded)."""
    known_problems = len(reader.problems)
    idc = reader.record[2]
    reader.prefix = f"image record IDC {brief(idc.value if idc is not None else None)}: "
    reader.constant(f.IMP, IMPRESSION_LIVE_SCAN_PLAIN, "live-scan plain impressions")
    source = reader.text(f.SRC)
    if source is not None and source != ori:
        reader.fault(f.SRC, f"{brief(source)} differs from the ORI in 1.008")
    reader.constant(f.SLC, SCALE_PIXELS_PER_INCH, "resolutions in pixels per inch")
    reader.constant(f.CGA, COMPRESSION_WSQ, "WSQ images")
    reader.constant(f.BPX, BITS_PER_PIXEL, "8-bit greyscale")
    ppi = reader.parsed(f.THPS, parse_number)
    if reader.parsed(f.TVPS, parse_number) != ppi:
        reader.fault(f.TVPS, "the vertical resolution differs from the horizontal one (THPS)")
    positions = reader.values(f.FGP)
    if len(positions) > 1:
        reader.fault(f.FGP, "must name exactly one finger")
    position = reader.convert(f.FGP, positions[0], parse_number) if len(positions) == 1 else None
    data = reader.record[f.DATA.number]
    if data is None or not isinstance(data.value, bytes) or not data.value:
        reader.fault(f.DATA, "holds no image")
    width = reader.parsed(f.HLL, parse_number)
    height = reader.parsed(f.VLL, parse_number)
    captured = reader.parsed(f.FCD, parse_date)
    score = _quality(reader, position)
    if len(reader.problems) > known_problems:
        return None
    return FingerImage(position, data.value, width, height, score, captured, ppi)


def _quality(reader: _Reader, position: int | None) -> int | None:
    """The NFIQ 2 score in 14.024 FQM; None when there is none or it was not computed."""
    subfields = reader.subfields(f.FQM, required=False)
    if subfields is None or position is None:
        return None
    entries = [items for items in subfields if items[0].lstrip("0") == str(position)]
    if len(entries) != 1 or len(entries[0]) != 4:
        reader.fault(f.FQM, "must hold one entry {finger, score, vendor, product} for the record's finger")
        return None
    _, score_text, vendor, product_text = entries[0]
    score = reader.convert(f.FQM, score_text, parse_number)
    product = reader.convert(f.FQM, product_text, parse_number)
    if vendor.upper() != NFIQ2_VENDOR_ID or product not in NFIQ2_PRODUCT_CODES:
        reader.fault(f.FQM, f"quality algorithm {brief(vendor)}/{brief(product_text)} is not NFIQ 2")
    elif score in (QUALITY_NOT_COMPUTED, QUALITY_FAILED):
        return None
    elif score is not None and score > 100:
        reader.fault(f.FQM, f"score {score} is outside 0-100")
    return score
