"""Sequence check: was the same finger captured at two positions of one booking?"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from biometrics.errors import TemplateError
from biometrics.iso import check_template
from biometrics.matching import MATCH_THRESHOLD, compare_many
from biometrics.positions import FingerPosition, finger_position


@dataclass(frozen=True)
class DuplicateFinger:
    """Positions ``first`` < ``second`` whose prints match: one of them must be retaken."""

    first: FingerPosition
    second: FingerPosition
    score: int

    def describe(self) -> str:
        return (
            f"The {self.first.label} and {self.second.label} prints look like the same finger "
            f"(score {self.score}); retake the {self.second.label}."
        )


def find_duplicates(
    templates: Mapping[int, bytes], threshold: int = MATCH_THRESHOLD
) -> list[DuplicateFinger]:
    """Every pair of different positions whose templates score >= ``threshold``, highest first.

    ``templates`` maps FGP (1..10) to an ISO/IEC 19794-2:2011 template; leave out fingers that
    were not captured (amputated, unable to print, or no minutiae).
    """
    by_position: dict[FingerPosition, bytes] = {}
    for fgp, template in templates.items():
        position = finger_position(fgp)
        try:
            check_template(template)
        except TemplateError as exc:
            raise TemplateError(
                f"template for the {position.label} (FGP {int(position)}): {exc.message}"
            ) from None
        by_position[position] = template
    ordered = sorted(by_position)
    duplicates = []
    for index, first in enumerate(ordered[:-1]):
        later = ordered[index + 1 :]
        scores = compare_many(by_position[first], [by_position[p] for p in later])
        duplicates.extend(
            DuplicateFinger(first, second, score)
            for second, score in zip(later, scores, strict=True)
            if score >= threshold
        )
    return sorted(duplicates, key=lambda d: (-d.score, d.first, d.second))
