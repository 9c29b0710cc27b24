"""The ZFM/R30x fingerprint module protocol: packet codec, errors, model profiles, ``Sensor``.

The GPIO parts (``drivers.gpio``: status LEDs, buzzer, TOUCH line) are imported from there, not
here, so that code which never drives GPIO does not load gpiozero.
"""

from drivers.errors import ConfirmationError, PortError, SensorError, TransportError
from drivers.profiles import PROFILES, R307, R503, ModelProfile
from drivers.sensor import FAST_TIMING, MatchResult, SearchResult, Sensor, SystemParameters, Timing

__all__ = [
    "FAST_TIMING",
    "PROFILES",
    "R307",
    "R503",
    "ConfirmationError",
    "MatchResult",
    "ModelProfile",
    "PortError",
    "SearchResult",
    "Sensor",
    "SensorError",
    "SystemParameters",
    "Timing",
    "TransportError",
]
