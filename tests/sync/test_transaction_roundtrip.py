"""Bytes back into the typed booking: equality after a round trip, and what decoding reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from transaction_samples import NOW, bookings, rewritten, sample_booking, with_header

from sync.transaction import decode, encode, validate


def test_the_sample_booking_survives_a_round_trip() -> None:
    booking = sample_booking()
    assert decode(encode(booking, now=NOW)) == booking


def test_a_ten_print_booking_with_8_kb_images_survives_a_round_trip() -> None:
    booking = sample_booking(image_size=8000, printed=range(1, 11))
    assert decode(encode(booking, now=NOW)) == booking


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(bookings())
def test_every_valid_booking_survives_a_round_trip(booking) -> None:
    assert validate(booking, now=NOW) == []
    data = encode(booking, now=NOW)
    decoded = decode(data)
    assert decoded == booking
    assert encode(decoded, now=NOW) == data  # created in UTC: byte-identical again


def test_a_decoded_booking_is_valid_and_its_time_is_the_gmt_instant() -> None:
    local = NOW.astimezone(timezone(timedelta(hours=-4)))
    decoded = decode(encode(with_header(sample_booking(), created=local), now=NOW))
    assert decoded.header.created == local
    assert decoded.header.created.tzinfo == UTC
    assert validate(decoded, now=NOW) == []


def test_without_gmt_the_time_is_midnight_utc_of_dat() -> None:
    data = rewritten(sample_booking(), 0, 14, None)
    assert decode(data).header.created == datetime(2024, 3, 15, tzinfo=UTC)


def test_a_score_of_255_computation_failed_reads_as_not_computed() -> None:
    booking = sample_booking()
    data = rewritten(booking, 2, 24, [["1", "255", "0101", "57"]])
    assert decode(data).fingers[0].nfiq2 is None


def test_other_nfiq2_revisions_are_read() -> None:
    data = rewritten(sample_booking(), 2, 24, [["1", "77", "0101", "56"]])
    assert decode(data).fingers[0].nfiq2 == 77


def test_a_height_in_inches_form_is_read() -> None:
    data = rewritten(sample_booking(), 1, 27, "N70")
    assert decode(data).subject.height_inches == 70
