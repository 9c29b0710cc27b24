"""A strict first pass over untrusted bytes, before nistitl parses them.

nistitl trusts what it reads: it copies the rest of the buffer for every record, loops on a
binary record whose length is 0, and builds any record type. This pass bounds that work. It
enforces the size cap, walks the records by their LEN fields and accepts only what a booking of
this system contains: Type-1 first, then Type-2 and Type-14 records, at most ``MAX_RECORDS``,
each ending with FS exactly where its LEN says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sync.transaction.errors import MalformedTransaction, Problem, TransactionTooLarge

FS = 0x1C
WHOLE = "transaction"  # problem "field" for faults of the transaction as a whole
RECORD_TYPES = (1, 2, 14)
MAX_RECORDS = 16  # Type-1 + Type-2 + 14 images
_LEN_FIELD = re.compile(rb"(\d{1,2})\.0{0,2}1:(\d+)\x1d")
MAX_LEN_DIGITS = 10


@dataclass(frozen=True)
class RecordSpan:
    type: int
    start: int
    end: int  # exclusive; data[end - 1] is the record's FS


def scan(data: object, *, max_bytes: int) -> list[RecordSpan]:
    """The records of ``data`` by their LEN fields; ``MalformedTransaction`` on any framing fault."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedTransaction([Problem(WHOLE, f"expected bytes, got {type(data).__name__}")])
    data = bytes(data)
    if len(data) > max_bytes:
        message = f"{len(data)} bytes is over the {max_bytes}-byte limit"
        raise TransactionTooLarge([Problem(WHOLE, message)])
    if not data:
        raise MalformedTransaction([Problem(WHOLE, "the transaction is empty")])
    spans: list[RecordSpan] = []
    offset = 0
    while offset < len(data):
        if len(spans) == MAX_RECORDS:
            raise _fault(WHOLE, f"more than {MAX_RECORDS} records; a booking has at most {MAX_RECORDS}")
        spans.append(_record_at(data, offset, len(spans) + 1))
        offset = spans[-1].end
    if spans[0].type != 1:
        raise _fault(WHOLE, "the first record must be the Type-1 header")
    return spans


def _record_at(data: bytes, offset: int, number: int) -> RecordSpan:
    match = _LEN_FIELD.match(data, offset)
    if not match:
        raise _fault(WHOLE, f"record {number} (byte {offset}) does not begin with a LEN field like 2.001:57")
    record_type, digits = int(match.group(1)), match.group(2)
    field = f"{record_type}.001 LEN"
    if len(digits) > MAX_LEN_DIGITS:
        raise _fault(field, f"record {number} gives a LEN of {len(digits)} digits, not a record length")
    length = int(digits)
    if record_type not in RECORD_TYPES:
        raise _fault(field, f"record {number} is Type-{record_type}; a booking holds only Type-1, 2 and 14")
    end = offset + length
    if length < match.end() - offset + 1:
        raise _fault(field, f"record {number} gives LEN {length}, shorter than its own LEN field")
    if end > len(data):
        raise _fault(field, f"record {number} gives LEN {length} but only {len(data) - offset} bytes remain")
    if data[end - 1] != FS:
        raise _fault(field, f"record {number} does not end with FS where its LEN {length} says")
    if record_type != 14 and FS in data[offset : end - 1]:
        raise _fault(field, f"record {number} holds an FS before its end; its LEN is wrong")
    return RecordSpan(record_type, offset, end)


def _fault(field: str, message: str) -> MalformedTransaction:
    return MalformedTransaction([Problem(field, message)])
