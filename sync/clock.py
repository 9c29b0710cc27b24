"""Time for both ends of the wire (station and centre): an injectable UTC clock and one sortable
text form: stored and sent times are UTC text with milliseconds, ``2024-03-15T14:30:05.123Z``,
which sorts as text in time order, so SQL can compare them directly.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sync.transaction.tcn import Clock

__all__ = ["Clock", "parse_timestamp", "timestamp", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
