"""Golden structure of the CAR bytes: LEN, separators, CNT, record order, Type-1/2/14 contents."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import timedelta, timezone

import pytest
from transaction_samples import (
    NOW,
    ORI,
    TCN,
    finger,
    records,
    sample_booking,
    text_fields,
    with_header,
)

from sync.transaction import TransactionInvalid, encode

GS, FS, RS, US = b"\x1d", b"\x1c", b"\x1e", b"\x1f"


@pytest.fixture(scope="module")
def data() -> bytes:
    return encode(sample_booking(), now=NOW)


def test_every_len_is_its_record_byte_count_including_its_own_digits(data: bytes) -> None:
    found = records(data)
    assert b"".join(found) == data
    for record in found:
        declared = int(re.match(rb"\d+\.001:(\d+)\x1d", record).group(1))
        assert declared == len(record)


def test_records_are_type1_type2_then_one_type14_per_printed_finger_in_order(data: bytes) -> None:
    tags = [record.split(b".", 1)[0] for record in records(data)]
    assert tags == [b"1", b"2"] + [b"14"] * 8
    positions = [text_fields(record)[b"14.013"] for record in records(data)[2:]]
    assert positions == [str(p).encode() for p in range(1, 9)]


def test_each_record_is_closed_by_fs_and_fields_are_separated_by_gs(data: bytes) -> None:
    for record in records(data)[:2]:
        assert record.endswith(FS) and record.count(FS) == 1
        for field in record[:-1].split(GS):
            assert re.fullmatch(rb"\d+\.\d{3}:.*", field, re.DOTALL)


def test_cnt_lists_every_record_with_its_idc(data: bytes) -> None:
    cnt = text_fields(records(data)[0])[b"1.003"]
    subfields = [sub.split(US) for sub in cnt.split(RS)]
    assert subfields[0] == [b"1", b"9"]
    assert subfields[1:] == [[b"2", b"0"]] + [[b"14", str(i).encode()] for i in range(1, 9)]


def test_image_data_is_the_last_field_of_each_type14_byte_for_byte(data: bytes) -> None:
    booking = sample_booking()
    for record, image in zip(records(data)[2:], booking.fingers, strict=True):
        assert record.endswith(GS + b"14.999:" + image.wsq + FS)
        assert re.search(rb"\x1d14\.\d{3}:", record.rsplit(b"14.999:", 1)[1]) is None


def test_type1_overrides_every_nistitl_default(data: bytes) -> None:
    fields = text_fields(records(data)[0])
    assert fields[b"1.002"] == b"0500"
    assert fields[b"1.004"] == b"CAR"
    assert fields[b"1.005"] == b"20240315"
    assert fields[b"1.006"] == b"4"
    assert fields[b"1.007"] == b"NYCENTRE0"
    assert fields[b"1.008"] == ORI.encode()
    assert fields[b"1.009"] == TCN.encode()
    assert fields[b"1.011"] == fields[b"1.012"] == b"00.00"
    assert fields[b"1.013"] == b"NORAM"
    assert fields[b"1.014"] == b"20240315143005Z"


def test_dat_is_the_local_date_and_gmt_the_utc_time_of_creation() -> None:
    evening_in_new_york = NOW.replace(hour=2).astimezone(timezone(timedelta(hours=-4)))
    booking = with_header(sample_booking(), created=evening_in_new_york)
    fields = text_fields(records(encode(booking, now=NOW))[0])
    assert fields[b"1.005"] == b"20240314"
    assert fields[b"1.014"] == b"20240315023005Z"


def test_version_0400_can_be_chosen() -> None:
    data = encode(with_header(sample_booking(), version="0400"), now=NOW)
    assert text_fields(records(data)[0])[b"1.002"] == b"0400"


def test_nistitl_never_picks_the_tcn(monkeypatch: pytest.MonkeyPatch) -> None:
    leaked = uuid.UUID("0f1e2d3c-4b5a-1978-8695-a4b3c2d1e0f9")
    monkeypatch.setattr(uuid, "uuid1", lambda *args, **kwargs: leaked)
    data = encode(sample_booking(), now=NOW)
    assert leaked.hex.encode() not in data
    assert text_fields(records(data)[0])[b"1.009"] == TCN.encode()
    text = b"".join(record.split(b"14.999:")[0] for record in records(data))
    assert re.search(rb"[0-9a-f]{32}", text) is None


def test_type2_holds_the_car_fields_with_repeats_and_items(data: bytes) -> None:
    fields = text_fields(records(data)[1])
    assert fields[b"2.002"] == b"0"
    assert fields[b"2.005"] == b"Y"
    assert fields[b"2.009"] == b"2024-000123"
    assert fields[b"2.018"] == b"DOE,JOHN"
    assert fields[b"2.019"] == b"SMITH,JACK" + RS + b"DOE-SMITH,JOHN PAUL"
    assert fields[b"2.020"] == b"NY"
    assert fields[b"2.022"] == b"19800102" + RS + b"19810203"
    assert (fields[b"2.024"], fields[b"2.025"]) == (b"M", b"W")
    assert (fields[b"2.027"], fields[b"2.029"]) == (b"510", b"180")
    assert (fields[b"2.031"], fields[b"2.032"]) == (b"BRO", b"BLK")
    assert fields[b"2.045"] == b"20240315"
    assert fields[b"2.047"] == b"20240314" + US + b"THEFT OF PROPERTY" + RS + US + b"RESISTING ARREST"
    assert fields[b"2.067"] == b"ZHIANTEC" + US + b"R307" + US + b"SN-000123"
    assert fields[b"2.070"] == b"Y"
    assert fields[b"2.073"] == ORI.encode()
    assert fields[b"2.084"] == b"09" + US + b"XX" + RS + b"10" + US + b"UP"
    assert b"2.087" not in fields  # TAA is sent only as Y


def test_type14_describes_a_plain_live_scan_wsq_print(data: bytes) -> None:
    fields = text_fields(records(data)[4])  # finger 3
    assert fields[b"14.002"] == b"3"
    assert fields[b"14.003"] == b"0"
    assert fields[b"14.004"] == ORI.encode()
    assert fields[b"14.005"] == b"20240315"
    assert (fields[b"14.006"], fields[b"14.007"]) == (b"256", b"288")
    assert fields[b"14.008"] == b"1"
    assert fields[b"14.009"] == fields[b"14.010"] == b"500"
    assert fields[b"14.011"] == b"WSQ20"
    assert fields[b"14.012"] == b"8"
    assert fields[b"14.013"] == b"3"
    assert fields[b"14.024"] == US.join([b"3", b"43", b"0101", b"57"])


def test_a_score_not_computed_is_sent_as_254() -> None:
    booking = sample_booking()
    booking = replace(booking, fingers=(finger(1, nfiq2=None), *booking.fingers[1:]))
    fields = text_fields(records(encode(booking, now=NOW))[2])
    assert fields[b"14.024"] == US.join([b"1", b"254", b"0101", b"57"])


def test_fingers_given_out_of_order_are_written_in_finger_order() -> None:
    booking = sample_booking()
    shuffled = replace(booking, fingers=tuple(reversed(booking.fingers)))
    assert encode(shuffled, now=NOW) == encode(booking, now=NOW)


def test_an_invalid_booking_is_never_written() -> None:
    with pytest.raises(TransactionInvalid) as caught:
        encode(with_header(sample_booking(), tcn="SHORT"), now=NOW)
    assert [problem.field for problem in caught.value.problems] == ["1.009 TCN"]


def test_a_transaction_over_the_size_cap_is_refused() -> None:
    with pytest.raises(TransactionInvalid, match=r"14\.999 DATA"):
        encode(sample_booking(image_size=4000), now=NOW, max_bytes=20_000)


def test_ten_print_booking_is_about_two_kilobytes_over_its_images() -> None:
    booking = sample_booking(image_size=8000, printed=range(1, 11))
    data = encode(booking, now=NOW)
    images = sum(len(f.wsq) for f in booking.fingers)
    assert 1000 < len(data) - images < 3000
