"""A booking as typed data: what one CAR transaction carries, independent of its encoding.

Values are held exactly as they are sent (names already romanised, codes as in ``codes.py`` and
``places.py``); ``validate.py`` says what is wrong with one. Sequences are tuples (lists passed in
are converted), so bookings compare and hash by value and a decoded booking equals the original.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sync.transaction.codes import DEFAULT_VERSION, WSQ_PPI, MissingReason
from sync.transaction.tcn import Tcn


def _freeze(instance: object, *names: str) -> None:
    for name in names:
        value = getattr(instance, name)
        if isinstance(value, str | bytes):
            raise TypeError(f"{type(instance).__name__}.{name} must be a sequence, not {value!r}")
        object.__setattr__(instance, name, tuple(value))


@dataclass(frozen=True)
class TransactionHeader:
    """Type-1. ``created`` is timezone-aware: 1.005 DAT is its local date, 1.014 GMT its UTC time.

    Take ``created`` from the same clock reading as the TCN (``for_tcn``), so that the transaction
    has one instant; it is sent to the second.
    """

    ori: str  # 1.008; also 14.004 SRC of every image
    destination: str  # 1.007 DAI
    tcn: str  # 1.009
    created: datetime
    version: str = DEFAULT_VERSION  # 1.002 VER
    priority: int | None = None  # 1.006 PRY, 1 (rapid) .. 9 (delayed)
    domain: str | None = None  # 1.013 DOM name, e.g. "NORAM"

    @classmethod
    def for_tcn(
        cls, tcn: Tcn, *, destination: str, local_zone: tzinfo | None = None, **options: object
    ) -> TransactionHeader:
        """The header for the transaction ``tcn`` was issued for; DAT in ``local_zone`` (default: host's)."""
        created = tcn.issued.astimezone(local_zone)
        return cls(ori=tcn.ori, destination=destination, tcn=tcn.text, created=created, **options)


@dataclass(frozen=True)
class Subject:
    """Type-2 descriptors of the person booked."""

    name: str  # 2.018 NAM "SURNAME,GIVEN MIDDLE"; see names.romanise_name
    place_of_birth: str  # 2.020 POB
    dates_of_birth: tuple[date | None, ...]  # 2.022 DOB, 1-5; None alone = entirely unknown
    sex: str  # 2.024 SEX
    race: str  # 2.025 RAC
    height_inches: int | None  # 2.027 HGT; None = unknown
    weight_pounds: int | None  # 2.029 WGT; None = unknown
    eye_colour: str  # 2.031 EYE
    hair_colour: str  # 2.032 HAI
    aliases: tuple[str, ...] = ()  # 2.019 AKA
    citizenship: tuple[str, ...] = ()  # 2.021 CTZ
    social_security_numbers: tuple[str, ...] = ()  # 2.016 SOC
    misc_numbers: tuple[str, ...] = ()  # 2.017 MNU, "AR-A012345678"

    def __post_init__(self) -> None:
        _freeze(self, "dates_of_birth", "aliases", "citizenship", "social_security_numbers", "misc_numbers")


@dataclass(frozen=True)
class Offence:
    """One 2.047 ASL arrest segment."""

    literal: str  # AOL, the offence as charged
    date: date | None = None  # DOO, date of offence


@dataclass(frozen=True)
class Arrest:
    date: date  # 2.045 DOA
    offences: tuple[Offence, ...]  # 2.047 ASL, 1-40
    controlling_agencies: tuple[str, ...]  # 2.073 CRI, 1-3 ORIs
    retain: bool  # 2.005 RET: the receiver keeps this arrest in its criminal file
    case_number: str | None = None  # 2.009 OCA
    comments: str | None = None  # 2.056 ICO
    rap_sheet: bool = False  # 2.070 RAP: ask for an electronic rap sheet in the answer
    treat_as_adult: bool = False  # 2.087 TAA

    def __post_init__(self) -> None:
        _freeze(self, "offences", "controlling_agencies")


@dataclass(frozen=True)
class CaptureDevice:
    """2.067 IMA, the capture equipment."""

    make: str
    model: str
    serial_number: str


@dataclass(frozen=True)
class FingerImage:
    """One printed finger: a Type-14 record."""

    position: int  # 14.013 FGP, 1 right thumb .. 10 left little
    wsq: bytes  # 14.999, WSQ at 0.75 bpp
    width: int  # 14.006 HLL
    height: int  # 14.007 VLL
    nfiq2: int | None  # 14.024 FQM score 0-100; None = not computed (sent as 254)
    captured: date  # 14.005 FCD
    ppi: int = WSQ_PPI  # 14.009/14.010 THPS/TVPS

    def __post_init__(self) -> None:
        if not isinstance(self.wsq, bytes):
            object.__setattr__(self, "wsq", bytes(self.wsq))


@dataclass(frozen=True)
class MissingFinger:
    """A finger with no image, listed in 2.084 AMP."""

    position: int
    reason: MissingReason


@dataclass(frozen=True)
class Booking:
    header: TransactionHeader
    subject: Subject
    arrest: Arrest
    fingers: tuple[FingerImage, ...]
    missing: tuple[MissingFinger, ...] = ()
    device: CaptureDevice | None = None  # 2.067 IMA

    def __post_init__(self) -> None:
        _freeze(self, "fingers", "missing")
