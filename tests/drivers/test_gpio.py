"""Status LEDs, buzzer cues and the TOUCH line on gpiozero's mock pins."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from itertools import pairwise

import pytest
from gpiozero import LED
from gpiozero.pins.mock import MockFactory

from drivers.gpio import (
    CUES,
    GpioError,
    NullPanel,
    StatusPanel,
    TouchLine,
    UnknownCue,
    open_gpio,
    pin_factory,
)

PINS = {"led_ready": 17, "led_busy": 27, "led_good": 22, "led_error": 23, "buzzer": 24, "touch": 25}
LED_PINS = {"ready": 17, "busy": 27, "good": 22, "error": 23}


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    mock = MockFactory()
    yield mock
    mock.reset()


def lit(factory: MockFactory) -> list[str]:
    return [name for name, pin in LED_PINS.items() if factory.pin(pin).state]


def beeps(factory: MockFactory, expected: int, within: float = 5.0) -> int:
    """Rising edges on the buzzer pin once the beeping has finished (bounded wait)."""
    pin = factory.pin(PINS["buzzer"])
    deadline = time.monotonic() + within
    while len(pin.states) < 1 + 2 * expected and time.monotonic() < deadline:
        time.sleep(0.01)
    states = [state.state for state in pin.states]
    return sum(1 for before, after in pairwise(states) if after and not before)


def test_each_cue_lights_exactly_its_led(factory: MockFactory) -> None:
    panel = StatusPanel(PINS, pin_factory=factory, beep_s=0.001)
    assert lit(factory) == [] and panel.current == "off"
    for cue in ("ready", "busy", "good", "error", "ready"):
        panel.cue(cue)
        assert lit(factory) == [cue] and panel.current == cue
    panel.cue("off")
    assert lit(factory) == []
    panel.close()


def test_good_beeps_once_and_error_three_times(factory: MockFactory) -> None:
    panel = StatusPanel(PINS, pin_factory=factory, beep_s=0.001)
    buzzer = factory.pin(PINS["buzzer"])
    panel.cue("good")
    assert beeps(factory, 1) == 1
    buzzer.clear_states()
    panel.cue("error")
    assert beeps(factory, 3) == 3
    assert not buzzer.state  # silent after the last beep
    buzzer.clear_states()
    panel.cue("ready")
    panel.cue("busy")
    assert beeps(factory, 0, within=0.0) == 0 and not buzzer.state
    panel.close()


def test_ready_silences_a_beep_in_progress(factory: MockFactory) -> None:
    panel = StatusPanel(PINS, pin_factory=factory, beep_s=30.0)  # a beep that would last 30 s
    panel.cue("error")
    deadline = time.monotonic() + 5
    while not factory.pin(PINS["buzzer"]).state and time.monotonic() < deadline:
        time.sleep(0.01)
    assert factory.pin(PINS["buzzer"]).state
    panel.cue("ready")
    assert not factory.pin(PINS["buzzer"]).state and lit(factory) == ["ready"]
    panel.close()


def test_unwired_parts_are_left_out(factory: MockFactory) -> None:
    panel = StatusPanel({"led_ready": 17, "led_error": 0, "buzzer": 0}, pin_factory=factory)
    panel.cue("error")  # no error LED, no buzzer: nothing to do, no failure
    assert not factory.pin(17).state
    panel.cue("ready")
    assert factory.pin(17).state
    assert 23 not in factory.pins and 24 not in factory.pins  # never claimed
    panel.close()


def test_events_drive_the_panel(factory: MockFactory) -> None:
    panel = StatusPanel(PINS, pin_factory=factory, beep_s=0.001)
    panel.on_event({"event": "cue", "cue": "busy"})
    assert lit(factory) == ["busy"]
    panel.on_event({"event": "progress", "booking": "b1", "fgp": 2, "done": 10, "total": 100})
    panel.on_event({"event": "cue", "cue": "party"})  # not a cue: ignored, never raised from publish
    assert lit(factory) == ["busy"]
    panel.on_event({"event": "sensor", "state": "disconnected", "message": "unplugged"})
    assert lit(factory) == ["error"]
    panel.close()


def test_an_unknown_cue_is_refused(factory: MockFactory) -> None:
    panel = StatusPanel(PINS, pin_factory=factory)
    with pytest.raises(UnknownCue, match="the cues are: ready, busy, good, error, off"):
        panel.cue("blink")
    with pytest.raises(UnknownCue):
        NullPanel().cue("blink")
    panel.close()


def test_close_releases_the_pins(factory: MockFactory) -> None:
    panel = StatusPanel(PINS, pin_factory=factory)
    panel.cue("ready")
    panel.close()
    panel.close()
    again = LED(17, pin_factory=factory)  # would raise GPIOPinInUse if the panel still held it
    again.close()


def test_a_pin_in_use_is_a_named_error_and_nothing_stays_claimed(factory: MockFactory) -> None:
    holder = LED(22, pin_factory=factory)
    with pytest.raises(GpioError, match=r"gpio.led_good: GPIO 22 cannot be used .*choose another pin"):
        StatusPanel(PINS, pin_factory=factory)
    LED(17, pin_factory=factory).close()  # the LEDs opened before the failure were released
    holder.close()


def test_touch_active_low_waits_for_a_finger(factory: MockFactory) -> None:
    touch = TouchLine(25, active_low=True, pin_factory=factory)
    pin = factory.pin(25)
    assert not touch.is_pressed  # pulled up: idle high
    assert touch.wait_for_press(0.01) is False
    timer = threading.Timer(0.05, pin.drive_low)
    timer.start()
    assert touch.wait_for_press(5.0) is True and touch.is_pressed
    timer.join()
    pin.drive_high()
    assert touch.wait_for_release(1.0) is True and not touch.is_pressed
    touch.close()


def test_touch_active_high(factory: MockFactory) -> None:
    touch = TouchLine(25, active_low=False, pin_factory=factory)
    pin = factory.pin(25)
    assert not touch.is_pressed
    pin.drive_high()
    assert touch.is_pressed and touch.wait_for_press(0) is True
    pin.drive_low()
    assert not touch.is_pressed
    touch.close()
    TouchLine(25, pin_factory=factory).close()  # released


def test_open_gpio_follows_the_configuration(factory: MockFactory) -> None:
    panel, touch = open_gpio(False, factory, PINS)
    assert isinstance(panel, NullPanel) and touch is None
    for cue in CUES:
        panel.cue(cue)
    panel.on_event({"event": "cue", "cue": "good"})
    panel.close()
    assert factory.pins == {}  # disabled: not one pin touched

    panel, touch = open_gpio(True, factory, PINS, touch_active_low=True)
    assert isinstance(panel, StatusPanel) and isinstance(touch, TouchLine)
    panel.cue("good")
    factory.pin(25).drive_low()
    assert touch.is_pressed and lit(factory) == ["good"]
    panel.close()
    touch.close()

    panel, touch = open_gpio(True, factory, {**PINS, "touch": 0})
    assert touch is None
    panel.close()


def test_open_gpio_releases_the_panel_when_touch_fails(factory: MockFactory) -> None:
    with pytest.raises(GpioError, match=r"gpio\.touch: GPIO 23 cannot be used"):
        open_gpio(True, factory, {**PINS, "touch": 23})  # the error LED's pin
    LED(23, pin_factory=factory).close()  # the panel let its pins go


def test_pin_factories_by_name() -> None:
    assert pin_factory("") is None
    mock = pin_factory("mock")
    assert isinstance(mock, MockFactory)
    mock.close()
    with pytest.raises(GpioError, match="no pin factory 'wiringpi'"):
        pin_factory("wiringpi")
