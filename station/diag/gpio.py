"""``livescan diag gpio``: light each status LED in turn, sound the buzzer, watch the TOUCH line.

The technician watches the LEDs and listens; the TOUCH line is read: how many times a finger was
seen during the watch, and whether the line sits "pressed" with nothing on the glass (wrong
``touch_active_low``, or the touch supply missing). ``pin_factory`` is a gpiozero factory or its
name (``"mock"`` in tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from gpiozero import LED, Button, Buzzer
from gpiozero.exc import GPIOZeroError

from drivers.gpio import LEDS, GpioError
from drivers.gpio import pin_factory as named_factory
from station.diag.report import FAIL, OK, WARN, Finding

CHECK = "gpio"
POLL_S = 0.02


def check_gpio(
    pins: Mapping[str, int],
    *,
    factory: Any = None,
    touch_active_low: bool = True,
    blink_s: float = 0.5,
    beep_s: float = 0.2,
    watch_s: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Finding]:
    """Blink, beep and watch; one finding per wired part (unwired parts, pin 0, are left out)."""
    try:
        chosen = named_factory(factory) if isinstance(factory, str) else factory
    except GpioError as exc:
        return [Finding(CHECK, "pin factory", FAIL, str(exc))]
    findings = []
    for name in LEDS:
        if pins.get(name):
            findings.append(_pulse(LED, name, pins[name], blink_s, chosen, sleep, "lit"))
    if pins.get("buzzer"):
        findings.append(_pulse(Buzzer, "buzzer", pins["buzzer"], beep_s, chosen, sleep, "sounded"))
    if pins.get("touch"):
        findings.append(_watch(pins["touch"], touch_active_low, watch_s, chosen, sleep))
    return findings


def _pulse(
    kind: type, name: str, pin: int, seconds: float, factory: Any, sleep: Callable[[float], None], verb: str
) -> Finding:
    try:
        device = kind(pin, pin_factory=factory)
    except GPIOZeroError as exc:
        return _unusable(name, pin, exc)
    try:
        device.on()
        sleep(seconds)
        device.off()
    finally:
        device.close()
    return Finding(
        CHECK,
        name,
        OK,
        f"GPIO {pin} switched on for {seconds:g} s, then off",
        f"if it never {verb}, check its wiring (and resistor) to GPIO {pin} and ground",
        {"pin": pin},
    )


def _watch(
    pin: int, active_low: bool, seconds: float, factory: Any, sleep: Callable[[float], None]
) -> Finding:
    try:
        button = Button(pin, pull_up=active_low, pin_factory=factory)
    except GPIOZeroError as exc:
        return _unusable("touch", pin, exc)
    presses = 0

    def pressed() -> None:
        nonlocal presses
        presses += 1

    polls = pressed_polls = 0
    try:
        at_start = bool(button.is_pressed)
        button.when_pressed = pressed
        for _ in range(max(0, round(seconds / POLL_S))):
            sleep(POLL_S)
            polls += 1
            pressed_polls += bool(button.is_pressed)
    finally:
        button.close()
    data = {"pin": pin, "active_low": active_low, "pressed_at_start": at_start, "presses": presses}
    level = "low" if active_low else "high"
    if (at_start and polls == 0) or (polls and pressed_polls == polls and presses <= 1):
        return Finding(
            CHECK,
            "touch",
            WARN,
            f"GPIO {pin} reads a finger all the time",
            "with nothing on the glass TOUCH should not be active: check gpio.touch_active_low and that "
            "the module's touch supply (pin 6) has 3.3 V",
            data,
        )
    if seconds <= 0:
        return Finding(CHECK, "touch", OK, f"GPIO {pin} reads no finger now (not watched)", data=data)
    if presses == 0:
        return Finding(
            CHECK,
            "touch",
            WARN,
            f"no finger seen on GPIO {pin} in {seconds:g} s",
            f"touch the glass during the watch; TOUCH should go {level}: check its wire and the 3.3 V "
            "touch supply",
            data,
        )
    return Finding(
        CHECK, "touch", OK, f"GPIO {pin} saw a finger {presses} time(s) in {seconds:g} s", data=data
    )


def _unusable(name: str, pin: int, exc: Exception) -> Finding:
    return Finding(
        CHECK,
        name,
        FAIL,
        f"GPIO {pin} cannot be used ({type(exc).__name__}: {exc})",
        "another program may hold the pin (the station daemon?), or the pin number is wrong",
        {"pin": pin},
    )
