"""The ANSI/NIST-ITL booking transaction (EBTS CAR), shared by the station and the centre.

    from sync.transaction import Booking, TcnIssuer, encode, decode, validate

* ``model``: the typed booking (``Booking`` and its parts); ``codes``/``places``: code tables.
* ``validate(booking, now=...)`` lists every ``Problem``; ``encode`` validates, then writes bytes.
* ``decode(data)`` reads bytes back into a ``Booking`` or raises ``MalformedTransaction``.
* ``TcnIssuer`` issues transaction control numbers; ``parse_tcn`` reads one back.
* ``romanise_name`` gives the A-Z form in which a name is sent; ``parse_date_of_birth`` reads a
  typed CCYYMMDD date of birth (00000000 = unknown), refusing partial dates.
* Every error is a ``TransactionError`` carrying ``problems`` as plain (field, message) data.

Decisions, each explained where it is made:

* VER 0500 (ANSI/NIST-ITL 1-2011, EBTS 10+) by default, 0400 on request; NSR/NTR 00.00 because
  only Type-14 records are sent; FQM names NFIQ 2.3 as vendor 0101, product 57 (``codes.py``).
* Names are sent as A-Z; Latin letters with diacritics are transliterated by ``romanise_name``,
  other scripts must be entered romanised; all text is printable ASCII (``names.py``).
* TCNs end with an ISO/IEC 7064 MOD 37-36 check character (``tcn.py``).
* Transactions over 2 MiB are refused both ways (``MAX_TRANSACTION_BYTES``); untrusted bytes are
  framed before nistitl sees them (``framing.py``).
"""

from sync.transaction.codes import DEFAULT_VERSION, MAX_TRANSACTION_BYTES, MissingReason
from sync.transaction.decode import decode
from sync.transaction.encode import build_message, encode
from sync.transaction.errors import (
    MalformedTransaction,
    Problem,
    TcnError,
    TransactionError,
    TransactionInvalid,
    TransactionTooLarge,
)
from sync.transaction.formats import parse_date_of_birth
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
from sync.transaction.names import romanise_name
from sync.transaction.tcn import Clock, InMemorySequence, SequenceSource, Tcn, TcnIssuer, parse_tcn
from sync.transaction.validate import ensure_valid, validate

__all__ = [
    "DEFAULT_VERSION",
    "MAX_TRANSACTION_BYTES",
    "Arrest",
    "Booking",
    "CaptureDevice",
    "Clock",
    "FingerImage",
    "InMemorySequence",
    "MalformedTransaction",
    "MissingFinger",
    "MissingReason",
    "Offence",
    "Problem",
    "SequenceSource",
    "Subject",
    "Tcn",
    "TcnError",
    "TcnIssuer",
    "TransactionError",
    "TransactionHeader",
    "TransactionInvalid",
    "TransactionTooLarge",
    "build_message",
    "decode",
    "encode",
    "ensure_valid",
    "parse_date_of_birth",
    "parse_tcn",
    "romanise_name",
    "validate",
]
