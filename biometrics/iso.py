"""ISO/IEC 19794-2:2011 finger minutiae records: parse, build, and fix the header NBIS writes.

Layout (big-endian; the single-finger form nbis-python writes and reads, 52 + 6n + 2 bytes)::

    offset size  field
       0    4    format identifier "FMR\\0"
       4    4    version "030\\0"
       8    4    record length
      12    2    number of finger representations (1)
      14    1    device certification block flag (0)
      -- finger representation --
      15    4    representation length (record length - 15)
      19    9    capture date and time, UTC: year(2) month day hour minute second millisecond(2);
                 all 0xFF when unknown
      28    1    capture device technology (0 = unknown)
      29    2    capture device vendor (0 = unreported)
      31    2    capture device type (0 = unreported)
      33    1    number of quality blocks (1)
      34    5    quality block: score 0-100, algorithm vendor ID(2), algorithm ID(2)
      39    1    finger position (0 unknown, 1..10 right thumb .. left little)
      40    1    representation number (0)
      41    2    horizontal resolution, pixels per centimetre (500 ppi = 197)
      43    2    vertical resolution, pixels per centimetre
      45    1    impression type (0 = live-scan plain; 1 live-scan rolled, 2/3 non-live-scan
                 plain/rolled, 4-7 latent, 8 swipe, 9 vertical roll, 24 contactless, 28 other,
                 29 unknown)
      46    2    image width
      48    2    image height
      50    1    minutia field length (high nibble, 6) | ridge ending type (low nibble)
      51    1    number of minutiae n
      52   6n    minutiae: type(2 bits: 1 ridge ending, 2 bifurcation) + x(14), reserved(2) + y(14),
                 angle (1 unit = 360/256 degrees, counter-clockwise from east), quality 0-100
    52+6n  2    extended data length (0)

nbis-python always writes resolution 99 px/cm, finger position 0, impression 0, an unknown capture
time and quality vendor 0x000F (NIST) with algorithm 0; ``finalise_template`` rewrites those. The
library ignores all of them when it loads a record, so comparison scores do not change.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from biometrics.errors import TemplateError
from biometrics.positions import finger_position

MAGIC = b"FMR\x00030\x00"
HEADER_SIZE = 52
MINUTIA_SIZE = 6
LIVE_SCAN_PLAIN = 0
QUALITY_FAILED = 255  # quality score: the computation failed
RIDGE_ENDING, BIFURCATION = 1, 2
PIXELS_PER_CM_500_PPI = 197  # round(500 / 2.54)
# NFIQ 2.3 (bundled by nbis-python) registers its unified quality score under the ISO/IEC JTC 1
# SC 37 product owner 0x0101 as NFIQ2Rev3 = 0x0039 (NFIQ2 nfiq2_cbeff.cpp).
NFIQ2_VENDOR_ID = 0x0101
NFIQ2_ALGORITHM_ID = 0x0039

_RECORD_HEADER = struct.Struct(">8sIHB")  # magic+version, length, representations, cert flag
_REPRESENTATION = struct.Struct(">IHBBBBBHBHHBBHHBBHHBHHBB")
_MINUTIA = struct.Struct(">HHBB")
_UNKNOWN_TIME = (0xFFFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFFFF)


@dataclass(frozen=True)
class IsoMinutia:
    kind: int  # RIDGE_ENDING or BIFURCATION (0 = other)
    x: int
    y: int
    angle: int  # 0..255, units of 1.40625 degrees
    quality: int  # 0..100; 254 not reported, 255 failed


@dataclass(frozen=True)
class QualityBlock:
    score: int
    vendor_id: int
    algorithm_id: int


@dataclass(frozen=True)
class IsoTemplate:
    """One finger's minutiae record, every header field by name."""

    finger_position: int
    impression_type: int
    resolution_x: int  # pixels per centimetre
    resolution_y: int
    width: int
    height: int
    captured_at: datetime | None  # UTC, millisecond precision
    quality: QualityBlock
    minutiae: tuple[IsoMinutia, ...]
    representation_number: int = 0
    device_technology: int = 0
    device_vendor: int = 0
    device_type: int = 0
    ending_type: int = 0


def parse_template(data: bytes) -> IsoTemplate:
    """Decode a record; ``TemplateError`` says what is wrong with malformed or foreign bytes."""
    fields = _check_header(data)
    (
        _length,
        year,
        month,
        day,
        hour,
        minute,
        second,
        millisecond,
        technology,
        vendor,
        device_type,
        _quality_count,
        score,
        quality_vendor,
        algorithm,
        position,
        representation,
        res_x,
        res_y,
        impression,
        width,
        height,
        field_and_ending,
        count,
    ) = fields
    minutiae = tuple(
        IsoMinutia(kind=xw >> 14, x=xw & 0x3FFF, y=yw & 0x3FFF, angle=angle, quality=q)
        for xw, yw, angle, q in _MINUTIA.iter_unpack(data[HEADER_SIZE : HEADER_SIZE + MINUTIA_SIZE * count])
    )
    return IsoTemplate(
        finger_position=position,
        impression_type=impression,
        resolution_x=res_x,
        resolution_y=res_y,
        width=width,
        height=height,
        captured_at=_decode_time((year, month, day, hour, minute, second, millisecond)),
        quality=QualityBlock(score, quality_vendor, algorithm),
        minutiae=minutiae,
        representation_number=representation,
        device_technology=technology,
        device_vendor=vendor,
        device_type=device_type,
        ending_type=field_and_ending & 0x0F,
    )


def check_template(data: bytes) -> None:
    """Cheap structural check (lengths, magic, version, layout) before bytes reach nbis-python,
    whose loader panics on inconsistent lengths instead of raising."""
    _check_header(data)


def encode_template(template: IsoTemplate) -> bytes:
    """The record's bytes; ``parse_template(encode_template(t)) == t``."""
    count = len(template.minutiae)
    if not 1 <= count <= 255:
        raise TemplateError(f"a record holds 1..255 minutiae, got {count}")
    for m in template.minutiae:
        if not (0 <= m.x <= 0x3FFF and 0 <= m.y <= 0x3FFF and 0 <= m.kind <= 3):
            raise TemplateError(f"minutia {m} does not fit the 2-bit type and 14-bit x, y fields")
    length = HEADER_SIZE + MINUTIA_SIZE * count + 2
    year, month, day, hour, minute, second, millisecond = _encode_time(template.captured_at)
    quality = template.quality
    try:
        header = _RECORD_HEADER.pack(MAGIC, length, 1, 0) + _REPRESENTATION.pack(
            length - _RECORD_HEADER.size,
            year,
            month,
            day,
            hour,
            minute,
            second,
            millisecond,
            template.device_technology,
            template.device_vendor,
            template.device_type,
            1,
            quality.score,
            quality.vendor_id,
            quality.algorithm_id,
            template.finger_position,
            template.representation_number,
            template.resolution_x,
            template.resolution_y,
            template.impression_type,
            template.width,
            template.height,
            (MINUTIA_SIZE << 4) | template.ending_type,
            count,
        )
        body = b"".join(
            _MINUTIA.pack((m.kind << 14) | m.x, m.y, m.angle, m.quality) for m in template.minutiae
        )
    except struct.error as exc:
        raise TemplateError(f"a field is out of range for ISO/IEC 19794-2:2011: {exc}") from None
    return header + body + b"\x00\x00"


def finalise_template(library_record: bytes, *, fgp: int, captured_at: datetime, nfiq2: int | None) -> bytes:
    """Rewrite the header nbis-python wrote: 500 ppi resolution, finger position, live-scan plain,
    capture time (UTC; a naive datetime is taken as UTC), the NFIQ 2 score under NFIQ 2's IDs
    (``None``: NFIQ 2 failed, written as 255)."""
    template = parse_template(library_record)
    fixed = replace(
        template,
        finger_position=int(finger_position(fgp)),
        impression_type=LIVE_SCAN_PLAIN,
        resolution_x=PIXELS_PER_CM_500_PPI,
        resolution_y=PIXELS_PER_CM_500_PPI,
        captured_at=captured_at,
        quality=QualityBlock(QUALITY_FAILED if nfiq2 is None else nfiq2, NFIQ2_VENDOR_ID, NFIQ2_ALGORITHM_ID),
    )
    return encode_template(fixed)


def _check_header(data: bytes) -> tuple[int, ...]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TemplateError(f"a template is bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < HEADER_SIZE + 2:
        raise TemplateError(f"record is {len(data)} bytes; an ISO/IEC 19794-2 record has at least 54")
    magic, length, representations, certification = _RECORD_HEADER.unpack_from(data)
    if magic[:4] != MAGIC[:4]:
        raise TemplateError("not a finger minutiae record (no 'FMR' identifier)")
    if magic != MAGIC:
        raise TemplateError(f"record version {magic[4:7]!r} is not 2011 ('030')")
    if length != len(data):
        raise TemplateError(f"record says {length} bytes but {len(data)} were given (truncated?)")
    if representations != 1 or certification != 0:
        raise TemplateError(
            f"only single-finger records without certification blocks are supported "
            f"(got {representations} representations, certification flag {certification})"
        )
    fields = _REPRESENTATION.unpack_from(data, _RECORD_HEADER.size)
    representation_length, quality_count, field_and_ending, count = (
        fields[0],
        fields[11],
        fields[22],
        fields[23],
    )
    if representation_length != length - _RECORD_HEADER.size:
        raise TemplateError("finger representation length does not match the record length")
    if quality_count != 1:
        raise TemplateError(f"expected one quality block, found {quality_count}")
    if field_and_ending >> 4 != MINUTIA_SIZE:
        raise TemplateError(f"minutia field length {field_and_ending >> 4} is not supported (only 6)")
    extended = HEADER_SIZE + MINUTIA_SIZE * count
    if count == 0 or extended + 2 != length or data[extended : extended + 2] != b"\x00\x00":
        raise TemplateError(f"record of {length} bytes cannot hold {count} minutiae without extended data")
    return fields


def _encode_time(moment: datetime | None) -> tuple[int, ...]:
    if moment is None:
        return _UNKNOWN_TIME
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond // 1000)


def _decode_time(parts: tuple[int, ...]) -> datetime | None:
    if parts == _UNKNOWN_TIME:
        return None
    year, month, day, hour, minute, second, millisecond = parts
    try:
        return datetime(year, month, day, hour, minute, second, millisecond * 1000, tzinfo=UTC)
    except ValueError as exc:
        raise TemplateError(f"capture date/time {parts} is invalid: {exc}") from None
