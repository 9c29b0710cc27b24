"""Capped exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").

One implementation for both ends: the station's outbox delivery and the centre's webhook.

The wait before retry ``attempt`` (1 = the first retry) is uniform in
``[0, min(cap, base * 2 ** (attempt - 1))]``: retries of many senders spread out instead of
arriving together, and no wait exceeds ``cap``. A server's ``Retry-After`` is a floor under that
wait (itself capped, so a hostile or confused server cannot park a sender for days).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Backoff:
    base: float = 2.0  # seconds
    cap: float = 900.0  # seconds (15 minutes)
    random: random.Random = field(default_factory=random.Random, compare=False)

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError(f"backoff needs 0 < base <= cap, not base={self.base}, cap={self.cap}")

    def ceiling(self, attempt: int) -> float:
        """The longest wait before retry ``attempt``."""
        exponent = min(max(attempt - 1, 0), 64)  # 2**64 x base is past any cap; keeps the float finite
        return min(self.cap, self.base * 2.0**exponent)

    def delay(self, attempt: int) -> float:
        return self.random.uniform(0.0, self.ceiling(attempt))

    def wait(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait before retry ``attempt``: full jitter, never sooner than ``retry_after`` (capped)."""
        return max(self.delay(attempt), min(retry_after or 0.0, self.cap))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header in seconds (delta-seconds or an HTTP-date); None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - (now or datetime.now(UTC))).total_seconds(), 0.0)
