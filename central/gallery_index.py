"""A gallery's templates in memory, per finger position, as the search reads them.

``GalleryIndex.build`` turns the database rows of one gallery into one ``FingerTable`` per finger
position: the full templates, their prefilter cuts and which subject each belongs to. An index is
immutable; the matcher swaps in a new one when the database's generation moves on.

The prefilter cut keeps a template's ``PREFILTER_MINUTIAE`` most reliable minutiae (ISO quality =
mindtct reliability). bozorth3's cost grows steeply with the minutiae count: on this 2-core
machine its batch call compared ~10,000 cut templates a second against ~700 full ones (impostor
pairs, ``bench/central_search.py``), while the cut still separates one finger's impressions from
other fingers well enough to shortlist subjects (``central.gallery_search``). Every decision is
then taken on the full templates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from biometrics.iso import encode_template, parse_template

PREFILTER_MINUTIAE = 20


def prefilter_template(template: bytes, keep: int = PREFILTER_MINUTIAE) -> bytes:
    """``template`` reduced to its ``keep`` most reliable minutiae (unchanged if it has no more)."""
    parsed = parse_template(template)
    if len(parsed.minutiae) <= keep:
        return template
    ranked = sorted(range(len(parsed.minutiae)), key=lambda i: (-parsed.minutiae[i].quality, i))
    kept = tuple(parsed.minutiae[i] for i in sorted(ranked[:keep]))
    return encode_template(replace(parsed, minutiae=kept))


@dataclass(frozen=True)
class TemplateRow:
    """One enrolled template of a gallery member, as loaded from the database."""

    subject_id: str
    position: int
    template: bytes
    prefilter: bytes


@dataclass(frozen=True)
class FingerTable:
    """Every template of one finger position in one gallery."""

    owners: np.ndarray  # int32: index into GalleryIndex.subject_ids of each template
    templates: tuple[bytes, ...]
    prefilter: tuple[bytes, ...]
    rows_by_owner: Mapping[int, tuple[int, ...]]  # subject index -> its template rows here

    def rows_of(self, subjects: Iterable[int]) -> list[int]:
        return [row for subject in subjects for row in self.rows_by_owner.get(int(subject), ())]


@dataclass(frozen=True)
class GalleryIndex:
    gallery: str
    generation: int
    subject_ids: tuple[str, ...]
    fingers: Mapping[int, FingerTable]

    @property
    def size(self) -> int:
        return len(self.subject_ids)

    @property
    def template_count(self) -> int:
        return sum(len(table.templates) for table in self.fingers.values())

    @classmethod
    def build(
        cls, gallery: str, generation: int, members: Iterable[str], rows: Iterable[TemplateRow]
    ) -> GalleryIndex:
        """The index of ``gallery``: ``members`` are its subjects (with or without templates)."""
        subject_ids = tuple(sorted(set(members)))
        number = {subject: index for index, subject in enumerate(subject_ids)}
        grouped: dict[int, list[TemplateRow]] = {}
        for row in rows:
            if row.subject_id in number:
                grouped.setdefault(row.position, []).append(row)
        fingers = {position: _finger_table(found, number) for position, found in sorted(grouped.items())}
        return cls(gallery, generation, subject_ids, MappingProxyType(fingers))


def _finger_table(rows: list[TemplateRow], number: Mapping[str, int]) -> FingerTable:
    owners = np.fromiter((number[row.subject_id] for row in rows), dtype=np.int32, count=len(rows))
    by_owner: dict[int, list[int]] = {}
    for index, owner in enumerate(owners.tolist()):
        by_owner.setdefault(owner, []).append(index)
    return FingerTable(
        owners=owners,
        templates=tuple(row.template for row in rows),
        prefilter=tuple(row.prefilter for row in rows),
        rows_by_owner=MappingProxyType({owner: tuple(found) for owner, found in by_owner.items()}),
    )
