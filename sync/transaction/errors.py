"""The one error family of the transaction layer, and the problem list it carries.

Every error raised here is a ``TransactionError`` holding one or more ``Problem`` s, each tied to
an EBTS field ("2.018 NAM") with a message an officer or technician can act on. ``problems`` is
plain data (``as_dicts()``), so the centre can return it as the ERRT-like body of a 422.

* ``TransactionInvalid``: a booking breaks an EBTS rule (a code, a length, a date); fix and resend.
* ``MalformedTransaction``: bytes that are not a CAR this system can read (framing, lengths,
  missing records or fields, non-numeric numbers); ``TransactionTooLarge`` when over the size cap.
* ``TcnError``: a transaction control number that is not in this system's format.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a transaction: the field ("2.018 NAM") and what to do about it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class TransactionError(Exception):
    """Base class of every error of the transaction layer; ``problems`` lists them all."""

    summary = "transaction error"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.summary}: " + "; ".join(str(problem) for problem in self.problems)

    def as_dicts(self) -> list[dict[str, str]]:
        return [problem.as_dict() for problem in self.problems]

    def __reduce__(self):  # keep the problems across pickling (process pools, queues)
        return (type(self), (self.problems,))


class TransactionInvalid(TransactionError):
    """The booking breaks EBTS rules; every problem is listed, fix them and submit again."""

    summary = "booking is not valid"


class MalformedTransaction(TransactionError):
    """The bytes are not an ANSI/NIST-ITL CAR that this system can read."""

    summary = "malformed transaction"


class TransactionTooLarge(MalformedTransaction):
    """The transaction is bigger than the configured size cap; nothing of it was parsed."""

    summary = "transaction too large"


class TcnError(TransactionError):
    """A transaction control number that is not in this system's format, or a bad issuer setting."""

    summary = "bad transaction control number"


def brief(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, so hostile input cannot flood a message."""
    shown = repr(value)
    return shown if len(shown) <= limit else f"{shown[: limit - 3]}... ({len(shown)} characters)"
