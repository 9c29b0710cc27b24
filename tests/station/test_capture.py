"""The per-finger state machine: its table, its settings, and each path against the simulated sensor."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from capture_helpers import FAST, WAIT, impressions, make_rig, noise_image, processor
from gpiozero import Button
from gpiozero.pins.mock import MockFactory

from biometrics.worker import Processor
from station import capture as fsm
from station.capture import CaptureSettings, FingerCapture, InvalidCaptureSettings, InvalidTransition
from station.workflow import BelowThreshold

# --- the table --------------------------------------------------------------------------------------

__all__ = ["impressions", "make_rig", "processor"]  # fixtures


def test_every_state_is_reachable_from_pending() -> None:
    reached, frontier = {fsm.PENDING}, [fsm.PENDING]
    while frontier:
        state = frontier.pop()
        for (source, _), target in fsm.TRANSITIONS.items():
            if source == state and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(fsm.FINGER_STATES)


def test_a_finger_goes_through_the_happy_path() -> None:
    finger = FingerCapture(2)
    for event, state in [
        (fsm.ARM, fsm.LIFTING),
        (fsm.LIFTED, fsm.WAITING),
        (fsm.FINGER_ON, fsm.CAPTURING),
        (fsm.GATE_PASSED, fsm.UPLOADING),
        (fsm.UPLOADED, fsm.PROCESSING),
        (fsm.PROCESSED, fsm.REVIEW),
        (fsm.ACCEPT, fsm.ACCEPTED),
    ]:
        assert finger.fire(event) == state


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (fsm.PENDING, fsm.ACCEPT),
        (fsm.WAITING, fsm.UPLOADED),
        (fsm.LIFTING, fsm.FINGER_ON),  # nothing is taken before the glass was seen empty
        (fsm.UPLOADING, fsm.ARM),  # already armed: the workflow treats capture() as a no-op
        (fsm.ACCEPTED, fsm.OVERRIDE),
        (fsm.MISSING, fsm.ACCEPT),
        (fsm.FAILED, fsm.FINGER_ON),
    ],
)
def test_moves_outside_the_table_are_refused_with_what_is_possible(state: str, event: str) -> None:
    finger = FingerCapture(7, state=state)
    with pytest.raises(InvalidTransition) as caught:
        finger.fire(event)
    assert finger.state == state
    assert "left index" in str(caught.value) and state in str(caught.value)
    assert "possible now:" in str(caught.value)


def test_a_rejected_image_goes_back_to_waiting_and_any_finger_can_be_marked() -> None:
    assert fsm.next_state(1, fsm.CAPTURING, fsm.GATE_REJECTED) == fsm.WAITING
    assert all(fsm.next_state(1, state, fsm.MARK) == fsm.MISSING for state in fsm.FINGER_STATES)
    assert all(fsm.next_state(1, state, fsm.RESTART) == fsm.WAITING for state in fsm.ARMED[1:])
    assert fsm.next_state(1, fsm.LIFTING, fsm.RESTART) == fsm.LIFTING  # the glass is still to be cleared


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("quality_threshold", 101),
        ("quality_threshold", -1),
        ("poll_interval_s", 0),
        ("finger_timeout_s", 0.5),
        ("max_attempts_before_up_hint", 0),
        ("lift_wait_s", 11),
        ("sensor_retries", -1),
    ],
)
def test_out_of_range_settings_name_the_setting_and_the_range(name: str, value: float) -> None:
    with pytest.raises(InvalidCaptureSettings, match=rf"capture setting {name} = .*: use "):
        CaptureSettings(**{name: value})


def test_default_settings_are_the_contract_defaults() -> None:
    settings = CaptureSettings()
    assert (settings.quality_threshold, settings.poll_interval_s, settings.finger_timeout_s) == (30, 0.1, 60)
    assert settings.auto_advance and settings.max_attempts_before_up_hint == 3


# --- against the simulator --------------------------------------------------------------------------


def test_a_messy_image_is_refused_by_the_module_before_any_upload(make_rig, impressions) -> None:
    rig = make_rig()
    rig.plan[1] = [noise_image(impressions)]
    rig.start()
    rejected = rig.wait_for(
        lambda e: e["event"] == "finger" and e["finger"]["fgp"] == 1 and e["finger"]["feedback"]
    )["finger"]
    assert rejected["state"] == "waiting" and rejected["attempts"] == 1
    assert "too" in rejected["message"].lower()  # too messy / too few feature points
    assert rejected["feedback"][0][0].isupper()
    accepted = rig.wait_finger(1, "accepted")
    assert accepted["attempts"] == 2
    events = rig.events
    first_rejection = events.index(next(e for e in events if e.get("finger") == rejected))
    first_upload = events.index(next(e for e in events if e["event"] == "progress" and e["fgp"] == 1))
    assert first_upload > first_rejection  # nothing of the refused image was uploaded
    assert {"event": "cue", "cue": "error"} in events[first_rejection:first_upload]


def test_repeated_refusals_suggest_marking_the_finger_up(make_rig, impressions) -> None:
    rig = make_rig(settings=replace(FAST, max_attempts_before_up_hint=2))
    rig.plan[1] = [noise_image(impressions, 1), noise_image(impressions, 2)]
    rig.start()
    second = rig.wait_for(lambda e: e["event"] == "finger" and e["finger"]["attempts"] == 2)["finger"]
    assert second["state"] == "waiting" and "mark it UP" in second["message"]
    assert rig.wait_finger(1, "accepted")["attempts"] == 3


def test_a_print_below_the_threshold_needs_a_supervisor_override_which_is_audited(make_rig) -> None:
    rig = make_rig(settings=replace(FAST, quality_threshold=100, auto_advance=False))
    rig.start()
    rig.workflow.capture(4)
    review = rig.wait_finger(4, "review")
    assert review["nfiq2"] < 100 and "below 100" in review["message"]
    with pytest.raises(BelowThreshold, match=r"right ring print NFIQ 2 .* threshold 100"):
        rig.workflow.accept(4)
    assert rig.finger_states()[4] == "review"
    rig.workflow.override(4, "sgt-5")
    finger = rig.wait_finger(4, "accepted")
    assert finger["accepted_by_override"] == "sgt-5"
    overrides = [entry for entry in rig.audit_log if entry[1] == "quality_override"]
    assert len(overrides) == 1
    actor, _, detail = overrides[0]
    assert actor == "sgt-5" and "FGP 4" in detail and "threshold 100" in detail and "officer-17" in detail


def test_without_auto_accept_a_good_print_waits_for_the_officer(make_rig) -> None:
    rig = make_rig(settings=replace(FAST, auto_accept=False, auto_advance=False))
    rig.start()
    rig.workflow.capture(2)
    review = rig.wait_finger(2, "review")
    assert review["nfiq2"] >= 30 and "accept it or retake it" in review["message"]
    rig.workflow.accept(2)
    rig.workflow.accept(2)  # a second tap changes nothing
    assert rig.finger_states()[2] == "accepted"


def test_a_retake_replaces_an_accepted_print(make_rig, impressions) -> None:
    rig = make_rig(settings=replace(FAST, auto_advance=False))
    rig.start()
    rig.workflow.capture(3)
    first = rig.wait_finger(3, "accepted")
    rig.clear_events()
    rig.workflow.capture(3)
    assert rig.wait_finger(3, "waiting")["nfiq2"] is None  # the old print is gone
    second = rig.wait_finger(3, "accepted")
    assert second["attempts"] == first["attempts"] + 1


def test_processing_of_one_finger_overlaps_capture_of_the_next(make_rig) -> None:
    rig = make_rig()
    rig.start()
    rig.wait_finger(2, "accepted")
    events = rig.events
    second_armed = events.index(next(e for e in events if e.get("finger", {}).get("fgp") == 2))
    first_done = events.index(next(e for e in events if e.get("finger", {}).get("state") == "accepted"))
    first_processing = next(
        i for i, e in enumerate(events) if e.get("finger", {}).get("state") == "processing"
    )
    assert first_processing < second_armed < first_done


def test_a_print_the_processor_cannot_take_fails_and_capture_again_recovers(make_rig, processor) -> None:
    rig = make_rig(settings=replace(FAST, auto_advance=False))
    closed = Processor(mode="thread")
    closed.close()
    rig.workflow.processor = closed
    rig.start()
    rig.workflow.capture(2)
    failed = rig.wait_finger(2, "failed")
    assert failed["message"] == "The print could not be processed: capture it again."
    rig.workflow.processor = processor
    rig.workflow.capture(2)
    assert rig.wait_finger(2, "accepted")["nfiq2"] is not None


def test_no_finger_in_time_fails_the_finger_and_capture_again_recovers(make_rig) -> None:
    rig = make_rig(settings=replace(FAST, finger_timeout_s=1, auto_advance=False))
    rig.presenting = False
    rig.start()
    rig.workflow.capture(5)
    failed = rig.wait_finger(5, "failed")
    assert "No finger was placed within 1 s" in failed["message"]
    rig.presenting = True
    rig.workflow.capture(5)
    assert rig.wait_finger(5, "accepted")["nfiq2"] is not None
    assert rig.worker.status()["state"] == "ready"


def test_with_a_touch_line_the_sensor_is_only_asked_once_the_finger_touches(make_rig) -> None:
    button = Button(17, pin_factory=MockFactory())
    try:
        rig = make_rig(
            settings=replace(FAST, auto_advance=False),
            worker_options={"touch": button, "health_interval_s": 60},
        )
        rig.start()
        button.pin.drive_low()  # a finger rests on the glass when the finger is armed
        before = rig.device.status()["counters"]["commands"]
        rig.workflow.capture(6)
        rig.wait_finger(6, "lifting")
        with pytest.raises(AssertionError):
            rig.wait_finger(6, "waiting", timeout=0.5)
        assert rig.device.status()["counters"]["commands"] == before  # the TOUCH line tells, not GenImg
        button.pin.drive_high()  # lifted
        rig.wait_finger(6, "waiting")
        before = rig.device.status()["counters"]["commands"]
        with pytest.raises(AssertionError):
            rig.wait_finger(6, "capturing", timeout=0.5)
        assert rig.device.status()["counters"]["commands"] == before  # no GenImg polling
        button.pin.drive_low()  # the TOUCH line goes active
        assert rig.wait_finger(6, "accepted")["attempts"] == 1
    finally:
        button.close()


# --- an empty glass before each finger ---------------------------------------------------------------


def _commands(rig) -> int:
    return rig.device.status()["counters"]["commands"]


def test_an_empty_glass_costs_one_look_before_the_finger_is_asked_for(make_rig) -> None:
    rig = make_rig(settings=replace(FAST, auto_advance=False), worker_options={"health_interval_s": 60})
    seen: dict[str, int] = {}
    rig.when("lifting", lambda: seen.setdefault("armed", _commands(rig)), fgp=3)
    rig.when("waiting", lambda: seen.setdefault("clear", _commands(rig)), fgp=3)
    rig.start()
    rig.workflow.capture(3)
    lifting = rig.wait_finger(3, "lifting")
    waiting = rig.wait_finger(3, "waiting")
    assert seen["clear"] - seen["armed"] == 1  # one GenImg answered "no finger"
    assert lifting["message"] == "Lift any finger off the sensor, then place the right middle."
    assert waiting["message"] == "Place the right middle on the sensor."
    assert rig.wait_finger(3, "accepted")["attempts"] == 1


def test_a_finger_left_on_the_glass_is_not_taken_for_the_next_position(make_rig, impressions) -> None:
    """Auto-advance arms the right index the moment the thumb's upload ends, the thumb still on the
    glass (timing off: no time to lift); the thumb is not captured as the index."""
    rig = make_rig(worker_options={"health_interval_s": 60})
    rig.presenting = False
    rig.start()
    rig.wait_finger(1, "waiting")
    rig.present(1)
    rig.wait_finger(2, "lifting")  # armed; the thumb is still there
    polls = _commands(rig)
    deadline = time.monotonic() + WAIT
    while _commands(rig) < polls + 5 and time.monotonic() < deadline:  # five more looks at the glass
        time.sleep(0.01)
    assert rig.finger_states()[2] == "lifting"
    assert not [e for e in rig.events if e["event"] == "progress" and e["fgp"] == 2]
    rig.device.finger(False)  # the subject lifts the thumb...
    rig.wait_finger(2, "waiting")
    rig.present(2)  # ...and places the index
    assert rig.wait_finger(2, "accepted")["attempts"] == 1
    rig.wait_finger(1, "accepted")
    for fgp in range(3, 11):
        rig.workflow.mark(fgp, "UP")
    rig.wait_booking("ready")
    assert rig.workflow.submit("officer-17")  # the sequence check found no thumb at the index


def test_a_finger_never_lifted_fails_in_time_and_capture_again_recovers(make_rig, impressions) -> None:
    rig = make_rig(settings=replace(FAST, finger_timeout_s=1, auto_advance=False))
    rig.start()
    rig.present(4)  # resting on the glass before the finger is armed
    rig.presenting = False
    rig.workflow.capture(4)
    failed = rig.wait_finger(4, "failed")
    assert failed["message"] == (
        "A finger stayed on the sensor for 1 s: lift it, then press Capture to try again."
    )
    assert failed["attempts"] == 0 and not [e for e in rig.events if e["event"] == "progress"]
    rig.presenting = True  # lifts when asked, places when the glass is clear
    rig.workflow.capture(4)
    assert rig.wait_finger(4, "accepted")["attempts"] == 1


# --- a module whose Img2Tz blanks the image buffer (zfm-protocol.md 5.1) -----------------------------


def _uploads(rig, fgp: int) -> int:
    return sum(
        1 for e in rig.events if e["event"] == "progress" and e["fgp"] == fgp and e["done"] == e["total"]
    )


def test_a_black_upload_after_the_gate_is_learned_and_each_finger_is_imaged_again(make_rig) -> None:
    rig = make_rig(sim_options={"convert_clears_image": True})
    rig.start()
    taken_again = rig.wait_for(
        lambda e: (
            e["event"] == "finger" and e["finger"]["fgp"] == 1 and "lost the image" in e["finger"]["message"]
        )
    )["finger"]
    assert taken_again["state"] == "waiting"
    assert taken_again["message"] == (
        "The sensor lost the image: place the finger again and "
        "hold the right thumb on the sensor until the upload starts."
    )
    thumb = rig.wait_finger(1, "accepted")
    assert thumb["nfiq2"] >= FAST.quality_threshold  # the print kept is a real image, not the black frame
    index = rig.wait_finger(2, "accepted")
    assert index["nfiq2"] >= FAST.quality_threshold
    assert (_uploads(rig, 1), _uploads(rig, 2)) == (2, 1)  # one black frame, once per sensor
    gate_messages = [
        e["finger"]["message"]
        for e in rig.events
        if e["event"] == "finger" and e["finger"]["state"] == "uploading"
    ]
    assert gate_messages[0] == "Image taken: the finger can be lifted."
    held = "Image checked: hold the right {} on the sensor until the upload starts."
    assert gate_messages[1:3] == [held.format("thumb"), held.format("index")]


def test_a_finger_lifted_before_the_second_image_is_asked_for_again(make_rig) -> None:
    rig = make_rig(sim_options={"convert_clears_image": True})
    # Set before the booking starts: the thumb's processing overlaps the right index's capture, so
    # the index may pass its gate before the thumb is accepted.
    rig.when("uploading", lambda: rig.device.finger(False), fgp=2)  # lifted as soon as the gate passed
    rig.start()
    assert rig.wait_finger(1, "accepted")["attempts"] == 2  # the module's habit is learned on the thumb
    lifted = rig.wait_for(
        lambda e: e["event"] == "finger" and e["finger"]["fgp"] == 2 and "too soon" in e["finger"]["message"]
    )["finger"]
    assert lifted["state"] == "waiting"
    assert lifted["message"] == (
        "The finger was lifted too soon: place it again and "
        "hold the right index on the sensor until the upload starts."
    )
    assert rig.wait_finger(2, "accepted")["nfiq2"] >= FAST.quality_threshold
    assert _uploads(rig, 2) == 1  # nothing was uploaded for the lifted attempt
