"""Finger positions (FGP), as in ANSI/NIST-ITL 14.013 and ISO/IEC 19794-2: 1..10 single fingers."""

from __future__ import annotations

import operator
from enum import IntEnum

from biometrics.errors import InvalidFingerPosition


class FingerPosition(IntEnum):
    RIGHT_THUMB = 1
    RIGHT_INDEX = 2
    RIGHT_MIDDLE = 3
    RIGHT_RING = 4
    RIGHT_LITTLE = 5
    LEFT_THUMB = 6
    LEFT_INDEX = 7
    LEFT_MIDDLE = 8
    LEFT_RING = 9
    LEFT_LITTLE = 10

    @property
    def label(self) -> str:
        """Plain name for the officer, e.g. "right index"."""
        return self.name.lower().replace("_", " ")


def finger_position(fgp: int) -> FingerPosition:
    """``fgp`` as a FingerPosition; ``InvalidFingerPosition`` unless it is an int in 1..10."""
    try:
        if isinstance(fgp, bool):
            raise TypeError
        value = operator.index(fgp)
    except TypeError:
        raise InvalidFingerPosition(f"finger position must be an int 1..10, got {fgp!r}") from None
    try:
        return FingerPosition(value)
    except ValueError:
        raise InvalidFingerPosition(f"finger position {fgp} is not a single finger (1..10)") from None
