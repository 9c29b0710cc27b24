"""A search outcome as it is stored and returned, and the notification an immigration hit raises.

The two results are independent, as EBTS keeps the SRE and the IDR/IAR apart: ``criminal`` (hit,
candidates, the rank-1 subject's record summary and offence level) and ``immigration`` (hit,
candidates). Whatever ``as_dict()`` of a gallery result adds is kept; ``gallery``, ``hit`` and
``candidates`` are always written here in one shape.

The notification mirrors what an IAQ carries (requesting ORI, purpose, name, dates of birth, sex,
place of birth, offences) plus the immigration candidates. It is personal data: it goes to the
webhook only and is never logged or listed.
"""

from __future__ import annotations

from typing import Any

from central.matching import CandidateLike, GalleryResultLike, SearchOutcomeLike
from central.notifications import IMMIGRATION_HIT, NewNotification
from central.transactions import TransactionRecord
from sync.transaction import Booking


def results(outcome: SearchOutcomeLike) -> dict[str, Any]:
    criminal = _gallery(outcome.criminal)
    criminal["record_summary"] = outcome.record_summary if outcome.criminal.hit else None
    criminal["level"] = outcome.level if outcome.criminal.hit else None
    return {"criminal": criminal, "immigration": _gallery(outcome.immigration)}


def notification(
    record: TransactionRecord, booking: Booking, outcome: SearchOutcomeLike, created_at: str
) -> NewNotification | None:
    """The notification of an immigration hit; None when the immigration gallery did not match."""
    if not outcome.immigration.hit:
        return None
    subject = booking.subject
    payload = {
        "kind": IMMIGRATION_HIT,
        "tcn": record.tcn,
        "requesting_ori": record.ori,
        "purpose": "booking",
        "received_at": record.received_at,
        "created_at": created_at,
        "candidates": [_candidate(candidate) for candidate in outcome.immigration.candidates],
        "subject": {
            "name": subject.name,
            "dates_of_birth": [None if day is None else day.isoformat() for day in subject.dates_of_birth],
            "sex": subject.sex,
            "place_of_birth": subject.place_of_birth,
        },
        "offences": [offence.literal for offence in booking.arrest.offences],
        "criminal_hit": outcome.criminal.hit,
    }
    return NewNotification(tcn=record.tcn, ori=record.ori, payload=payload, created_at=created_at)


def _gallery(result: GalleryResultLike) -> dict[str, Any]:
    return {
        **result.as_dict(),
        "gallery": result.gallery,
        "hit": result.hit,
        "candidates": [_candidate(candidate) for candidate in result.candidates],
    }


def _candidate(candidate: CandidateLike) -> dict[str, Any]:
    return {
        "subject_id": candidate.subject_id,
        "score": candidate.score,
        "rank": candidate.rank,
        "fingers_matched": candidate.fingers_matched,
    }
