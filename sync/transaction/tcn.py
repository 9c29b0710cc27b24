"""Transaction control numbers (1.009 TCN): issue them, read them back.

Format (10-40 ANS as EBTS requires, 36 characters with a 4-character station id)::

    NY0303000K01-20240315143000-000042Q
    ORI(9) station(2-4) "-" UTC yyyymmddHHMMSS "-" sequence(6) check(1)

* The TCN is the idempotency key from the outbox to the centre, so it is issued once, before the
  booking is persisted, and never changed; a corrected booking gets a new one.
* Uniqueness: one station id per kiosk of an agency, the UTC second of issue and a sequence from
  an injected source (the outbox keeps the persistent counter). Sequence numbers above 999999
  wrap (modulo 10**6); a repeat would need a million TCNs from one kiosk within one second.
* The last character is an ISO/IEC 7064 MOD 37-36 check character over the letters and digits,
  so a TCN read out over the phone or typed into a lookup is verified before it is used.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sync.transaction.errors import Problem, TcnError
from sync.transaction.fields import TCN

Clock = Callable[[], datetime]  # returns timezone-aware datetimes
SequenceSource = Callable[[], int]  # returns the next number; strictly increasing, persisted by its owner

SEQUENCE_MODULUS = 1_000_000
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORI = re.compile(r"[A-Z0-9]{9}")
_STATION = re.compile(r"[A-Z0-9]{2,4}")
_TCN = re.compile(r"([A-Z0-9]{9})([A-Z0-9]{2,4})-([0-9]{14})-([0-9]{6})([0-9A-Z])")


def check_character(text: str) -> str:
    """ISO/IEC 7064 MOD 37-36 check character over the letters and digits of ``text``."""
    modulus = 36
    product = modulus
    for character in text:
        value = _ALPHABET.find(character)
        if value < 0:
            continue
        total = (product + value) % modulus or modulus
        product = (total * 2) % (modulus + 1)
    return _ALPHABET[(modulus + 1 - product) % modulus]


@dataclass(frozen=True)
class Tcn:
    ori: str
    station_id: str
    issued: datetime  # UTC, whole seconds
    sequence: int  # 0..999999

    @property
    def text(self) -> str:
        body = f"{self.ori}{self.station_id}-{self.issued:%Y%m%d%H%M%S}-{self.sequence:06d}"
        return body + check_character(body)

    def __str__(self) -> str:
        return self.text


class InMemorySequence:
    """A thread-safe counter for tests and demos; production takes the outbox's persistent one."""

    def __init__(self, start: int = 1) -> None:
        self._next = start
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            value = self._next
            self._next += 1
            return value


class TcnIssuer:
    """Issues the TCNs of one station: ``TcnIssuer("NY0303000", "K01", clock, sequence).issue()``."""

    def __init__(self, ori: str, station_id: str, clock: Clock, sequence: SequenceSource) -> None:
        problems = []
        if not _ORI.fullmatch(ori):
            problems.append(Problem(TCN.label, f"ORI {ori!r} must be 9 capital letters or digits"))
        if not _STATION.fullmatch(station_id):
            problems.append(
                Problem(TCN.label, f"station id {station_id!r} must be 2-4 capital letters or digits")
            )
        if problems:
            raise TcnError(problems)
        self.ori = ori
        self.station_id = station_id
        self._clock = clock
        self._sequence = sequence

    def issue(self) -> Tcn:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise TcnError([Problem(TCN.label, "the station clock gave a time without a time zone")])
        number = self._sequence()
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise TcnError([Problem(TCN.label, f"the sequence source gave {number!r}, not a number >= 0")])
        issued = now.astimezone(UTC).replace(microsecond=0)
        return Tcn(self.ori, self.station_id, issued, number % SEQUENCE_MODULUS)


def parse_tcn(text: str) -> Tcn:
    """The parts of a TCN this system issued; ``TcnError`` for anything else."""
    match = _TCN.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise TcnError(
            [Problem(TCN.label, f"{text!r} is not a TCN of the form ORI+STATION-YYYYMMDDHHMMSS-NNNNNNC")]
        )
    ori, station_id, stamp, sequence, check = match.groups()
    if check_character(text[:-1]) != check:
        raise TcnError([Problem(TCN.label, f"{text!r} fails its check character; it was mistyped")])
    try:
        issued = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise TcnError([Problem(TCN.label, f"{text!r} holds an impossible time {stamp}")]) from None
    return Tcn(ori, station_id, issued, int(sequence))
