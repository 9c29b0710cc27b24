"""How fingers are captured, and the limits of each setting: one table that ``CaptureSettings`` and
the configuration file (``station.config``) both check against. Light on purpose: the configuration
loader imports it without loading the biometric libraries."""

from __future__ import annotations

from dataclasses import dataclass


class InvalidCaptureSettings(ValueError):
    """A capture setting is out of range; the message names it and the allowed values."""


@dataclass(frozen=True)
class Limit:
    low: float
    high: float
    allowed: str  # as the configuration documentation states it

    def admits(self, value: float) -> bool:
        return self.low <= value <= self.high


LIMITS = {
    "quality_threshold": Limit(0, 100, "0 to 100 (NFIQ 2)"),
    "poll_interval_s": Limit(0.01, 5, "0.01 to 5 seconds"),
    "finger_timeout_s": Limit(1, 3600, "1 to 3600 seconds"),
    "max_attempts_before_up_hint": Limit(1, 20, "1 to 20"),
    "lift_wait_s": Limit(0, 10, "0 to 10 seconds"),
    "sensor_retries": Limit(0, 10, "0 to 10"),
}


@dataclass(frozen=True)
class CaptureSettings:
    """How fingers are captured. The daemon fills them from ``[capture]`` and, for
    ``poll_interval_s``/``finger_timeout_s``, ``[sensor]``; the others keep their defaults."""

    quality_threshold: int = 30  # NFIQ 2; below it a print needs a retake or a supervisor override
    poll_interval_s: float = 0.1  # GenImg polling when no TOUCH line is wired
    finger_timeout_s: float = 60.0  # an armed finger with nothing on the glass (or a finger left on it
    #                                 when it should be lifted) for this long fails
    auto_advance: bool = True  # after an upload, arm the next pending finger while this one processes
    max_attempts_before_up_hint: int = 3  # then the message suggests marking the finger UP
    auto_accept: bool = True  # accept a print at or above the threshold without a tap (see station.capture)
    lift_wait_s: float = 1.0  # after a rejected image, how long to wait for the finger to be lifted
    sensor_retries: int = 2  # sensor recoveries allowed per finger before it is "failed"

    def __post_init__(self) -> None:
        for name, limit in LIMITS.items():
            value = getattr(self, name)
            if not limit.admits(value):
                raise InvalidCaptureSettings(f"capture setting {name} = {value!r}: use {limit.allowed}")
