"""BookingWorkflow end to end against the simulator, a real processor and a real encrypted outbox."""

from __future__ import annotations

import io
import json
import time
from dataclasses import replace

import numpy as np
import pytest
from capture_helpers import (
    ARREST,
    FAST,
    SUBJECT,
    impressions,
    make_rig,
    processor,
    screened_impression,
)
from PIL import Image

from biometrics.compression import decode_wsq
from station.capture import InvalidTransition
from station.daemon import EventListener
from station.demo import DemoPresenter
from station.events import EventHub
from station.workflow import (
    BookingInProgress,
    IncompleteBooking,
    InvalidFinger,
    NoOpenBooking,
    NoPrint,
    NotBookingOwner,
    SequenceCheckFailed,
    WorkflowError,
)
from sync.outbox import QUEUED
from sync.transaction import MissingReason, TransactionInvalid, decode, parse_tcn

PERSONAL = ("DOE", "JOHN", "1980")

__all__ = ["impressions", "make_rig", "processor"]  # fixtures


def test_a_ten_print_booking_ends_in_the_outbox_and_reads_back(make_rig) -> None:
    rig = make_rig()
    rig.start()
    ready = rig.wait_booking("ready")
    views = {finger["fgp"]: finger for finger in ready["fingers"]}
    assert all(finger["state"] == "accepted" for finger in views.values())

    tcn = rig.workflow.submit("officer-17")

    assert parse_tcn(tcn).ori == "NY0303000"
    item = rig.outbox.item(tcn)
    assert item is not None and item.state == QUEUED
    booking = decode(rig.outbox.payload(tcn))
    assert booking.header.tcn == tcn and booking.header.destination == "NYCENTRE0"
    assert booking.subject == SUBJECT and booking.arrest == ARREST and booking.missing == ()
    assert [finger.position for finger in booking.fingers] == list(range(1, 11))
    for finger in booking.fingers:
        assert finger.nfiq2 == views[finger.position]["nfiq2"]
        assert (finger.width, finger.height) == (256, 288)
        image = decode_wsq(finger.wsq)
        assert image.shape == (288, 256)
    submitted = rig.wait_booking("submitted")
    assert submitted["tcn"] == tcn and submitted["current_fgp"] is None
    with pytest.raises(NoPrint):
        rig.workflow.image_png(1)  # the prints left memory with the submission


def test_the_prints_go_to_the_right_positions(make_rig, impressions) -> None:
    """Each submitted image is the one presented for its position (compared through the sequence check)."""
    from biometrics.extractor import Extractor
    from biometrics.matching import MATCH_THRESHOLD, compare

    rig = make_rig()
    rig.start()
    rig.wait_booking("ready")
    booking = decode(rig.outbox.payload(rig.workflow.submit("officer-17")))
    extractor = Extractor()
    presented = {
        fgp: extractor.process(np.asarray(Image.open(screened_impression(impressions, "S0001", fgp))), fgp)
        for fgp in (2, 7)
    }
    for finger in booking.fingers:
        if finger.position in presented:
            sent = extractor.process(decode_wsq(finger.wsq), finger.position)
            assert compare(sent.template, presented[finger.position].template) >= MATCH_THRESHOLD


def test_events_and_audit_carry_no_personal_data_and_are_json(make_rig) -> None:
    rig = make_rig()
    rig.start()
    rig.wait_booking("ready")
    rig.workflow.submit("officer-17")
    text = json.dumps(rig.events) + json.dumps(rig.audit_log)
    assert not any(word in text for word in PERSONAL)
    kinds = {event["event"] for event in rig.events}
    assert kinds == {"finger", "progress", "booking", "sensor", "cue"}
    assert {event["cue"] for event in rig.events if event["event"] == "cue"} == {"ready", "busy", "good"}
    events = [entry[1] for entry in rig.audit_log]
    assert events[0] == "booking_started" and events[-1] == "booking_submitted"
    assert events.count("finger_captured") == 10
    progress = [e for e in rig.events if e["event"] == "progress" and e["fgp"] == 1]
    assert progress[-1]["done"] == progress[-1]["total"] == 36864 and len(progress) <= 41


def test_xx_and_up_are_sent_as_missing_fingers(make_rig) -> None:
    rig = make_rig()
    rig.start()
    rig.wait_finger(8, "waiting")
    rig.workflow.mark(9, "XX")
    rig.workflow.mark(10, "UP")
    rig.workflow.mark(8, "UP")  # the armed finger: the sensor is disarmed
    ready = rig.wait_booking("ready")
    missing = {finger["fgp"]: finger["missing"] for finger in ready["fingers"] if finger["missing"]}
    assert missing == {8: "UP", 9: "XX", 10: "UP"}
    booking = decode(rig.outbox.payload(rig.workflow.submit("officer-17")))
    assert [finger.position for finger in booking.fingers] == list(range(1, 8))
    assert {(m.position, m.reason) for m in booking.missing} == {
        (8, MissingReason.UNABLE_TO_PRINT),
        (9, MissingReason.AMPUTATED),
        (10, MissingReason.UNABLE_TO_PRINT),
    }
    marks = [entry for entry in rig.audit_log if entry[1] == "finger_marked"]
    assert [entry[2].split(": ")[1] for entry in marks] == ["FGP 9 XX", "FGP 10 UP", "FGP 8 UP"]


def test_a_marked_finger_can_still_be_captured(make_rig) -> None:
    rig = make_rig(settings=replace(FAST, auto_advance=False))
    rig.start()
    rig.workflow.mark(3, "UP")
    rig.workflow.capture(3)
    finger = rig.wait_finger(3, "accepted")
    assert finger["missing"] is None


def test_a_finger_taken_twice_is_caught_by_the_sequence_check(make_rig, impressions) -> None:
    rig = make_rig()
    rig.plan[3] = [screened_impression(impressions, "S0001", 2, index=1)]  # right index again
    rig.start()
    rig.wait_booking("ready")
    with pytest.raises(SequenceCheckFailed) as caught:
        rig.workflow.submit("officer-17")
    assert caught.value.duplicates == [(2, 3)]
    message = str(caught.value)
    assert "right index and right middle" in message and "retake the right middle" in message
    view = rig.workflow.view()
    assert view is not None and view.duplicates == ((2, 3),) and view.state == "ready"
    assert "same finger" in view.fingers[2].message
    assert rig.outbox.counts().get(QUEUED, 0) == 0
    rig.clear_events()
    rig.workflow.capture(3)  # the officer retakes the middle finger
    assert rig.wait_booking("capturing")["duplicates"] == []
    rig.wait_finger(3, "accepted")
    tcn = rig.workflow.submit("officer-17")
    assert rig.outbox.item(tcn) is not None


def test_submit_names_the_fingers_still_open(make_rig) -> None:
    rig = make_rig(settings=replace(FAST, auto_advance=False))
    rig.start()
    for fgp in range(1, 9):
        rig.workflow.mark(fgp, "UP")
    with pytest.raises(IncompleteBooking, match="still open: left ring, left little") as caught:
        rig.workflow.submit("officer-17")
    assert caught.value.positions == [9, 10]


def test_only_one_booking_is_open_at_a_time(make_rig) -> None:
    rig = make_rig(settings=replace(FAST, auto_advance=False))
    rig.start()
    with pytest.raises(BookingInProgress, match="submit or cancel it"):
        rig.start()
    rig.workflow.cancel("officer-17")
    assert rig.wait_booking("cancelled")["id"]
    with pytest.raises(NoOpenBooking):
        rig.workflow.capture(1)
    assert ("officer-17", "booking_cancelled") in [(a, e) for a, e, _ in rig.audit_log]
    rig.start()
    view = rig.workflow.view()
    assert view is not None and view.state == "capturing"


def test_cancel_while_a_finger_uploads_disarms_the_sensor(make_rig) -> None:
    rig = make_rig()
    rig.when("uploading", lambda: rig.workflow.cancel("officer-17"), fgp=2)
    rig.start()
    rig.wait_booking("cancelled")
    assert rig.worker.submit(lambda session: session.sensor.handshake()).result(30) is True
    view = rig.workflow.view()
    assert view is not None and view.state == "cancelled"
    assert all(finger.state != "accepted" or finger.fgp == 1 for finger in view.fingers)
    with pytest.raises(NoPrint):
        rig.workflow.image_png(1)


def test_image_png_draws_the_minutiae_on_the_print(make_rig) -> None:
    rig = make_rig(settings=replace(FAST, auto_advance=False))
    rig.start()
    with pytest.raises(NoPrint, match="no print of the right thumb"):
        rig.workflow.image_png(1)
    rig.workflow.capture(1)
    finger = rig.wait_finger(1, "accepted")
    picture = Image.open(io.BytesIO(rig.workflow.image_png(1)))
    assert picture.format == "PNG" and picture.size == (256, 288) and picture.mode == "RGB"
    pixels = np.asarray(picture).astype(int)
    coloured = (np.abs(pixels[..., 0] - pixels[..., 2]) > 100).sum()
    assert finger["minutiae"] > 0 and coloured > 20 * finger["minutiae"]
    on_disk = {path.name for path in rig.tmp.iterdir()}
    assert on_disk <= {"outbox.db", "outbox.db-shm", "outbox.db-wal", "outbox.key"}  # no image files


@pytest.mark.parametrize("fgp", [0, 11, "2", True, 2.5])
def test_a_bad_finger_position_is_refused(make_rig, fgp: object) -> None:
    rig = make_rig(settings=replace(FAST, auto_advance=False))
    rig.start()
    with pytest.raises(InvalidFinger, match="finger position"):
        rig.workflow.capture(fgp)  # type: ignore[arg-type]


def test_bad_actions_are_refused_with_plain_reasons(make_rig) -> None:
    rig = make_rig(settings=replace(FAST, auto_advance=False))
    with pytest.raises(NoOpenBooking, match="start one first"):
        rig.workflow.capture(1)
    rig.start()
    with pytest.raises(InvalidFinger, match=r"XX .* or UP"):
        rig.workflow.mark(1, "ZZ")
    with pytest.raises(InvalidTransition, match="right thumb is pending: cannot accept"):
        rig.workflow.accept(1)
    with pytest.raises(InvalidTransition, match="cannot override"):
        rig.workflow.override(1, "sgt-5")


def test_type2_data_ebts_refuses_is_reported_before_any_capture(make_rig) -> None:
    rig = make_rig()
    with pytest.raises(TransactionInvalid) as caught:
        rig.workflow.start("officer-17", replace(SUBJECT, sex="Q", height_inches=20), ARREST)
    fields = {problem.field for problem in caught.value.problems}
    assert fields == {"2.024 SEX", "2.027 HGT"}
    assert rig.workflow.view() is None and rig.audit_log == []


def test_the_demo_presenter_books_ten_fingers_and_only_the_planted_duplicate_is_caught(
    make_rig, tmp_path
) -> None:
    """The demo's presenter on its own listener thread, as in the daemon, lagging the events as on a
    busy machine, with UART timing off so that the next finger is armed the moment an upload ends
    (the last one still on the glass): every finger is the one asked for, except the planted one."""
    rig = make_rig()
    rig.presenting = False
    hub = EventHub()
    presenter = DemoPresenter(rig.device, 20, scratch=tmp_path)
    listener = EventListener(hub, lambda event: _late(presenter.handle, event), "demo-presenter")
    rig.listeners.append(hub.publish)
    try:
        presenter.present("S0003", substitute={7: 2})  # the right index shown for the left index
        rig.start()
        _finish_fingers(rig)
        with pytest.raises(SequenceCheckFailed) as caught:
            rig.workflow.submit("officer-17")
        assert caught.value.duplicates == [(2, 7)]
        presenter.present("S0003")
        rig.workflow.capture(7)
        _finish_fingers(rig)
        assert rig.outbox.item(rig.workflow.submit("officer-17")) is not None
    finally:
        listener.stop()
        hub.close()


def _late(handle, event: dict) -> None:
    """A presenter on a busy machine: each event handled a moment late."""
    if event["event"] == "finger":
        time.sleep(0.03)
    handle(event)


def _finish_fingers(rig) -> None:
    """Until every finger is accepted, a supervisor overriding a synthetic print below the threshold."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found = rig.finger_states()
        if all(state == "accepted" for state in found.values()):
            return
        for fgp, state in found.items():
            try:
                if state == "review":
                    rig.workflow.override(fgp, "sgt-5")
                elif state == "failed":
                    rig.workflow.capture(fgp)
            except WorkflowError:  # moved on meanwhile, or no print to override: retake
                rig.workflow.capture(fgp)
        time.sleep(0.05)
    raise AssertionError(f"the fingers did not finish: {rig.finger_states()}")


def test_only_the_officer_who_opened_a_booking_acts_on_it_but_anyone_may_cancel_it(make_rig) -> None:
    rig = make_rig()
    rig.start("officer-17")
    rig.wait_finger(1, "waiting")
    for action in (
        lambda: rig.workflow.capture(2, operator="officer-99"),
        lambda: rig.workflow.mark(2, "UP", operator="officer-99"),
        lambda: rig.workflow.accept(1, operator="officer-99"),
        lambda: rig.workflow.override(1, "super", operator="officer-99"),
        lambda: rig.workflow.image_png(1, operator="officer-99"),
        lambda: rig.workflow.submit("officer-99"),
    ):
        with pytest.raises(NotBookingOwner, match="started by officer officer-17: only they can continue it"):
            action()
    assert rig.finger_states()[2] == "pending"
    rig.workflow.mark(2, "UP", operator="officer-17")
    assert rig.finger_states()[2] == "missing"
    rig.workflow.cancel("officer-99")
    assert rig.workflow.view().state == "cancelled"
    actor, event, detail = rig.audit_log[-1]
    assert (actor, event) == ("officer-99", "booking_cancelled")
    assert detail.endswith("started by officer officer-17, cancelled by officer officer-99")
