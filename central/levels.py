"""Offence "Levels" 1/2/3 computed from a subject's criminal record entries.

The reference (``ebts-booking.md`` §10) gives two definitions. This module implements the
**2008–09 Secure Communities program material**, the one the reference lists first: a subject is
classified by the offences they have been **convicted of or charged with**:

=======  ==================================================================================
Level 1  national security, homicide, kidnapping, sexual assault, robbery, aggravated assault,
         sex offenses, cruelty to child or spouse, weapons, drug offenses with a sentence of
         more than one year
Level 2  minor drug offenses and property offenses: burglary, larceny, fraud, money laundering
Level 3  all other offenses
=======  ==================================================================================

Decisions:

* A subject's level is the most serious (lowest number) level of any entry; no entries → None.
* Both dispositions count ("convicted of or charged with"); acquittals and dismissals are not
  record entries here (a record entry is always ``convicted`` or ``charged``).
* A drug entry is Level 1 only when it carries an imposed sentence of more than 365 days
  (``sentence_days``); every other drug entry — a shorter sentence, or a charge, which has no
  sentence yet — is a "minor drug offense", Level 2.
* The later "threat level" definitions (aggravated felony / felony counts, convictions only) are
  not implemented: record entries carry no felony/misdemeanour class.

Record entries code the offence twice: ``offence`` is the literal as written on the record
(e.g. "ARMED ROBBERY"), ``category`` one of ``OffenceCategory`` — the reference's categories by
name — which alone decides the level. ``code`` optionally keeps the source system's own code
(for instance an NCIC offense code); it is informational and never read here.
``classify_offence`` guesses a category from a literal for enrolment from bookings, whose
arrest segments carry literals only.

As the reference says, Levels are an ICE classification made downstream: the centre computes it
from its own record; a station only ever displays the label it is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

MORE_THAN_ONE_YEAR_DAYS = 365


class OffenceCategory(StrEnum):
    # Level 1
    NATIONAL_SECURITY = "national_security"
    HOMICIDE = "homicide"
    KIDNAPPING = "kidnapping"
    SEXUAL_ASSAULT = "sexual_assault"
    ROBBERY = "robbery"
    AGGRAVATED_ASSAULT = "aggravated_assault"
    SEX_OFFENSE = "sex_offense"
    CRUELTY_TO_CHILD_OR_SPOUSE = "cruelty_to_child_or_spouse"
    WEAPONS = "weapons"
    # Level 1 with a sentence of more than a year, else Level 2
    DRUG = "drug"
    # Level 2
    BURGLARY = "burglary"
    LARCENY = "larceny"
    FRAUD = "fraud"
    MONEY_LAUNDERING = "money_laundering"
    # Level 3
    OTHER = "other"


class Disposition(StrEnum):
    CONVICTED = "convicted"
    CHARGED = "charged"


LEVEL_1_CATEGORIES = frozenset(
    {
        OffenceCategory.NATIONAL_SECURITY,
        OffenceCategory.HOMICIDE,
        OffenceCategory.KIDNAPPING,
        OffenceCategory.SEXUAL_ASSAULT,
        OffenceCategory.ROBBERY,
        OffenceCategory.AGGRAVATED_ASSAULT,
        OffenceCategory.SEX_OFFENSE,
        OffenceCategory.CRUELTY_TO_CHILD_OR_SPOUSE,
        OffenceCategory.WEAPONS,
    }
)
LEVEL_2_CATEGORIES = frozenset(
    {
        OffenceCategory.BURGLARY,
        OffenceCategory.LARCENY,
        OffenceCategory.FRAUD,
        OffenceCategory.MONEY_LAUNDERING,
    }
)


@dataclass(frozen=True)
class RecordEntry:
    """One line of a criminal record."""

    date: date  # of the offence (or of the arrest when the offence date is unknown)
    offence: str  # the literal, e.g. "POSSESSION OF COCAINE"
    category: OffenceCategory
    disposition: Disposition
    sentence_days: int | None = None  # imposed sentence of a conviction; None: none or unknown
    code: str | None = None  # the source system's offence code, informational

    def __post_init__(self) -> None:
        object.__setattr__(self, "category", OffenceCategory(self.category))
        object.__setattr__(self, "disposition", Disposition(self.disposition))
        if self.sentence_days is not None and self.sentence_days < 0:
            raise ValueError(f"sentence_days must be >= 0, got {self.sentence_days}")
        if not self.offence.strip():
            raise ValueError("a record entry needs the offence literal")


def entry_level(entry: RecordEntry) -> int:
    """The level of one entry (1 most serious)."""
    if entry.category in LEVEL_1_CATEGORIES:
        return 1
    if entry.category is OffenceCategory.DRUG:
        long_sentence = entry.sentence_days is not None and entry.sentence_days > MORE_THAN_ONE_YEAR_DAYS
        return 1 if long_sentence else 2
    if entry.category in LEVEL_2_CATEGORIES:
        return 2
    return 3


def offence_level(entries: Iterable[RecordEntry]) -> int | None:
    """The subject's level: the most serious level of any entry; None for an empty record."""
    levels = [entry_level(entry) for entry in entries]
    return min(levels) if levels else None


# Keyword rules, first match wins; more specific rules come before the general ones they overlap.
_RULES: tuple[tuple[OffenceCategory, str], ...] = (
    (OffenceCategory.NATIONAL_SECURITY, r"TREASON|ESPIONAGE|SABOTAGE|SEDITION|TERROR"),
    (OffenceCategory.HOMICIDE, r"HOMICIDE|MURDER|MANSLAUGHTER"),
    (OffenceCategory.KIDNAPPING, r"KIDNAP|ABDUCT|HOSTAGE"),
    (OffenceCategory.SEXUAL_ASSAULT, r"RAPE|SEXUAL ASSAULT|SEX ASSAULT|SEXUAL BATTERY|SODOMY"),
    (OffenceCategory.ROBBERY, r"ROBBERY|CARJACK"),
    (OffenceCategory.AGGRAVATED_ASSAULT, r"AGG(RAVATED)?\.? ASSAULT|AGG(RAVATED)?\.? BATTERY|ASSAULT WITH"),
    (OffenceCategory.CRUELTY_TO_CHILD_OR_SPOUSE, r"CRUELTY|CHILD ABUSE|SPOUS|DOMESTIC"),
    (OffenceCategory.SEX_OFFENSE, r"SEX|INDECEN|LEWD|PROSTITUT|PORNOGRAPH|MOLEST|INCEST"),
    (OffenceCategory.WEAPONS, r"WEAPON|FIREARM|GUN|EXPLOSIVE"),
    (OffenceCategory.DRUG, r"DRUG|NARCOTIC|COCAINE|HEROIN|CANNABIS|MARIJUANA|METH|CONTROLLED SUBST"),
    (OffenceCategory.MONEY_LAUNDERING, r"LAUNDER"),
    (OffenceCategory.BURGLARY, r"BURGL|BREAKING AND ENTERING"),
    (OffenceCategory.FRAUD, r"FRAUD|FORGERY|COUNTERFEIT|EMBEZZL|IDENTITY THEFT|SWINDL"),
    (OffenceCategory.LARCENY, r"LARCENY|THEFT|SHOPLIFT|STOLEN"),
)
_COMPILED = tuple((category, re.compile(rf"\b(?:{pattern})", re.IGNORECASE)) for category, pattern in _RULES)


def classify_offence(literal: str) -> OffenceCategory:
    """A best guess of the category of an offence literal (keywords; OTHER when none applies).

    A heuristic for literals that arrive without a code, e.g. the arrest offences of a booking;
    records loaded from a real source should carry their category explicitly."""
    for category, pattern in _COMPILED:
        if pattern.search(literal):
            return category
    return OffenceCategory.OTHER
