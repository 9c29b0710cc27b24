"""``livescan diag gpio``: light each status LED in turn, sound the buzzer, watch the TOUCH line.

Without the daemon the pins are driven from here (``check_gpio``); while it runs, the daemon's own
status panel and TOUCH line are used through ``POST /api/diag/gpio`` (``station.diag.api``, which
shares ``watch_touch`` and ``touch_finding``).

The technician watches the LEDs and listens; the TOUCH line is read: how many times a finger was
seen during the watch, and whether the line sits "pressed" with nothing on the glass (wrong
``touch_active_low``, or the touch supply missing). ``pin_factory`` is a gpiozero factory or its
name (``"mock"`` in tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from station.diag.report import FAIL, OK, WARN, Finding

CHECK = "gpio"
POLL_S = 0.02
MAX_CHANGES = 100  # TOUCH changes reported per watch


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
    from gpiozero import LED, Buzzer  # gpiozero loads only where pins are driven from here

    from drivers.gpio import LEDS, GpioError
    from drivers.gpio import pin_factory as named_factory

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
    from gpiozero.exc import GPIOZeroError

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


def watch_touch(
    is_pressed: Callable[[], bool],
    seconds: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    stop: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    """Read the TOUCH line every ``POLL_S`` for ``seconds`` (a bounded number of reads; ``stop()``
    ends it early): ``pressed_at_start``, ``presses``, ``polls``, ``pressed_polls``, ``changes``
    (``[nominal seconds into the watch, pressed]``, the first ``MAX_CHANGES``) and ``stopped_early``."""
    pressed = at_start = bool(is_pressed())
    presses = polls = pressed_polls = 0
    changes: list[list[Any]] = []
    stopped = False
    for _ in range(max(0, round(seconds / POLL_S))):
        if stop():
            stopped = True
            break
        sleep(POLL_S)
        polls += 1
        now = bool(is_pressed())
        pressed_polls += now
        if now != pressed:
            presses += now
            if len(changes) < MAX_CHANGES:
                changes.append([round(polls * POLL_S, 2), now])
            pressed = now
    return {
        "pressed_at_start": at_start,
        "presses": presses,
        "polls": polls,
        "pressed_polls": pressed_polls,
        "changes": changes,
        "stopped_early": stopped,
    }


def touch_finding(pin: int, active_low: bool, seconds: float, watched: dict[str, Any]) -> Finding:
    """The finding for a watch of the TOUCH line on GPIO ``pin`` (``watch_touch``'s answer)."""
    at_start, presses = bool(watched.get("pressed_at_start")), int(watched.get("presses", 0))
    polls, pressed_polls = int(watched.get("polls", 0)), int(watched.get("pressed_polls", 0))
    data = {"pin": pin, "active_low": active_low, **watched}
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


def _watch(
    pin: int, active_low: bool, seconds: float, factory: Any, sleep: Callable[[float], None]
) -> Finding:
    from gpiozero import Button
    from gpiozero.exc import GPIOZeroError

    try:
        button = Button(pin, pull_up=active_low, pin_factory=factory)
    except GPIOZeroError as exc:
        return _unusable("touch", pin, exc)
    try:
        watched = watch_touch(lambda: bool(button.is_pressed), seconds, sleep=sleep)
    finally:
        button.close()
    return touch_finding(pin, active_low, seconds, watched)


def _unusable(name: str, pin: int, exc: Exception) -> Finding:
    return Finding(
        CHECK,
        name,
        FAIL,
        f"GPIO {pin} cannot be used ({type(exc).__name__}: {exc})",
        "another program may hold the pin (the station daemon?), or the pin number is wrong",
        {"pin": pin},
    )
