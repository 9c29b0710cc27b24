"""One finger's capture as an explicit state machine, and the sensor procedure that drives it.

``TRANSITIONS`` is the whole machine: (state, event) -> next state; anything not in it is refused
with ``InvalidTransition``. The workflow (``station.workflow``) owns one ``FingerCapture`` per
finger and fires the events; ``SensorCapture`` runs on the sensor worker's thread and reports the
sensor-side events through its hooks::

    pending --arm--> lifting --lifted--> waiting --finger_on--> capturing --gate_passed--> uploading
    --uploaded--> processing --processed--> review --accept/override--> accepted
                                                       (any) --mark--> missing (XX / UP)

* lifting: armed; before this finger's first image the sensor must see an empty glass (GenImg
  answers "no finger", or the TOUCH line is released), so a finger still on the sensor -- the last
  position's, right after its upload -- is never taken for this one. One GenImg when the glass is
  already empty; otherwise "lift the finger" until it is lifted, for up to ``finger_timeout_s``.
* waiting: the glass is clear; the sensor polls GenImg every ``poll_interval_s`` (or waits on the
  TOUCH line) for the finger.
* capturing: a finger was imaged; the module's own Img2Tz is the fast gate. A messy (0x06) or
  featureless (0x07) image goes back to waiting at once with plain feedback, before the ~3 s upload;
  the sensor then waits (up to ``lift_wait_s``) for the finger to be lifted before the next image.
  Some modules blank the image buffer in Img2Tz (the upload is then a black frame); the first
  black frame teaches the sensor so (``Sensor.convert_clears_image``), the finger is taken again,
  and from then on a second GenImg follows the gate, with the finger held until the upload starts.
* uploading: UpImage with progress; processing: NFIQ 2, minutiae, WSQ on the workflow's
  ``Processor`` (a thread of the daemon) while the sensor is already armed for the next finger
  (``auto_advance``).
* review: the print is ready. With ``auto_accept`` (the default) a print at or above
  ``quality_threshold`` is accepted at once -- the officer still sees it and can retake it until
  the booking is submitted; a print below the threshold waits for retake, a supervisor override
  (audited) or XX/UP. With ``auto_accept=False`` every print waits for ``accept``.
* failed: the sensor could not be brought back within ``sensor_retries`` recoveries, or no finger
  came (or the glass did not clear) within ``finger_timeout_s``, or processing failed; ``arm``
  (capture again) starts over.
  A sensor disconnect is not a failure of the finger: it stays waiting and capture resumes when
  the worker has the sensor back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from biometrics.extractor import ProcessedPrint
from biometrics.positions import finger_position
from drivers.errors import (
    CaptureFailed,
    ConfirmationError,
    ImageTooDry,
    ImageTooMessy,
    ImageTooWet,
    ImageUploadFailed,
    NoValidImage,
    PacketReceiveError,
    PortError,
    TooFewFeatures,
    TransportError,
)
from station import sensor_tools
from station.capture_settings import CaptureSettings, InvalidCaptureSettings
from station.sensor_worker import Session

log = logging.getLogger(__name__)

# --- finger states ------------------------------------------------------------------------------
PENDING = "pending"
LIFTING = "lifting"
WAITING = "waiting"
CAPTURING = "capturing"
UPLOADING = "uploading"
PROCESSING = "processing"
REVIEW = "review"
ACCEPTED = "accepted"
MISSING = "missing"
FAILED = "failed"
FINGER_STATES = (
    PENDING, LIFTING, WAITING, CAPTURING, UPLOADING, PROCESSING, REVIEW, ACCEPTED, MISSING, FAILED
)  # fmt: skip
ARMED = (LIFTING, WAITING, CAPTURING, UPLOADING)  # the sensor is working on the finger
DONE = (ACCEPTED, MISSING)

# --- events -------------------------------------------------------------------------------------
ARM = "arm"  # capture (or retake) this finger
DISARM = "disarm"  # another finger was armed, or the booking ended
LIFTED = "lifted"  # the sensor saw an empty glass: the finger can be placed
FINGER_ON = "finger_on"  # GenImg took an image
GATE_PASSED = "gate_passed"  # Img2Tz accepted it
GATE_REJECTED = "gate_rejected"  # Img2Tz (or GenImg) refused it: place the finger again
RESTART = "restart"  # the sensor was recovered (or is reconnecting): start the finger again
#                      (from "waiting"; a finger still lifting goes on lifting)
UPLOADED = "uploaded"
PROCESSED = "processed"
ACCEPT = "accept"
OVERRIDE = "override"
MARK = "mark"
SENSOR_FAILED = "sensor_failed"
TIMED_OUT = "timed_out"
PROCESSING_FAILED = "processing_failed"

_RETAKABLE = (PENDING, PROCESSING, REVIEW, ACCEPTED, MISSING, FAILED)

TRANSITIONS: dict[tuple[str, str], str] = {
    **{(state, ARM): LIFTING for state in _RETAKABLE},
    **{(state, DISARM): PENDING for state in ARMED},
    **{(state, RESTART): WAITING for state in ARMED if state != LIFTING},
    (LIFTING, RESTART): LIFTING,
    **{(state, SENSOR_FAILED): FAILED for state in ARMED},
    **{(state, MARK): MISSING for state in FINGER_STATES},
    (LIFTING, LIFTED): WAITING,
    (LIFTING, TIMED_OUT): FAILED,
    (WAITING, FINGER_ON): CAPTURING,
    (WAITING, GATE_REJECTED): WAITING,  # GenImg itself refused the image (0x03)
    (WAITING, TIMED_OUT): FAILED,
    (CAPTURING, GATE_PASSED): UPLOADING,
    (CAPTURING, GATE_REJECTED): WAITING,
    (UPLOADING, UPLOADED): PROCESSING,
    (PROCESSING, PROCESSED): REVIEW,
    (PROCESSING, PROCESSING_FAILED): FAILED,
    (REVIEW, ACCEPT): ACCEPTED,
    (REVIEW, OVERRIDE): ACCEPTED,
}


class WorkflowError(Exception):
    """Base of every refusal by the capture workflow; the message says what to do instead."""


class InvalidTransition(WorkflowError):
    """The event is not allowed in the finger's current state (see ``TRANSITIONS``)."""

    def __init__(self, fgp: int, state: str, event: str) -> None:
        allowed = sorted(e for (s, e) in TRANSITIONS if s == state)
        super().__init__(
            f"the {finger_position(fgp).label} is {state}: cannot {event.replace('_', ' ')} "
            f"(possible now: {', '.join(allowed) or 'nothing'})"
        )
        self.fgp, self.state, self.event = fgp, state, event


class SensorCaptureError(Exception):
    """The sensor kept failing on this finger after the allowed recoveries; capture it again."""


class FingerNotLifted(sensor_tools.NoFingerInTime):
    """A finger stayed on the glass when the sensor had to see it empty; lift it and capture again."""


def next_state(fgp: int, state: str, event: str) -> str:
    """The state after ``event``; ``InvalidTransition`` if the table has no such move."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(fgp, state, event) from None


@dataclass(frozen=True)
class FingerView:
    """What the kiosk shows of one finger; no image, nothing personal."""

    fgp: int
    name: str
    state: str
    attempts: int
    nfiq2: int | None
    minutiae: int | None
    feedback: tuple[str, ...]
    missing: str | None
    accepted_by_override: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "fgp": self.fgp,
            "name": self.name,
            "state": self.state,
            "attempts": self.attempts,
            "nfiq2": self.nfiq2,
            "minutiae": self.minutiae,
            "feedback": list(self.feedback),
            "missing": self.missing,
            "accepted_by_override": self.accepted_by_override,
            "message": self.message,
        }


@dataclass
class FingerCapture:
    """One finger of the open booking. Not thread-safe: the workflow holds its lock around it.

    ``generation`` changes on every arm, so late reports of an abandoned attempt are recognised.
    ``image`` (8-bit frame) and ``processed`` live in memory only and are dropped by ``clear``.
    """

    fgp: int
    state: str = PENDING
    attempts: int = 0
    generation: int = 0
    message: str = ""
    feedback: tuple[str, ...] = ()
    missing: str | None = None
    override_by: str | None = None
    image: np.ndarray | None = field(default=None, repr=False)
    processed: ProcessedPrint | None = field(default=None, repr=False)
    captured_at: datetime | None = None

    @property
    def name(self) -> str:
        return finger_position(self.fgp).label

    def fire(self, event: str, message: str | None = None) -> str:
        self.state = next_state(self.fgp, self.state, event)
        if message is not None:
            self.message = message
        return self.state

    def clear(self) -> None:
        """Forget the print (retake, XX/UP, submission, cancellation)."""
        self.image = None
        self.processed = None
        self.captured_at = None
        self.override_by = None
        self.feedback = ()

    def view(self) -> FingerView:
        processed = self.processed
        return FingerView(
            fgp=self.fgp,
            name=self.name,
            state=self.state,
            attempts=self.attempts,
            nfiq2=processed.nfiq2 if processed else None,
            minutiae=len(processed.minutiae) if processed else None,
            feedback=self.feedback,
            missing=self.missing,
            accepted_by_override=self.override_by,
            message=self.message,
        )


# --- the sensor side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CapturedImage:
    """One finger's frame as uploaded, with its timing against the line limit."""

    fgp: int
    image: np.ndarray = field(repr=False)
    captured_at: datetime
    upload_seconds: float
    line_limit_seconds: float


class CaptureHooks(Protocol):
    """How ``SensorCapture`` reports to the workflow (called on the sensor worker's thread)."""

    def event(self, event: str, message: str = "", feedback: tuple[str, ...] = ()) -> None: ...

    def progress(self, done: int, total: int) -> None: ...


class _Rejected(Exception):
    pass


class _TakeAgain(Exception):
    """The image was lost after the gate: image the finger again (``RESTART`` with this message)."""


# The module refused the image (GenImg 0x03; Img2Tz 0x06/0x07; 0x04/0x05 from modules that grade it).
REJECTIONS = (ImageTooMessy, TooFewFeatures, CaptureFailed, ImageTooDry, ImageTooWet)
# The module lost the image or garbled the command (power cycle, noise): capture again.
_REPEATABLE = (TransportError, PortError, NoValidImage, ImageUploadFailed, PacketReceiveError)


def officer_feedback(error: ConfirmationError) -> tuple[str, tuple[str, ...]]:
    """A module refusal as a plain message and the feedback sentence for the officer."""
    advice = f"{error.hint[:1].upper()}{error.hint[1:]}." if error.hint else "Place the finger again."
    return f"{error.meaning[:1].upper()}{error.meaning[1:]}: {advice[:1].lower()}{advice[1:]}", (advice,)


class SensorCapture:
    """clear glass -> wait for a finger -> GenImg -> Img2Tz gate -> UpImage, for one finger, on the
    worker thread.

    Use as the job function: ``worker.submit(SensorCapture(fgp, settings, hooks))``. Returns a
    ``CapturedImage``; raises ``NoFingerInTime`` (``FingerNotLifted``), ``SensorCaptureError``,
    ``SensorUnavailable`` or ``JobCancelled``/``WorkerStopping``. ``clear_glass=False`` skips the
    empty-glass check (capture resumed after a disconnect, the glass having been seen clear);
    ``glass_clear`` tells whether the glass has been seen empty.
    """

    def __init__(
        self,
        fgp: int,
        settings: CaptureSettings,
        hooks: CaptureHooks,
        *,
        clear_glass: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fgp = fgp
        self.settings = settings
        self.hooks = hooks
        self.clock = clock
        self.glass_clear = not clear_glass

    def __call__(self, session: Session) -> CapturedImage:
        recoveries = 0
        rejected = False
        deadline: float | None = None
        while True:
            try:
                if not self.glass_clear:
                    self._clear_glass(session)
                if deadline is None:
                    deadline = self.clock() + self.settings.finger_timeout_s
                return self._attempt(session, rejected, deadline)
            except _Rejected:
                rejected = True
                deadline = self.clock() + self.settings.finger_timeout_s
            except _TakeAgain as again:
                self.hooks.event(RESTART, str(again))
                rejected = False
                deadline = self.clock() + self.settings.finger_timeout_s
            except _REPEATABLE as exc:
                recoveries += 1
                session.recover(exc)  # SensorUnavailable when the sensor is gone
                if recoveries > self.settings.sensor_retries:
                    raise SensorCaptureError(
                        f"The sensor kept failing on this finger ({type(exc).__name__}, "
                        f"{recoveries} resets): capture it again; if it keeps failing, check the sensor."
                    ) from exc
                then = "place the finger again" if self.glass_clear else self._lift_words()
                self.hooks.event(RESTART, f"The sensor had a problem and was reset: {then}.")
                rejected = False

    def _attempt(self, session: Session, rejected: bool, deadline: float) -> CapturedImage:
        if rejected:  # a finger kept on past lift_wait_s gives a new image
            self._lifted_within(session, self.settings.lift_wait_s)
        try:
            self._wait_for_finger(session, deadline)
        except REJECTIONS as exc:
            self.hooks.event(GATE_REJECTED, *officer_feedback(exc))
            raise _Rejected from exc
        captured_at = datetime.now(UTC)
        self.hooks.event(FINGER_ON, "Hold still: checking the image.")
        sensor = session.sensor
        try:
            sensor.img2tz(1)
        except REJECTIONS as exc:
            self.hooks.event(GATE_REJECTED, *officer_feedback(exc))
            raise _Rejected from exc
        image_again = sensor.convert_clears_image
        held = f"hold the {finger_position(self.fgp).label} on the sensor until the upload starts"
        if image_again:
            self.hooks.event(GATE_PASSED, f"Image checked: {held}.")
            try:
                still_there = sensor.capture()
            except REJECTIONS as exc:
                raise _TakeAgain(officer_feedback(exc)[0]) from exc
            if not still_there:
                raise _TakeAgain(f"The finger was lifted too soon: place it again and {held}.")
            captured_at = datetime.now(UTC)  # the image uploaded is this one
        else:
            self.hooks.event(GATE_PASSED, "Image taken: the finger can be lifted.")

        def progress(done: int, total: int) -> None:
            self.hooks.progress(done, total)
            session.check()  # a cancel or stop ends the upload after the packet in flight

        capture = sensor_tools.capture_image(sensor, progress)
        if not image_again and np.ptp(capture.image) == 0:
            log.warning("the module blanked its image in Img2Tz: every finger is imaged again after the gate")
            sensor.convert_clears_image = True
            raise _TakeAgain(f"The sensor lost the image: place the finger again and {held}.")
        return CapturedImage(
            self.fgp, capture.image, captured_at, capture.upload_seconds, capture.line_limit_seconds
        )

    def _clear_glass(self, session: Session) -> None:
        """Until the glass is seen empty (one look when it is), for up to ``finger_timeout_s``."""
        if not self._lifted_within(session, self.settings.finger_timeout_s):
            raise FingerNotLifted(
                f"a finger stayed on the sensor for {self.settings.finger_timeout_s:.0f} s "
                "when it should have been lifted"
            )
        self.glass_clear = True
        self.hooks.event(LIFTED, f"Place the {finger_position(self.fgp).label} on the sensor.")

    def _lift_words(self) -> str:
        return f"lift any finger off the sensor, then place the {finger_position(self.fgp).label}"

    def _wait_for_finger(self, session: Session, deadline: float) -> None:
        touch = session.touch
        if touch is None:
            sensor_tools.wait_for_finger(
                session.sensor,
                max(deadline - self.clock(), 0.0),
                poll_interval=self.settings.poll_interval_s,
                clock=self.clock,
                sleep=session.pause,
            )
            return
        while True:
            session.check()
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise sensor_tools.NoFingerInTime(
                    f"no finger on the sensor within {self.settings.finger_timeout_s:.0f} s"
                )
            if touch.wait_for_press(min(remaining, 0.25)) and session.sensor.capture():
                return
            if touch.is_pressed:  # touched, but GenImg saw no finger yet
                session.pause(self.settings.poll_interval_s)

    def _lifted_within(self, session: Session, seconds: float) -> bool:
        """Whether the glass was seen empty within ``seconds`` (looking at least once)."""
        end = self.clock() + seconds
        while self._finger_on_glass(session):
            if self.clock() >= end:
                return False
            session.pause(self.settings.poll_interval_s)
        return True

    @staticmethod
    def _finger_on_glass(session: Session) -> bool:
        """The TOUCH line where wired (no UART traffic), else one GenImg."""
        if session.touch is not None:
            return bool(session.touch.is_pressed)
        try:
            return session.sensor.capture()
        except REJECTIONS:  # something on the glass the module could not image: a finger
            return True


__all__ = [
    "ACCEPTED",
    "ARMED",
    "CAPTURING",
    "FAILED",
    "FINGER_STATES",
    "LIFTING",
    "MISSING",
    "PENDING",
    "PROCESSING",
    "REVIEW",
    "TRANSITIONS",
    "UPLOADING",
    "WAITING",
    "CaptureHooks",
    "CaptureSettings",
    "CapturedImage",
    "FingerCapture",
    "FingerNotLifted",
    "FingerView",
    "InvalidCaptureSettings",
    "InvalidTransition",
    "SensorCapture",
    "SensorCaptureError",
    "WorkflowError",
    "next_state",
    "officer_feedback",
]
