"""Code tables and the fixed values of the CAR this station sends (EBTS 9.x/10.x, ANSI/NIST-ITL).

Places of birth and citizenship live in ``places.py``. Each table maps code -> meaning, so a
kiosk can offer the meanings and a validation message can list the codes.
"""

from __future__ import annotations

from enum import StrEnum

TOT_CAR = "CAR"  # 1.004: criminal tenprint submission, answer required

# 1.002 VER. 0500 (ANSI/NIST-ITL 1-2011, EBTS 10 onwards) is the default: it is the version current
# EBTS receivers expect, its Type-14 mnemonics are the ones nistitl uses, and it allows 50-character
# names. 0400 (ITL 1-2007, EBTS 9.x) is kept for receivers still on EBTS 9.x.
SUPPORTED_VERSIONS = {
    "0400": "ANSI/NIST-ITL 1-2007 (EBTS 9.x)",
    "0500": "ANSI/NIST-ITL 1-2011 (EBTS 10 and later)",
    "0501": "ANSI/NIST-ITL 1-2011 Update 2013",
    "0502": "ANSI/NIST-ITL 1-2011 Update 2015",
}
DEFAULT_VERSION = "0500"


def name_length_limit(version: str) -> int:
    """Longest NAM/AKA: 30 under ITL 1-2007 (EBTS 9.x before 9.4), 50 from ITL 1-2011 on."""
    return 30 if version == "0400" else 50


# 1.011 NSR / 1.012 NTR: 00.00 because a booking carries no fixed-resolution (Type-3..7) records;
# the resolution of each print is stated in its own Type-14 record (SLC, THPS, TVPS).
NO_FIXED_RESOLUTION = "00.00"

SEX = {"M": "male", "F": "female", "X": "unknown"}
LEGACY_SEX = {  # EBTS still defines these, but they describe names, not people; not sent
    "G": "male impersonator",
    "N": "female impersonator",
    "Y": "male name, no gender given",
    "Z": "female name, no gender given",
}
RACE = {
    "A": "Asian or Pacific Islander",
    "B": "Black",
    "I": "American Indian or Alaska Native",
    "U": "unknown",
    "W": "White",
}
EYE_COLOUR = {
    "BLK": "black",
    "BLU": "blue",
    "BRO": "brown",
    "GRN": "green",
    "GRY": "gray",
    "HAZ": "hazel",
    "MAR": "maroon",
    "MUL": "multicolored",
    "PNK": "pink",
    "XXX": "unknown",
}
HAIR_COLOUR = {
    "BAL": "bald",
    "BLK": "black",
    "BLN": "blond or strawberry",
    "BLU": "blue",
    "BRO": "brown",
    "GRN": "green",
    "GRY": "gray or partially gray",
    "ONG": "orange",
    "PLE": "purple",
    "PNK": "pink",
    "RED": "red or auburn",
    "SDY": "sandy",
    "WHI": "white",
    "XXX": "unknown",
}


class MissingReason(StrEnum):
    """2.084 AMP: why a finger has no image."""

    AMPUTATED = "XX"
    UNABLE_TO_PRINT = "UP"  # bandaged, or no usable image for any reason; the matcher skips it


FINGER_NAMES = {
    1: "right thumb",
    2: "right index",
    3: "right middle",
    4: "right ring",
    5: "right little",
    6: "left thumb",
    7: "left index",
    8: "left middle",
    9: "left ring",
    10: "left little",
}


def finger_name(position: object) -> str:
    """'finger 3 (right middle)', or just 'finger N' for a position outside 1..10."""
    name = FINGER_NAMES.get(position) if isinstance(position, int) else None
    return f"finger {position} ({name})" if name else f"finger {position!r}"


# Type-14 values this station always writes
IMPRESSION_LIVE_SCAN_PLAIN = "0"  # 14.003 IMP: an R307 takes flat prints, never rolled
SCALE_PIXELS_PER_INCH = "1"  # 14.008 SLC
COMPRESSION_WSQ = "WSQ20"  # 14.011 CGA
BITS_PER_PIXEL = "8"  # 14.012 BPX
WSQ_PPI = 500  # WSQ is defined for 500 ppi; THPS/TVPS

# 14.024 FQM: {finger, score, algorithm vendor (4 hex digits), algorithm product (1..65535)}.
# NFIQ 2 registers its unified quality score under CBEFF product owner 0x0101 (ISO/IEC JTC 1
# SC 37) with one product code per model revision (NFIQ 2 source, nfiq2_cbeff.cpp): 0x21 2.0,
# 0x37 2.1, 0x38 2.2, 0x39 2.3. nbis-python bundles NFIQ 2.3, so 0x39 (57) is written; any NFIQ 2
# revision is accepted on reading.
NFIQ2_VENDOR_ID = "0101"
NFIQ2_PRODUCT_CODE = 0x39
NFIQ2_PRODUCT_CODES = frozenset({0x21, 0x37, 0x38, 0x39})
QUALITY_NOT_COMPUTED = 254
QUALITY_FAILED = 255  # read as "not computed"; never written

# Size cap on a whole transaction, both ways. A ten-print R307 booking is ~85 kB (8 kB WSQ per
# finger); 2 MiB leaves room for fourteen 500 ppi rolled/slap-sized images.
MAX_TRANSACTION_BYTES = 2 * 1024 * 1024
