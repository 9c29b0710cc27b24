"""Booking -> ANSI/NIST-ITL traditional encoding, through nistitl, none of its defaults trusted.

nistitl fills a new Type-1 with VER 0400, today's date, NSR/NTR 00.00 and a TCN made by uuid1
(the host's MAC address and the time). Every one of those is overwritten here from the booking:
VER from ``header.version``, DAT/GMT from ``header.created``, the TCN the station issued,
NSR/NTR 00.00 deliberately (Type-14 only, see ``codes.py``). nistitl computes LEN and CNT.

Layout: Type-1, Type-2 (IDC 0), one Type-14 per printed finger in finger order (IDC 1..n), each
with its WSQ image in 14.999 last. Missing fingers are listed in 2.084 AMP.
"""

from __future__ import annotations

from datetime import datetime

import nistitl

from sync.transaction import fields as f
from sync.transaction.codes import (
    BITS_PER_PIXEL,
    COMPRESSION_WSQ,
    IMPRESSION_LIVE_SCAN_PLAIN,
    MAX_TRANSACTION_BYTES,
    NFIQ2_PRODUCT_CODE,
    NFIQ2_VENDOR_ID,
    NO_FIXED_RESOLUTION,
    QUALITY_NOT_COMPUTED,
    SCALE_PIXELS_PER_INCH,
    TOT_CAR,
)
from sync.transaction.errors import Problem, TransactionInvalid
from sync.transaction.fields import FieldId
from sync.transaction.formats import (
    UNKNOWN_DATE_OF_BIRTH,
    format_date,
    format_gmt,
    format_height,
    format_weight,
)
from sync.transaction.model import Booking, FingerImage
from sync.transaction.validate import ensure_valid

TYPE2_IDC = 0

Value = str | list[str] | list[list[str]]


def encode(booking: Booking, *, now: datetime, max_bytes: int = MAX_TRANSACTION_BYTES) -> bytes:
    """The CAR transaction of ``booking``; ``TransactionInvalid`` lists every problem found first."""
    ensure_valid(booking, now=now)
    data = build_message(booking).NIST
    if len(data) > max_bytes:
        message = (
            f"the transaction is {len(data)} bytes, over the {max_bytes}-byte limit; the images are too large"
        )
        raise TransactionInvalid([Problem(f.DATA.label, message)])
    return data


def build_message(booking: Booking) -> nistitl.Message:
    """The nistitl message of ``booking`` (not validated: use ``encode``)."""
    message = nistitl.Message()
    _write_type1(message, booking)
    message += _type2(booking)
    fingers = sorted(booking.fingers, key=lambda finger: finger.position)
    for idc, finger in enumerate(fingers, start=1):
        message += _type14(idc, finger, booking.header.ori)
    return message


def _put(record: nistitl.AsciiRecord, field: FieldId, value: Value | None) -> None:
    if value is None or value == []:
        return
    existing = record[field.number]
    if existing is not None:
        existing.value = value
    else:
        record += nistitl.Field(field.record, field.number, value)


def _write_type1(message: nistitl.Message, booking: Booking) -> None:
    header = booking.header
    record = message[0]
    message.TOT = TOT_CAR
    _put(record, f.VER, header.version)
    _put(record, f.DAT, format_date(header.created.date()))
    _put(record, f.PRY, None if header.priority is None else str(header.priority))
    _put(record, f.DAI, header.destination)
    _put(record, f.ORI, header.ori)
    _put(record, f.TCN, header.tcn)
    _put(record, f.NSR, NO_FIXED_RESOLUTION)
    _put(record, f.NTR, NO_FIXED_RESOLUTION)
    _put(record, f.DOM, header.domain)
    _put(record, f.GMT, format_gmt(header.created))


def _type2(booking: Booking) -> nistitl.AsciiRecord:
    subject, arrest = booking.subject, booking.arrest
    record = nistitl.AsciiRecord(2)
    record.IDC = TYPE2_IDC
    _put(record, f.RET, "Y" if arrest.retain else "N")
    _put(record, f.OCA, arrest.case_number)
    _put(record, f.SOC, list(subject.social_security_numbers))
    _put(record, f.MNU, list(subject.misc_numbers))
    _put(record, f.NAM, subject.name)
    _put(record, f.AKA, list(subject.aliases))
    _put(record, f.POB, subject.place_of_birth)
    _put(record, f.CTZ, list(subject.citizenship))
    births = [UNKNOWN_DATE_OF_BIRTH if d is None else format_date(d) for d in subject.dates_of_birth]
    _put(record, f.DOB, births)
    _put(record, f.SEX, subject.sex)
    _put(record, f.RAC, subject.race)
    _put(record, f.HGT, format_height(subject.height_inches))
    _put(record, f.WGT, format_weight(subject.weight_pounds))
    _put(record, f.EYE, subject.eye_colour)
    _put(record, f.HAI, subject.hair_colour)
    _put(record, f.DOA, format_date(arrest.date))
    offences = [["" if o.date is None else format_date(o.date), o.literal] for o in arrest.offences]
    _put(record, f.ASL, offences)
    _put(record, f.ICO, arrest.comments)
    if booking.device is not None:
        device = booking.device
        _put(record, f.IMA, [[device.make, device.model, device.serial_number]])
    _put(record, f.RAP, "Y" if arrest.rap_sheet else None)
    _put(record, f.CRI, list(arrest.controlling_agencies))
    missing = sorted(booking.missing, key=lambda entry: entry.position)
    _put(record, f.AMP, [[f"{entry.position:02d}", str(entry.reason)] for entry in missing])
    _put(record, f.TAA, "Y" if arrest.treat_as_adult else None)
    return record


def _type14(idc: int, finger: FingerImage, ori: str) -> nistitl.AsciiRecord:
    record = nistitl.AsciiRecord(14)
    record.IDC = idc
    score = QUALITY_NOT_COMPUTED if finger.nfiq2 is None else finger.nfiq2
    _put(record, f.IMP, IMPRESSION_LIVE_SCAN_PLAIN)
    _put(record, f.SRC, ori)
    _put(record, f.FCD, format_date(finger.captured))
    _put(record, f.HLL, str(finger.width))
    _put(record, f.VLL, str(finger.height))
    _put(record, f.SLC, SCALE_PIXELS_PER_INCH)
    _put(record, f.THPS, str(finger.ppi))
    _put(record, f.TVPS, str(finger.ppi))
    _put(record, f.CGA, COMPRESSION_WSQ)
    _put(record, f.BPX, BITS_PER_PIXEL)
    _put(record, f.FGP, str(finger.position))
    _put(record, f.FQM, [[str(finger.position), str(score), NFIQ2_VENDOR_ID, str(NFIQ2_PRODUCT_CODE)]])
    record += nistitl.BinaryField(f.DATA.record, f.DATA.number, finger.wsq)
    return record
