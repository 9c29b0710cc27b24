"""Malformed and hostile input: always a named error (or a booking), never anything else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transaction_samples import NOW, records, rewritten, sample_booking, with_type1_field

from sync.transaction import (
    Booking,
    MalformedTransaction,
    TransactionError,
    TransactionTooLarge,
    build_message,
    decode,
    encode,
    validate,
)

SMALL = sample_booking(image_size=48, printed=range(1, 4))
VALID = encode(SMALL, now=NOW)
FUZZ = settings(max_examples=300, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow])


def fields_of(error: TransactionError) -> set[str]:
    return {problem.field for problem in error.problems}


def refused(data: object, **kwargs) -> MalformedTransaction:
    with pytest.raises(MalformedTransaction) as caught:
        decode(data, **kwargs)
    return caught.value


def test_the_small_sample_decodes() -> None:
    assert decode(VALID) == SMALL


@pytest.mark.parametrize(
    "data", [b"", "1.001:10", None, 42, b"\x00" * 10, b"1.001:", b"\x1c\x1d\x1e\x1f" * 50]
)
def test_junk_is_refused(data: object) -> None:
    refused(data)


@pytest.mark.parametrize("cut", [1, 5, 40, len(VALID) // 2, len(VALID) - 30, len(VALID) - 1])
def test_truncated_transactions_are_refused(cut: int) -> None:
    refused(VALID[:cut])


def test_trailing_bytes_are_refused() -> None:
    refused(VALID + b"2.001:9\x1d")


@pytest.mark.parametrize("change", [-1, +1, +1000, -50])
def test_a_wrong_len_is_refused(change: int) -> None:
    header = records(VALID)[0]
    length = len(header)
    data = VALID.replace(f"1.001:{length}".encode(), f"1.001:{length + change}".encode(), 1)
    assert fields_of(refused(data)) <= {"1.001 LEN", "transaction"}


def test_a_huge_len_is_refused_without_reading_it() -> None:
    data = VALID.replace(b"1.001:", b"1.001:9999999999", 1)
    assert "1.001 LEN" in fields_of(refused(data))


def test_an_oversized_transaction_is_refused_before_parsing() -> None:
    with pytest.raises(TransactionTooLarge):
        decode(VALID, max_bytes=len(VALID) - 1)
    with pytest.raises(TransactionTooLarge):
        decode(b"x" * (3 * 1024 * 1024))


def test_a_huge_field_under_the_cap_is_reported_not_echoed() -> None:
    error = refused(rewritten(SMALL, 1, 18, "A" * 1_500_000))
    assert "2.018 NAM" in fields_of(error)
    assert len(str(error)) < 2000


def test_bad_separators_are_refused() -> None:
    type1 = records(VALID)[0]
    refused(VALID.replace(type1, type1.replace(b"\x1d", b"\x1e")))
    refused(VALID.replace(type1, type1[:-1] + b"\x1d"))
    refused(VALID.replace(type1, type1.replace(b"\x1d1.004:", b"\x1c1.004:", 1)))


def test_a_wrong_cnt_is_refused() -> None:
    assert (
        decode(with_type1_field(VALID, b"1.003", b"1\x1f4\x1e2\x1f0\x1e14\x1f1\x1e14\x1f2\x1e14\x1f3"))
        == SMALL
    )
    for cnt in [
        b"1\x1f3\x1e2\x1f0\x1e14\x1f1\x1e14\x1f2",
        b"1\x1f4\x1e2\x1f0\x1e14\x1f1\x1e14\x1f2\x1e14\x1f9",
        b"12",
    ]:
        refused(with_type1_field(VALID, b"1.003", cnt))


def test_a_missing_type2_record_is_refused() -> None:
    message = build_message(SMALL)
    del message[1]
    assert fields_of(refused(message.NIST)) == {"transaction"}


def test_a_transaction_without_images_is_refused() -> None:
    message = build_message(SMALL)
    for _ in range(3):
        del message[2]
    refused(message.NIST)


@pytest.mark.parametrize(
    ("record", "number", "value", "field"),
    [
        (0, 4, "CPDR", "1.004 TOT"),
        (0, 2, "05XX", "1.002 VER"),
        (0, 5, "2024-03-15", "1.005 DAT"),
        (0, 14, "20240315143005", "1.014 GMT"),
        (0, 5, "20240101", "1.005 DAT"),  # more than a day from GMT
        (0, 9, None, "1.009 TCN"),
        (1, 18, None, "2.018 NAM"),
        (1, 18, ["DOE,JOHN", "DOE,JACK"], "2.018 NAM"),
        (1, 5, "MAYBE", "2.005 RET"),
        (1, 22, ["19800100"], "2.022 DOB"),
        (1, 22, ["19800230"], "2.022 DOB"),
        (1, 27, "5FT", "2.027 HGT"),
        (1, 27, "512", "2.027 HGT"),
        (1, 29, "1A0", "2.029 WGT"),
        (1, 45, "TODAY", "2.045 DOA"),
        (1, 47, [["20240314"]], "2.047 ASL"),
        (1, 84, [["09", "ZZ"]], "2.084 AMP"),
        (1, 84, [["X9", "XX"]], "2.084 AMP"),
        (1, 67, [["ZHIANTEC", "R307"]], "2.067 IMA"),
        (1, 87, "N", "2.087 TAA"),
        (2, 3, "1", "14.003 IMP"),
        (2, 4, "NY0303001", "14.004 SRC"),
        (2, 6, "wide", "14.006 HLL"),
        (2, 7, "-288", "14.007 VLL"),
        (2, 8, "2", "14.008 SLC"),
        (2, 10, "1000", "14.010 TVPS"),
        (2, 11, "JPEGB", "14.011 CGA"),
        (2, 12, "16", "14.012 BPX"),
        (2, 13, ["1", "2"], "14.013 FGP"),
        (2, 13, "one", "14.013 FGP"),
        (2, 24, [["1", "50", "000F", "377"]], "14.024 FQM"),
        (2, 24, [["1", "150", "0101", "57"]], "14.024 FQM"),
        (2, 24, [["1", "fifty", "0101", "57"]], "14.024 FQM"),
        (2, 999, None, "14.999 DATA"),
    ],
)
def test_fields_that_cannot_be_read_are_reported_with_their_number(record, number, value, field) -> None:
    assert field in fields_of(refused(rewritten(SMALL, record, number, value)))


def test_two_images_of_one_finger_are_refused() -> None:
    message = build_message(SMALL)
    message[2][13].value = "2"
    message[2][24].value = [["2", "50", "0101", "57"]]
    [problem] = refused(message.NIST).problems
    assert (problem.field, problem.message) == ("14.013 FGP", "finger 2 (right index) has 2 image records")


def test_every_unreadable_field_is_reported_at_once() -> None:
    message = build_message(SMALL)
    message[1][27].value = "5FT"
    message[1][29].value = "heavy"
    message[2][13].value = "one"
    assert {"2.027 HGT", "2.029 WGT", "14.013 FGP"} <= fields_of(refused(message.NIST))


def test_other_record_types_are_refused() -> None:
    photo = b"10.001:18\x1d10.002:9\x1c"
    error = refused(VALID + photo)
    assert "10.001 LEN" in fields_of(error)


def test_too_many_records_are_refused() -> None:
    record = records(VALID)[1]
    assert "transaction" in fields_of(refused(VALID + record * 20))


# --- fuzzing ---------------------------------------------------------------------------------


def decodes_or_refuses(data: bytes) -> None:
    try:
        booking = decode(data)
    except TransactionError as error:
        assert error.problems
    else:
        assert isinstance(booking, Booking)
        validate(booking, now=NOW)  # what the centre does next never fails either


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    decodes_or_refuses(data)


@FUZZ
@given(st.integers(0, len(VALID)))
def test_truncation_anywhere(cut: int) -> None:
    decodes_or_refuses(VALID[:cut])


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_flipped_bytes(flips: list[tuple[int, int]]) -> None:
    data = bytearray(VALID)
    for position, value in flips:
        data[position] = value
    decodes_or_refuses(bytes(data))


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(VALID)), st.sampled_from([b"\x1c", b"\x1d", b"\x1e", b"\x1f", b":", b"."])
        ),
        min_size=1,
        max_size=6,
    )
)
def test_inserted_and_duplicated_separators(insertions: list[tuple[int, bytes]]) -> None:
    data = VALID
    for position, separator in sorted(insertions, reverse=True):
        data = data[:position] + separator + data[position:]
    decodes_or_refuses(data)


@FUZZ
@given(st.integers(0, 3), st.integers(0, 10**12))
def test_any_len_value(record: int, length: int) -> None:
    parts = records(VALID)
    head, rest = parts[record].split(b"\x1d", 1)
    parts[record] = head.split(b":")[0] + b":" + str(length).encode() + b"\x1d" + rest
    decodes_or_refuses(b"".join(parts))


@FUZZ
@given(st.integers(0, len(VALID)), st.integers(0, len(VALID)), st.binary(max_size=64))
def test_spliced_junk(start: int, length: int, junk: bytes) -> None:
    decodes_or_refuses(VALID[:start] + junk + VALID[start + length :])
