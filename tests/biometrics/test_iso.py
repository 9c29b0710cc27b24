"""ISO/IEC 19794-2:2011 records: the header this pipeline writes, and byte-exact round trips."""

from __future__ import annotations

import contextlib
import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import nbis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pipeline_fixtures import CAPTURED_AT, second_impression

from biometrics.errors import InvalidFingerPosition, TemplateError
from biometrics.frames import encode_pgm
from biometrics.iso import (
    BIFURCATION,
    HEADER_SIZE,
    LIVE_SCAN_PLAIN,
    NFIQ2_ALGORITHM_ID,
    NFIQ2_VENDOR_ID,
    PIXELS_PER_CM_500_PPI,
    QUALITY_FAILED,
    RIDGE_ENDING,
    IsoMinutia,
    IsoTemplate,
    QualityBlock,
    check_template,
    encode_template,
    finalise_template,
    parse_template,
)
from biometrics.matching import compare
from biometrics.ridge_pattern import ridge_pattern


@pytest.fixture(scope="module")
def library():
    """nbis-python on its own (no NFIQ 2), to see its untouched output."""
    settings = nbis.NbisExtractorSettings(
        min_quality=0.0, get_center=False, check_fingerprint=False, compute_nfiq2=False, ppi=None
    )
    return nbis.new_nbis_extractor(settings)


@pytest.fixture(scope="module")
def library_records(library):
    """What nbis-python itself writes, for a finger and a second impression of it."""
    first = library.extract_minutiae(encode_pgm(ridge_pattern(0))).to_iso_19794_2_2011()
    second = library.extract_minutiae(encode_pgm(second_impression(0))).to_iso_19794_2_2011()
    return first, second


def test_library_header_is_what_the_fix_up_expects(library_records):
    parsed = parse_template(library_records[0])
    assert (parsed.resolution_x, parsed.resolution_y) == (99, 99)
    assert (parsed.finger_position, parsed.impression_type, parsed.captured_at) == (0, 0, None)
    assert (parsed.quality.vendor_id, parsed.quality.algorithm_id) == (0x000F, 0)
    assert (parsed.width, parsed.height) == (256, 288)


def test_library_records_round_trip_byte_for_byte(library_records):
    for record in library_records:
        assert encode_template(parse_template(record)) == record


def test_finalised_header_fields(library_records):
    record = finalise_template(library_records[0], fgp=7, captured_at=CAPTURED_AT, nfiq2=41)
    assert record[:8] == b"FMR\x00030\x00"
    assert struct.unpack_from(">I", record, 8)[0] == len(record) == HEADER_SIZE + 6 * record[51] + 2
    parsed = parse_template(record)
    assert parsed.finger_position == 7
    assert parsed.impression_type == LIVE_SCAN_PLAIN == 0
    assert parsed.resolution_x == parsed.resolution_y == PIXELS_PER_CM_500_PPI == 197
    assert parsed.captured_at == CAPTURED_AT.replace(microsecond=589_000)  # millisecond precision
    assert parsed.quality == QualityBlock(41, NFIQ2_VENDOR_ID, NFIQ2_ALGORITHM_ID)
    original = parse_template(library_records[0])
    assert parsed.minutiae == original.minutiae
    assert (parsed.width, parsed.height) == (original.width, original.height)
    # the raw bytes, at the offsets of the 2011 layout
    assert record[19:28] == struct.pack(">HBBBBBH", 2025, 3, 14, 9, 26, 53, 589)
    assert record[34:39] == bytes([41]) + struct.pack(">HH", 0x0101, 0x0039)
    assert record[39] == 7 and record[45] == 0
    assert record[41:45] == struct.pack(">HH", 197, 197)


def test_capture_time_is_written_in_utc():
    eastern = timezone(timedelta(hours=-5))
    record = _record(captured_at=datetime(2025, 12, 31, 22, 30, tzinfo=eastern))
    assert parse_template(record).captured_at == datetime(2026, 1, 1, 3, 30, tzinfo=UTC)


def test_unknown_and_failed_values():
    assert parse_template(_record(captured_at=None)).captured_at is None
    assert _record(captured_at=None)[19:28] == b"\xff" * 9
    record = finalise_template(_record(), fgp=1, captured_at=CAPTURED_AT, nfiq2=None)
    assert parse_template(record).quality.score == QUALITY_FAILED == 255


def test_nbis_still_loads_the_fixed_record_and_scores_do_not_change(library, library_records):
    first, second = library_records
    fixed = [finalise_template(r, fgp=2, captured_at=CAPTURED_AT, nfiq2=40) for r in library_records]
    assert library.compare_iso_19794_2_2011(*fixed) == library.compare_iso_19794_2_2011(first, second) > 40
    assert compare(fixed[0], fixed[0]) == library.compare_iso_19794_2_2011(first, first)
    loaded = library.load_iso_19794_2_2011(fixed[0])
    assert [(m.x, m.y, m.kind) for m in loaded.list()] == [
        (m.x, m.y, nbis.MinutiaKind(m.kind)) for m in parse_template(first).minutiae
    ]


def test_finger_position_must_be_a_single_finger(library_records):
    for fgp in (0, 11, 15, -1, "2", 2.0, True):
        with pytest.raises(InvalidFingerPosition):
            finalise_template(library_records[0], fgp=fgp, captured_at=CAPTURED_AT, nfiq2=40)


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        (lambda r: r[:40], "at least 54"),
        (lambda r: b"", "at least 54"),
        (lambda r: r[:-1], "truncated"),
        (lambda r: r + b"\x00", "truncated"),
        (lambda r: b"XYZ" + r[3:], "FMR"),
        (lambda r: r[:4] + b" 20\x00" + r[8:], "2011"),
        (lambda r: _patch(r, 12, b"\x00\x02"), "single-finger"),
        (lambda r: _patch(r, 14, b"\x01"), "certification"),
        (lambda r: _patch(r, 15, b"\x00\x00\x00\x01"), "representation length"),
        (lambda r: _patch(r, 33, b"\x02"), "quality block"),
        (lambda r: _patch(r, 50, b"\x50"), "field length"),
        (lambda r: _patch(r, 51, bytes([r[51] + 1])), "cannot hold"),
        (lambda r: _patch(r, len(r) - 2, b"\x00\x05"), "cannot hold"),
        (lambda r: _patch(r, 21, b"\x0d"), "invalid"),  # month 13
    ],
)
def test_corrupt_records_get_template_errors(mutate, complaint):
    corrupt = mutate(_record())
    with pytest.raises(TemplateError, match=complaint):
        parse_template(corrupt)


def test_corrupt_records_never_reach_nbis(library_records):
    """nbis-python panics (InternalError, a Rust backtrace on stderr) on inconsistent lengths."""
    truncated = library_records[0][:60]
    with pytest.raises(TemplateError):
        compare(truncated, library_records[1])
    with pytest.raises(TemplateError):
        check_template(b"FMR\x00030\x00" + bytes(50))
    with pytest.raises(TemplateError):
        check_template("FMR")  # not bytes


def test_encoding_rejects_out_of_range_fields():
    with pytest.raises(TemplateError, match=r"1\.\.255 minutiae"):
        encode_template(replace(parse_template(_record()), minutiae=()))
    with pytest.raises(TemplateError, match="out of range"):
        encode_template(replace(parse_template(_record()), width=70_000))
    with pytest.raises(TemplateError, match="14-bit"):
        encode_template(
            replace(parse_template(_record()), minutiae=(IsoMinutia(RIDGE_ENDING, 0x4000, 0, 0, 0),))
        )


minutiae = st.builds(
    IsoMinutia,
    kind=st.sampled_from([RIDGE_ENDING, BIFURCATION]),
    x=st.integers(0, 0x3FFF),
    y=st.integers(0, 0x3FFF),
    angle=st.integers(0, 255),
    quality=st.one_of(st.integers(0, 100), st.sampled_from([254, 255])),
)
times = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)).map(
        lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000)
    ),
)
templates = st.builds(
    IsoTemplate,
    finger_position=st.integers(0, 10),
    impression_type=st.sampled_from([0, 1, 2, 3, 8, 24, 29]),
    resolution_x=st.integers(99, 0xFFFF),
    resolution_y=st.integers(99, 0xFFFF),
    width=st.integers(1, 0xFFFF),
    height=st.integers(1, 0xFFFF),
    captured_at=times,
    quality=st.builds(QualityBlock, st.integers(0, 255), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)),
    minutiae=st.lists(minutiae, min_size=1, max_size=255).map(tuple),
    representation_number=st.integers(0, 15),
    device_technology=st.integers(0, 20),
    device_vendor=st.integers(0, 0xFFFF),
    device_type=st.integers(0, 0xFFFF),
    ending_type=st.integers(0, 1),
)


@settings(max_examples=150, deadline=None)
@given(templates)
def test_any_template_round_trips(template):
    data = encode_template(template)
    assert len(data) == HEADER_SIZE + 6 * len(template.minutiae) + 2
    assert parse_template(data) == template
    check_template(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 120))
def test_arbitrary_bytes_parse_or_raise_template_error(noise, cut):
    for candidate in (noise, _record()[:cut] + noise):
        with contextlib.suppress(TemplateError):  # anything else fails the test
            parse_template(candidate)


def _record(captured_at: datetime | None = CAPTURED_AT) -> bytes:
    minutia = IsoMinutia(RIDGE_ENDING, 10, 20, 64, 80)
    return encode_template(
        IsoTemplate(
            finger_position=1,
            impression_type=0,
            resolution_x=197,
            resolution_y=197,
            width=256,
            height=288,
            captured_at=captured_at,
            quality=QualityBlock(50, NFIQ2_VENDOR_ID, NFIQ2_ALGORITHM_ID),
            minutiae=(minutia, replace(minutia, kind=BIFURCATION, x=30)),
        )
    )


def _patch(record: bytes, offset: int, value: bytes) -> bytes:
    return record[:offset] + value + record[offset + len(value) :]
