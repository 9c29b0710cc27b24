"""The station's GPIO through gpiozero: status LEDs and buzzer (``StatusPanel``) and the sensor's
TOUCH output (``TouchLine``).

    panel, touch = open_gpio(True, "lgpio", {"led_ready": 17, ..., "touch": 25}, touch_active_low=True)
    panel.cue("busy")                 # the workflow's cues: ready, busy, good, error (and off)
    touch.wait_for_press(0.5)         # True once a finger is on the sensor
    panel.close(); touch.close()

Pins are BCM numbers; 0 means "not wired" and that part is left out. The pin factory is gpiozero's
(RPi.GPIO on a Pi 1-4, lgpio on a Pi 5, ``MockFactory`` in tests), passed in or named. With GPIO
disabled, ``open_gpio`` gives a ``NullPanel`` (same interface, does nothing) and no touch line, so
the sensor worker polls GenImg instead. Cues never block: beeps run on gpiozero's background thread.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from gpiozero import LED, Button, Buzzer
from gpiozero.exc import GPIOZeroError
from gpiozero.pins import Factory

CUES = ("ready", "busy", "good", "error", "off")
LEDS = ("led_ready", "led_busy", "led_good", "led_error")
# cue -> (the LED lit, all others off; the number of short beeps)
_CUE_STATES: dict[str, tuple[str | None, int]] = {
    "ready": ("led_ready", 0),
    "busy": ("led_busy", 0),
    "good": ("led_good", 1),
    "error": ("led_error", 3),
    "off": (None, 0),
}
_FACTORIES = {
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
    "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory"),
    "native": ("gpiozero.pins.native", "NativeFactory"),
    "mock": ("gpiozero.pins.mock", "MockFactory"),
}
BEEP_S = 0.08  # one short beep; the gap between beeps is the same


class GpioError(Exception):
    """A pin or pin factory that cannot be used; the message says which and what to change."""


class UnknownCue(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no status cue {name!r}; the cues are: {', '.join(CUES)}")


class Panel(Protocol):
    """What the daemon drives: ``StatusPanel`` or ``NullPanel``."""

    def cue(self, name: str) -> None: ...
    def on_event(self, event: Mapping[str, Any]) -> None: ...
    def close(self) -> None: ...


def pin_factory(name: str) -> Factory | None:
    """gpiozero's pin factory named ``name`` (``gpio.pin_factory``); None for "" (gpiozero chooses)."""
    if not name:
        return None
    if name not in _FACTORIES:
        raise GpioError(
            f"no pin factory {name!r}; use one of: {', '.join(_FACTORIES)} (or '' for gpiozero's)"
        )
    module, cls = _FACTORIES[name]
    try:
        return getattr(importlib.import_module(module), cls)()
    except (ImportError, OSError, GPIOZeroError, RuntimeError) as exc:
        raise GpioError(
            f"the {name} pin factory is not available here ({type(exc).__name__}: {exc}); install its "
            "library, choose another gpio.pin_factory, or set gpio.enabled = false"
        ) from None


class StatusPanel:
    """Four LEDs (ready, busy, good, error) and an active buzzer; exactly one LED lit per cue.

    ``pins`` maps ``led_ready``, ``led_busy``, ``led_good``, ``led_error`` and ``buzzer`` to BCM
    pins (missing or 0: not wired; other keys, like ``touch``, are ignored).
    """

    def __init__(
        self, pins: Mapping[str, int], *, pin_factory: Factory | None = None, beep_s: float = BEEP_S
    ) -> None:
        self._lock = threading.Lock()
        self._beep_s = beep_s
        self._leds: dict[str, LED] = {}
        self._buzzer: Buzzer | None = None
        try:
            for name in LEDS:
                if pins.get(name):
                    self._leds[name] = _device(LED, name, pins[name], pin_factory=pin_factory)
            if pins.get("buzzer"):
                self._buzzer = _device(Buzzer, "buzzer", pins["buzzer"], pin_factory=pin_factory)
        except GpioError:
            self.close()
            raise
        self.current: str = "off"

    def cue(self, name: str) -> None:
        """Show ``name`` (``CUES``): its LED on, the others off, its beeps started (not waited for)."""
        if name not in _CUE_STATES:
            raise UnknownCue(name)
        lit, beeps = _CUE_STATES[name]
        with self._lock:
            for led_name, led in self._leds.items():
                led.value = led_name == lit
            if self._buzzer is not None:
                if beeps:
                    self._buzzer.beep(self._beep_s, self._beep_s, n=beeps, background=True)
                else:
                    self._buzzer.off()
            self.current = name

    def on_event(self, event: Mapping[str, Any]) -> None:
        """A workflow event (``publish``): ``cue`` events are shown; a sensor in error or unplugged
        shows ``error``; other events are ignored."""
        if event.get("event") == "cue" and event.get("cue") in _CUE_STATES:
            self.cue(event["cue"])
        elif event.get("event") == "sensor" and event.get("state") in ("error", "disconnected"):
            self.cue("error")

    def close(self) -> None:
        """Everything off and every pin released (safe to call twice)."""
        with self._lock:
            for device in [*self._leds.values(), *([self._buzzer] if self._buzzer else [])]:
                device.close()  # closing a gpiozero output stops its blink thread and releases the pin
            self._leds.clear()
            self._buzzer = None


class NullPanel:
    """The panel when GPIO is disabled: the same interface, doing nothing."""

    current = "off"

    def cue(self, name: str) -> None:
        if name not in _CUE_STATES:
            raise UnknownCue(name)
        self.current = name

    def on_event(self, event: Mapping[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


class TouchLine:
    """The sensor's TOUCH (finger-detect) output on one input pin.

    ``active_low``: the line goes low while a finger is on (R307, R503: an internal pull-up is
    used); otherwise high (a pull-down is used).
    """

    def __init__(
        self,
        pin: int,
        *,
        active_low: bool = True,
        pin_factory: Factory | None = None,
        bounce_s: float | None = None,
    ) -> None:
        self.pin = pin
        self._button = _device(
            Button, "touch", pin, pull_up=active_low, bounce_time=bounce_s, pin_factory=pin_factory
        )

    @property
    def is_pressed(self) -> bool:
        """True while a finger is on the sensor."""
        return bool(self._button.is_pressed)

    def wait_for_press(self, timeout: float | None) -> bool:
        """Block until a finger is on the sensor (True), or ``timeout`` seconds pass (False)."""
        return bool(self._button.wait_for_press(timeout))

    def wait_for_release(self, timeout: float | None) -> bool:
        """Block until the finger is lifted (True), or ``timeout`` seconds pass (False)."""
        return bool(self._button.wait_for_release(timeout))

    def close(self) -> None:
        self._button.close()


def open_gpio(
    enabled: bool,
    factory: str | Factory | None,
    pins: Mapping[str, int],
    *,
    touch_active_low: bool = True,
) -> tuple[StatusPanel | NullPanel, TouchLine | None]:
    """The panel and touch line of a configuration (``[gpio]``): ``(NullPanel(), None)`` when
    disabled; the touch line is None when ``pins["touch"]`` is 0 or missing."""
    if not enabled:
        return NullPanel(), None
    chosen = pin_factory(factory) if isinstance(factory, str) else factory
    panel = StatusPanel(pins, pin_factory=chosen)
    try:
        touch = (
            TouchLine(pins["touch"], active_low=touch_active_low, pin_factory=chosen)
            if pins.get("touch")
            else None
        )
    except GpioError:
        panel.close()
        raise
    return panel, touch


def _device(kind: type, name: str, pin: int, **options: Any) -> Any:
    try:
        return kind(pin, **options)
    except GPIOZeroError as exc:
        raise GpioError(
            f"gpio.{name}: GPIO {pin} cannot be used ({type(exc).__name__}: {exc}); choose another pin, "
            "0 for not wired, or gpio.enabled = false"
        ) from None
