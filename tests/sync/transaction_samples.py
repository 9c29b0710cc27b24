"""Bookings, images and transactions for the transaction tests (synthetic, no WSQ codec needed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import nistitl
from hypothesis import strategies as st

from sync.transaction import (
    Arrest,
    Booking,
    CaptureDevice,
    FingerImage,
    MissingFinger,
    MissingReason,
    Offence,
    Subject,
    TransactionHeader,
    build_message,
)
from sync.transaction.codes import EYE_COLOUR, HAIR_COLOUR, RACE, SEX
from sync.transaction.places import COUNTRY, PLACE_OF_BIRTH

NOW = datetime(2024, 3, 15, 14, 30, 5, tzinfo=UTC)
TODAY = NOW.date()
ORI = "NY0303000"
TCN = "NY0303000K01-20240315143005-000042X"


def image_bytes(position: int, size: int = 256) -> bytes:
    """WSQ-like bytes: every byte value appears, separators (0x1C-0x1F) and "999:" included."""
    body = bytes((position * 37 + i * 13) % 256 for i in range(size))
    return b"\xff\xa0" + body[: size // 2] + b"14.999:" + body[size // 2 :] + b"\xff\xa1"


def finger(position: int, size: int = 256, **changes: object) -> FingerImage:
    values = dict(
        position=position,
        wsq=image_bytes(position, size),
        width=256,
        height=288,
        nfiq2=40 + position,
        captured=TODAY,
    )
    values.update(changes)
    return FingerImage(**values)


def sample_booking(image_size: int = 256, printed: range = range(1, 9)) -> Booking:
    """Eight printed fingers, 9 amputated and 10 unable to print, every optional field used."""
    header = TransactionHeader(
        ori=ORI, destination="NYCENTRE0", tcn=TCN, created=NOW, priority=4, domain="NORAM"
    )
    subject = Subject(
        name="DOE,JOHN",
        place_of_birth="NY",
        dates_of_birth=(date(1980, 1, 2), date(1981, 2, 3)),
        sex="M",
        race="W",
        height_inches=70,
        weight_pounds=180,
        eye_colour="BRO",
        hair_colour="BLK",
        aliases=("SMITH,JACK", "DOE-SMITH,JOHN PAUL"),
        citizenship=("US",),
        social_security_numbers=("123456789",),
        misc_numbers=("AR-A012345678",),
    )
    arrest = Arrest(
        date=TODAY,
        offences=(Offence("THEFT OF PROPERTY", date(2024, 3, 14)), Offence("RESISTING ARREST")),
        controlling_agencies=(ORI,),
        retain=True,
        case_number="2024-000123",
        comments="BOOKED AT PRECINCT 3",
        rap_sheet=True,
        treat_as_adult=False,
    )
    missing = tuple(
        MissingFinger(p, MissingReason.AMPUTATED if p == 9 else MissingReason.UNABLE_TO_PRINT)
        for p in range(1, 11)
        if p not in printed
    )
    return Booking(
        header=header,
        subject=subject,
        arrest=arrest,
        fingers=tuple(finger(p, image_size) for p in printed),
        missing=missing,
        device=CaptureDevice("ZHIANTEC", "R307", "SN-000123"),
    )


def with_header(booking: Booking, **changes: object) -> Booking:
    return replace(booking, header=replace(booking.header, **changes))


def with_subject(booking: Booking, **changes: object) -> Booking:
    return replace(booking, subject=replace(booking.subject, **changes))


def with_arrest(booking: Booking, **changes: object) -> Booking:
    return replace(booking, arrest=replace(booking.arrest, **changes))


def records(data: bytes) -> list[bytes]:
    """The records of ``data`` by their LEN fields (an independent reading for structure checks)."""
    found, offset = [], 0
    while offset < len(data):
        head = data[offset : offset + 20]
        length = int(head.split(b":", 1)[1].split(b"\x1d", 1)[0])
        found.append(data[offset : offset + length])
        offset += length
    return found


def text_fields(record: bytes) -> dict[str, bytes]:
    """Tag -> raw value of a record's text fields (the binary 14.999 excluded)."""
    text = record.split(b"\x1d14.999:", 1)[0].rstrip(b"\x1c")
    return dict(field.split(b":", 1) for field in text.split(b"\x1d"))  # type: ignore[misc]


def rewritten(booking: Booking, record_index: int, number: int, value: object) -> bytes:
    """``booking`` encoded with one field replaced (None deletes it); LEN and CNT recomputed."""
    message = build_message(booking)
    record = message[record_index]
    if value is None:
        del record[number]
    elif record[number] is not None:
        record[number].value = value
    else:
        record += nistitl.Field(record.type, number, value)
    return message.NIST


# --- hypothesis strategies for valid bookings ----------------------------------------------

_word = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8)
_names = st.builds(lambda surname, given: f"{surname},{given}", _word, _word)
_days = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
_printable = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40)
_text = _printable.filter(lambda value: value.strip())


@st.composite
def bookings(draw: st.DrawFn) -> Booking:
    """Valid bookings with small images; created in UTC to the second."""
    printed = draw(st.sets(st.integers(1, 10), min_size=1))
    births = draw(
        st.lists(st.dates(min_value=date(1900, 1, 1), max_value=date(2000, 1, 1)), min_size=1, max_size=5)
    )
    unknown_birth = draw(st.booleans())
    arrested = draw(st.dates(min_value=date(2000, 1, 2), max_value=TODAY))
    created = NOW - timedelta(seconds=draw(st.integers(0, 10**8)))
    header = TransactionHeader(
        ori=ORI,
        destination=draw(st.sampled_from(["NYCENTRE0", "WVIAFIS0Z"])),
        tcn=draw(
            st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=10, max_size=40)
        ),
        created=created,
        version=draw(st.sampled_from(["0400", "0500", "0502"])),
        priority=draw(st.none() | st.integers(1, 9)),
        domain=draw(st.none() | st.sampled_from(["NORAM", "EBTS"])),
    )
    subject = Subject(
        name=draw(_names),
        place_of_birth=draw(st.sampled_from(sorted(PLACE_OF_BIRTH))),
        dates_of_birth=(None,) if unknown_birth else tuple(births),
        sex=draw(st.sampled_from(sorted(SEX))),
        race=draw(st.sampled_from(sorted(RACE))),
        height_inches=draw(st.none() | st.integers(48, 95)),
        weight_pounds=draw(st.none() | st.integers(50, 499)),
        eye_colour=draw(st.sampled_from(sorted(EYE_COLOUR))),
        hair_colour=draw(st.sampled_from(sorted(HAIR_COLOUR))),
        aliases=tuple(draw(st.lists(_names, max_size=3))),
        citizenship=tuple(draw(st.lists(st.sampled_from(sorted(COUNTRY)), max_size=2))),
        social_security_numbers=tuple(draw(st.lists(st.from_regex(r"[0-9]{9}", fullmatch=True), max_size=2))),
        misc_numbers=tuple(
            draw(st.lists(st.from_regex(r"[A-Z]{2}-[A-Z0-9]{1,12}", fullmatch=True), max_size=2))
        ),
    )
    offences = draw(
        st.lists(
            st.builds(Offence, _text, st.none() | st.dates(min_value=date(2000, 1, 1), max_value=arrested)),
            min_size=1,
            max_size=4,
        )
    )
    arrest = Arrest(
        date=arrested,
        offences=tuple(offences),
        controlling_agencies=(ORI,),
        retain=draw(st.booleans()),
        case_number=draw(st.none() | _text.map(lambda value: value[:20]).filter(str.strip)),
        comments=draw(st.none() | _text),
        rap_sheet=draw(st.booleans()),
        treat_as_adult=draw(st.booleans()),
    )
    fingers = tuple(
        FingerImage(
            position=p,
            wsq=draw(st.binary(min_size=1, max_size=64)),
            width=draw(st.integers(10, 2000)),
            height=draw(st.integers(10, 2000)),
            nfiq2=draw(st.none() | st.integers(0, 100)),
            captured=draw(_days),
        )
        for p in sorted(printed)
    )
    missing = tuple(
        MissingFinger(p, draw(st.sampled_from(list(MissingReason)))) for p in range(1, 11) if p not in printed
    )
    device = draw(
        st.none()
        | st.builds(
            CaptureDevice, _text.map(lambda v: v[:25]).filter(str.strip), st.just("R307"), st.just("1")
        )
    )
    return Booking(header, subject, arrest, fingers, missing, device)


def with_type1_field(data: bytes, tag: bytes, value: bytes) -> bytes:
    """``data`` with one Type-1 field's raw value replaced and LEN recomputed (nistitl would redo CNT)."""
    type1 = records(data)[0]
    fields = [
        tag + b":" + value if field.startswith(tag + b":") else field
        for field in type1[:-1].split(b"\x1d")[1:]
    ]
    body = b"\x1d".join(fields) + b"\x1c"
    length = len(body)
    while len(b"1.001:%d\x1d" % length) + len(body) != length:
        length = len(b"1.001:%d\x1d" % length) + len(body)
    return b"1.001:%d\x1d" % length + body + data[len(type1) :]
