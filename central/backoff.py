"""Capped exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").

The wait before retry ``attempt`` (1 = the first retry) is uniform in
``[0, min(cap, base * 2 ** (attempt - 1))]``: retries of many senders spread out instead of
arriving together, and no wait exceeds ``cap``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


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
