"""A stand-in for ``central.search`` with the same outcome shape, deciding from the case number.

The booking's 2.009 OCA (case number) chooses the answer: containing ``CRIM`` -> criminal hit
(subject C-0001, level 2), ``IMM`` -> immigration hit (subject I-0001), ``FAIL`` -> the search
raises. Loaded by the server under test with ``--matcher fake_matcher:open_matcher``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sync.transaction import Booking


@dataclass(frozen=True)
class Candidate:
    subject_id: str
    score: int
    rank: int
    fingers_matched: int


@dataclass(frozen=True)
class GalleryResult:
    gallery: str
    hit: bool
    candidates: tuple[Candidate, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"gallery": self.gallery, "hit": self.hit, "candidates": [asdict(c) for c in self.candidates]}


@dataclass(frozen=True)
class SearchOutcome:
    criminal: GalleryResult
    immigration: GalleryResult
    record_summary: dict[str, Any] | None
    level: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "criminal": self.criminal.as_dict(),
            "immigration": self.immigration.as_dict(),
            "record_summary": self.record_summary,
            "level": self.level,
        }


class FakeSearchError(RuntimeError):
    pass


class FakeMatcher:
    def __init__(self) -> None:
        self.searched: list[str] = []

    def search(self, booking: Booking) -> SearchOutcome:
        case = booking.arrest.case_number or ""
        self.searched.append(booking.header.tcn)
        if "FAIL" in case:
            raise FakeSearchError("the fake matcher was told to fail")
        criminal = _result("criminal", "C-0001" if "CRIM" in case else None)
        immigration = _result("immigration", "I-0001" if "IMM" in case else None)
        summary = {"subject_id": "C-0001", "entries": 2, "most_serious": "BURGLARY"} if criminal.hit else None
        return SearchOutcome(criminal, immigration, summary, 2 if criminal.hit else None)


def _result(gallery: str, subject_id: str | None) -> GalleryResult:
    if subject_id is None:
        return GalleryResult(gallery, False, ())
    return GalleryResult(
        gallery, True, (Candidate(subject_id, 87, 1, 8), Candidate(f"{subject_id}-B", 12, 2, 1))
    )


def open_matcher(data_dir: Path, *, keys: Path | None = None) -> FakeMatcher:
    return FakeMatcher()
