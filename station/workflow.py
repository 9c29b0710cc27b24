"""``BookingWorkflow``: one booking at a time, ten fingers, the sequence check, submission to the outbox.

The facade the kiosk API and the daemon call (``station_contract.md``). It owns the per-finger
state machines (``station.capture``), arms the sensor worker for one finger at a time, hands each
uploaded frame to the ``Processor`` while the sensor moves on to the next finger, and on
``submit`` checks the sequence, builds the CAR transaction, issues its TCN and queues it.

Threads: API calls, the sensor worker's reports and the processor's results all go through one
lock; nothing waits for the sensor while holding it. The sequence check's bozorth3 comparisons run
on the processor's thread (``Processor.call``), so that no other thread pays nbis's per-thread
memory; nothing waits for that thread while holding the lock, except for a print whose processing
ended before its callback was registered (the processing thread is then idle).

Privacy: frames, prints and templates stay in memory (dropped on retake, submission and
cancellation); the only copy written anywhere is the sealed transaction in the outbox. Events and
audit details carry booking ids, finger positions, scores and TCNs -- never names, images or templates.

Ownership: a booking belongs to the officer who started it. Actions that take ``operator`` refuse
another officer with ``NotBookingOwner`` (the booking survives sign-out and the idle lock, parked:
``park`` stops the sensor for it; its owner resumes it); anyone signed in may cancel it, audited with
both ids.

Audit: what an officer or supervisor decides is audited before it takes effect, and refused with
``AuditUnavailable`` when the audit entry cannot be written -- opening a booking (prints would be
taken with no trace), a supervisor's override (the audit entry is the only record of who accepted a
print below the threshold) and marking a finger XX/UP (a claim that a finger cannot be printed).
Submission writes its "queued" entry in the outbox's own transaction, so a booking is never queued
unaudited (``QueueUnavailable`` when that write fails; the booking stays open). The other entries
record what has already happened and are written on a best-effort basis (a failure is logged):
``finger_captured`` (the print exists), ``booking_submitted`` (already queued and audited as such)
and ``booking_cancelled`` (refusing a cancellation would keep a subject's prints in memory).

Errors the caller maps to answers (all ``WorkflowError`` unless noted): ``BookingInProgress``,
``NoOpenBooking``, ``NotBookingOwner``, ``InvalidFinger``, ``InvalidTransition`` (wrong state for
the action), ``BelowThreshold``, ``NoPrint``, ``IncompleteBooking`` (``positions``),
``SequenceCheckFailed`` (``duplicates``), ``AuditUnavailable``, ``QueueUnavailable``;
``sync.transaction.TransactionInvalid`` for Type-2 data EBTS refuses.
"""

from __future__ import annotations

import io
import itertools
import logging
import math
import sqlite3
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PIL import Image, ImageDraw

from biometrics.errors import InvalidFingerPosition
from biometrics.extractor import MinutiaKind, ProcessedPrint
from biometrics.positions import finger_position
from biometrics.sequence import DuplicateFinger, find_duplicates
from biometrics.worker import Processor
from drivers.errors import SensorError
from station import capture as fsm
from station.capture import (
    CapturedImage,
    CaptureSettings,
    FingerCapture,
    FingerNotLifted,
    FingerView,
    InvalidTransition,
    SensorCapture,
    SensorCaptureError,
    WorkflowError,
)
from station.sensor_tools import NoFingerInTime
from station.sensor_worker import JobCancelled, SensorJob, SensorUnavailable, SensorWorker, WorkerStopping
from sync.outbox import Outbox
from sync.transaction import (
    Arrest,
    Booking,
    CaptureDevice,
    FingerImage,
    MissingFinger,
    MissingReason,
    Subject,
    Tcn,
    TcnIssuer,
    TransactionHeader,
    TransactionInvalid,
    encode,
    validate,
)
from sync.transaction import fields as ebts

log = logging.getLogger(__name__)

CAPTURING, READY, SUBMITTED, CANCELLED = "capturing", "ready", "submitted", "cancelled"
BOOKING_STATES = (CAPTURING, READY, SUBMITTED, CANCELLED)
FINGERS = range(1, 11)
PROGRESS_STEPS = 40  # at most this many progress events per upload

Publish = Callable[[dict[str, Any]], None]
_PairKey = tuple[tuple[int, int], tuple[int, int]]  # ((fgp, generation), (fgp, generation)), lower fgp first
Audit = Callable[[str, str, str | None], None]


class BookingInProgress(WorkflowError):
    """A booking is open; submit or cancel it before starting another."""


class NoOpenBooking(WorkflowError):
    """There is no booking being captured; start one first."""


class NotBookingOwner(WorkflowError):
    """The open booking was started by another officer: only they can continue it; anyone may cancel it."""


class AuditUnavailable(WorkflowError):
    """The audit entry for an action could not be written, so the action was not taken."""


class QueueUnavailable(WorkflowError):
    """The booking could not be written to the outbox; it stays open with its prints."""


class InvalidFinger(WorkflowError):
    """Not a finger position 1..10, or not a missing-finger reason XX/UP."""


class BelowThreshold(WorkflowError):
    """The print scores below the quality threshold: retake, supervisor override, or UP."""


class NoPrint(WorkflowError):
    """The finger has no print in memory (not captured yet, retaken, marked, or submitted)."""


class IncompleteBooking(WorkflowError):
    """Some fingers are neither accepted nor marked XX/UP; ``positions`` lists them."""

    def __init__(self, positions: list[int]) -> None:
        self.positions = positions
        names = ", ".join(finger_position(p).label for p in positions)
        super().__init__(f"accept or mark XX/UP every finger first; still open: {names}")


class SequenceCheckFailed(WorkflowError):
    """Two positions hold the same finger; ``duplicates`` lists (fgp_a, fgp_b) pairs to retake."""

    def __init__(self, found: list[DuplicateFinger]) -> None:
        self.found = found
        self.duplicates = [(int(d.first), int(d.second)) for d in found]
        super().__init__(" ".join(d.describe() for d in found))


@dataclass(frozen=True)
class BookingView:
    """The open (or last) booking as the kiosk shows it; JSON-able through ``as_dict``."""

    id: str
    operator: str
    state: str
    current_fgp: int | None
    fingers: tuple[FingerView, ...]
    duplicates: tuple[tuple[int, int], ...]
    tcn: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operator": self.operator,
            "state": self.state,
            "current_fgp": self.current_fgp,
            "fingers": [finger.as_dict() for finger in self.fingers],
            "duplicates": [list(pair) for pair in self.duplicates],
            "tcn": self.tcn,
        }


class _Booking:
    def __init__(self, operator: str, subject: Subject, arrest: Arrest) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.operator = operator
        self.subject = subject
        self.arrest = arrest
        self.state = CAPTURING
        self.fingers = {fgp: FingerCapture(fgp) for fgp in FINGERS}
        self.current_fgp: int | None = None
        self.job: SensorJob[CapturedImage] | None = None
        self.job_fgp: int | None = None
        self.duplicates: list[tuple[int, int]] = []
        self.pair_checks: dict[_PairKey, list[DuplicateFinger]] = {}  # no templates, only results
        self.tcn: str | None = None

    @property
    def open(self) -> bool:
        return self.state in (CAPTURING, READY)

    def view(self) -> BookingView:
        return BookingView(
            id=self.id,
            operator=self.operator,
            state=self.state,
            current_fgp=self.current_fgp,
            fingers=tuple(self.fingers[fgp].view() for fgp in FINGERS),
            duplicates=tuple(self.duplicates),
            tcn=self.tcn,
        )


class _Hooks:
    """The sensor capture's reports for one armed attempt (``generation``) of one finger."""

    def __init__(self, workflow: BookingWorkflow, booking: _Booking, fgp: int, generation: int) -> None:
        self.workflow, self.booking, self.fgp, self.generation = workflow, booking, fgp, generation
        self._last_progress = -1

    def event(self, event: str, message: str = "", feedback: tuple[str, ...] = ()) -> None:
        self.workflow._sensor_event(self, event, message, feedback)

    def progress(self, done: int, total: int) -> None:
        step = max(total // PROGRESS_STEPS, 1)
        if done < total and done - self._last_progress < step:
            return
        self._last_progress = done
        self.workflow._progress(self, done, total)


class BookingWorkflow:
    """The capture workflow of one station: see the module docstring and ``station_contract.md``.

    The workflow uses the sensor worker, processor and outbox it is given and does not close them.
    """

    def __init__(
        self,
        sensor: SensorWorker,
        processor: Processor,
        outbox: Outbox,
        issuer: TcnIssuer,
        *,
        settings: CaptureSettings,
        publish: Publish = lambda event: None,
        audit: Audit = lambda actor, event, detail: None,
        destination: str,
        device: CaptureDevice | None = None,
    ) -> None:
        self.sensor = sensor
        self.processor = processor
        self.outbox = outbox
        self.issuer = issuer
        self.settings = settings
        self._publish = publish
        self._audit = audit
        self.destination = destination
        self.device = device
        self._lock = threading.RLock()
        self._booking: _Booking | None = None
        self._closed = False
        sensor.start()

    # --- the officer's actions ------------------------------------------------------------

    def start(self, operator: str, subject: Subject, arrest: Arrest) -> BookingView:
        """Open a booking (``BookingInProgress`` if one is open); arms the right thumb with auto_advance.

        The Type-2 data is checked against EBTS now (``TransactionInvalid`` with every problem), so
        nothing is captured for a booking that could never be sent.
        """
        with self._lock:
            if self._closed:
                raise WorkflowError("the workflow has been closed")
            if self._booking is not None and self._booking.open:
                open_ = self._booking
                raise BookingInProgress(
                    f"booking {open_.id}, started by officer {open_.operator}, is still open: submit or "
                    "cancel it before starting another"
                )
            problems = self._descriptive_problems(subject, arrest)
            if problems:
                raise TransactionInvalid(problems)
            booking = _Booking(operator, subject, arrest)
            self._must_audit(
                operator, "booking_started", f"booking {booking.id}", "the booking was not opened"
            )
            self._booking = booking
            self._emit_booking(booking)
            if self.settings.auto_advance:
                self._arm(booking, FINGERS[0])
            return booking.view()

    def view(self) -> BookingView | None:
        """The open booking, or the last one (submitted or cancelled), or None."""
        with self._lock:
            return self._booking.view() if self._booking else None

    def check_owner(self, operator: str) -> None:
        """``NotBookingOwner`` if the open booking was started by someone other than ``operator``."""
        with self._lock:
            booking = self._booking
            if booking is not None and booking.open:
                self._check_owner(booking, operator)

    def capture(self, fgp: int, *, operator: str | None = None) -> None:
        """Arm the sensor for finger ``fgp``; on a captured, marked or failed finger this is a retake.

        ``operator`` (here and in the other actions): the officer acting, refused with
        ``NotBookingOwner`` unless the booking is theirs; None skips the check (the caller did it).
        """
        position = _position(fgp)
        with self._lock:
            booking = self._open(operator)
            if booking.fingers[position].state in fsm.ARMED:
                return
            self._arm(booking, position)

    def accept(self, fgp: int, *, operator: str | None = None) -> None:
        """Accept a print in review that meets the threshold (nothing to do if already accepted)."""
        position = _position(fgp)
        with self._lock:
            booking = self._open(operator)
            finger = booking.fingers[position]
            if finger.state == fsm.ACCEPTED:
                return
            if finger.state != fsm.REVIEW:
                raise InvalidTransition(position, finger.state, fsm.ACCEPT)
            assert finger.processed is not None
            if not self._passes(finger.processed):
                raise BelowThreshold(
                    f"the {finger.name} print {self._score_text(finger.processed)} does not meet the "
                    f"threshold {self.settings.quality_threshold}: retake it, ask a supervisor to "
                    "override, or mark it UP"
                )
            self._accept(booking, finger, f"Accepted (NFIQ 2 {finger.processed.nfiq2}).")

    def override(self, fgp: int, supervisor: str, *, operator: str | None = None) -> None:
        """Accept a print below the threshold on a supervisor's authority (the caller checked the PIN).

        Audited before the print counts as accepted (``AuditUnavailable``, the print still in review,
        when the entry cannot be written); refused for an image with no minutiae.
        """
        position = _position(fgp)
        if not supervisor:
            raise WorkflowError("an override needs the supervisor's id")
        with self._lock:
            booking = self._open(operator)
            finger = booking.fingers[position]
            if finger.state != fsm.REVIEW:
                raise InvalidTransition(position, finger.state, fsm.OVERRIDE)
            processed = finger.processed
            assert processed is not None
            if self._passes(processed):
                self._accept(booking, finger, f"Accepted (NFIQ 2 {processed.nfiq2}).")
                return
            if processed.template is None:
                raise NoPrint(f"the {finger.name} image shows no print at all: retake it or mark it UP")
            self._must_audit(
                supervisor,
                "quality_override",
                f"booking {booking.id}: FGP {position} {self._score_text(processed)} below threshold "
                f"{self.settings.quality_threshold}, attempt {finger.attempts}, officer {booking.operator}",
                f"the override was not applied and the {finger.name} print is still in review",
            )
            finger.override_by = supervisor
            finger.fire(fsm.OVERRIDE, f"Accepted below the threshold by supervisor {supervisor}.")
            self._emit_finger(booking, finger)
            self._cue("good")
            self._update_state(booking)

    def mark(self, fgp: int, reason: str, *, operator: str | None = None) -> None:
        """Record the finger as missing: "XX" amputated, "UP" unable to print (audited first)."""
        position = _position(fgp)
        if reason not in (MissingReason.AMPUTATED.value, MissingReason.UNABLE_TO_PRINT.value):
            raise InvalidFinger(
                f"a missing finger is marked XX (amputated) or UP (unable to print), not {reason!r}"
            )
        with self._lock:
            booking = self._open(operator)
            finger = booking.fingers[position]
            self._must_audit(
                booking.operator,
                "finger_marked",
                f"booking {booking.id}: FGP {position} {reason}",
                f"the {finger.name} was not marked {reason}",
            )
            was_armed = booking.job_fgp == position and finger.state in fsm.ARMED
            if was_armed:
                self._cancel_job(booking)
            finger.generation += 1
            finger.clear()
            finger.missing = reason
            words = "amputated (XX)" if reason == "XX" else "unable to print (UP)"
            finger.fire(fsm.MARK, f"Marked {words}.")
            self._emit_finger(booking, finger)
            booking.duplicates = [pair for pair in booking.duplicates if position not in pair]
            if was_armed and self.settings.auto_advance:
                self._arm_next(booking, position)
            self._update_state(booking)

    def image_png(self, fgp: int, *, operator: str | None = None) -> bytes:
        """The 8-bit print with its minutiae drawn (ridge endings red, bifurcations blue), as PNG bytes."""
        position = _position(fgp)
        with self._lock:
            booking = self._booking
            if booking is not None and operator is not None:
                self._check_owner(booking, operator)
            finger = booking.fingers[position] if booking else None
            image = finger.image if finger else None
            minutiae = finger.processed.minutiae if finger and finger.processed else ()
        if image is None:
            raise NoPrint(f"there is no print of the {finger_position(position).label} to show")
        picture = Image.fromarray(image, mode="L").convert("RGB")
        draw = ImageDraw.Draw(picture)
        for minutia in minutiae:
            colour = (0, 90, 255) if minutia.kind == MinutiaKind.BIFURCATION else (230, 30, 30)
            x, y = minutia.x, minutia.y
            angle = math.radians(minutia.angle)
            draw.ellipse((x - 4, y - 4, x + 4, y + 4), outline=colour, width=2)
            draw.line((x, y, x + 10 * math.cos(angle), y - 10 * math.sin(angle)), fill=colour, width=2)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        return buffer.getvalue()

    def submit(self, operator: str) -> str:
        """Sequence check, build and encode the transaction, issue its TCN, queue it; returns the TCN.

        ``IncompleteBooking`` if a finger is open, ``SequenceCheckFailed`` if two positions hold the
        same finger (those positions are named in the booking's ``duplicates`` too), ``NotBookingOwner``
        unless ``operator`` started it, ``QueueUnavailable`` if the outbox (booking and its audit
        entry, one transaction) cannot be written: nothing is queued and the booking stays open.
        """
        with self._lock:
            self._open(operator)
        self._check_missing_pairs()
        with self._lock:
            booking = self._open(operator)
            if booking.state != READY:
                raise IncompleteBooking([p for p in FINGERS if booking.fingers[p].state not in fsm.DONE])
            found = self._sequence_check(booking)
            if found:
                booking.duplicates = [(int(d.first), int(d.second)) for d in found]
                for duplicate in found:
                    finger = booking.fingers[int(duplicate.second)]
                    finger.message = duplicate.describe()
                    self._emit_finger(booking, finger)
                self._emit_booking(booking)
                self._cue("error")
                raise SequenceCheckFailed(found)
            booking.duplicates = []
            tcn = self.issuer.issue()
            transaction = encode(self._transaction(booking, tcn), now=datetime.now(UTC))
            try:
                self.outbox.submit(transaction, actor=operator)
            except (sqlite3.Error, OSError) as exc:
                log.error("booking %s could not be queued: %s", booking.id, type(exc).__name__)
                raise QueueUnavailable(
                    f"the booking could not be written to the station's queue ({type(exc).__name__}); it "
                    "is still open with its prints: submit it again, and if this keeps failing ask a "
                    "technician to run `livescan diag queue`"
                ) from exc
            booking.state = SUBMITTED
            booking.tcn = tcn.text
            booking.current_fgp = None
            for finger in booking.fingers.values():
                finger.clear()
            printed = sum(1 for f in booking.fingers.values() if f.state == fsm.ACCEPTED)
            self._try_audit(
                operator,
                "booking_submitted",
                f"booking {booking.id}: TCN {tcn.text}, {len(transaction)} bytes, "
                f"{printed} prints, {len(FINGERS) - printed} missing",
            )
            self._emit_booking(booking)
            self._cue("good")
            return tcn.text

    def park(self, operator: str) -> bool:
        """``operator`` left the kiosk (signed out or locked it): the sensor stops working for their
        open booking, so nothing is captured while nobody attends it. Its armed finger goes back to
        pending; the booking waits for its officer, and capture resumes when they arm a finger
        again. Whether a finger was disarmed."""
        with self._lock:
            booking = self._booking
            if booking is None or not booking.open or booking.operator != operator or booking.job is None:
                return False
            self._cancel_job(booking, "Paused while the officer is signed out.")
            self._emit_booking(booking)
            return True

    def cancel(self, operator: str) -> None:
        """Abandon the open booking: the sensor is disarmed and every print is forgotten.

        Any officer may cancel a booking another officer started (the audit entry names both).
        """
        with self._lock:
            booking = self._open()
            self._cancel_job(booking)
            for finger in booking.fingers.values():
                finger.generation += 1
                finger.clear()
            booking.state = CANCELLED
            booking.current_fgp = None
            detail = f"booking {booking.id}"
            if operator != booking.operator:
                detail += f", started by officer {booking.operator}, cancelled by officer {operator}"
            self._try_audit(operator, "booking_cancelled", detail)
            self._emit_booking(booking)

    def close(self) -> None:
        """Disarm the sensor and refuse new bookings (the sensor, processor and outbox stay open)."""
        with self._lock:
            self._closed = True
            if self._booking is not None:
                self._cancel_job(self._booking)

    # --- arming the sensor (lock held) ------------------------------------------------------

    def _arm(self, booking: _Booking, fgp: int) -> None:
        self._cancel_job(booking)
        finger = booking.fingers[fgp]
        finger.generation += 1
        finger.clear()
        finger.missing = None
        finger.fire(fsm.ARM, f"Lift any finger off the sensor, then place the {finger.name}.")
        booking.duplicates = [pair for pair in booking.duplicates if fgp not in pair]
        booking.current_fgp = fgp
        self._emit_finger(booking, finger)
        self._emit_booking(booking)
        self._cue("ready")
        self._submit_job(booking, finger)
        self._update_state(booking)

    def _submit_job(self, booking: _Booking, finger: FingerCapture, clear_glass: bool = True) -> None:
        hooks = _Hooks(self, booking, finger.fgp, finger.generation)
        capture = SensorCapture(finger.fgp, self.settings, hooks, clear_glass=clear_glass)
        job = self.sensor.submit(capture, activity=f"capturing the {finger.name}")
        booking.job, booking.job_fgp = job, finger.fgp
        job.add_done_callback(lambda done: self._capture_done(hooks, done))

    def _cancel_job(self, booking: _Booking, message: str = "") -> None:
        job, fgp = booking.job, booking.job_fgp
        booking.job = booking.job_fgp = None
        if job is None or fgp is None:
            return
        finger = booking.fingers[fgp]
        finger.generation += 1
        job.cancel()
        if finger.state in fsm.ARMED:
            finger.fire(fsm.DISARM, message)
            self._emit_finger(booking, finger)

    def _arm_next(self, booking: _Booking, after: int) -> None:
        order = [*FINGERS[after:], *FINGERS[: after - 1]]
        for fgp in order:
            if booking.fingers[fgp].state == fsm.PENDING:
                self._arm(booking, fgp)
                return

    # --- reports from the sensor worker and the processor -----------------------------------

    def _current(self, hooks: _Hooks) -> FingerCapture | None:
        """The finger ``hooks`` reports on, or None when the report is about an abandoned attempt."""
        booking = hooks.booking
        if booking is not self._booking or not booking.open:
            return None
        finger = booking.fingers[hooks.fgp]
        return finger if finger.generation == hooks.generation else None

    def _sensor_event(self, hooks: _Hooks, event: str, message: str, feedback: tuple[str, ...]) -> None:
        with self._lock:
            finger = self._current(hooks)
            if finger is None:
                return
            if event in (fsm.GATE_PASSED, fsm.GATE_REJECTED):
                finger.attempts += 1
            if event == fsm.GATE_REJECTED:
                message += self._up_hint(finger)
                finger.feedback = feedback
            finger.fire(event, message)
            self._emit_finger(hooks.booking, finger)
            cues = {fsm.GATE_REJECTED: "error", fsm.RESTART: "error", fsm.LIFTED: "ready"}
            self._cue(cues.get(event, "busy"))

    def _progress(self, hooks: _Hooks, done: int, total: int) -> None:
        with self._lock:
            if self._current(hooks) is None:
                return
            booking = hooks.booking
            event = {"event": "progress", "booking": booking.id, "operator": booking.operator}
            self._send(event | {"fgp": hooks.fgp, "done": done, "total": total})

    def _capture_done(self, hooks: _Hooks, job: Future[CapturedImage]) -> None:
        with self._lock:
            finger = self._current(hooks)
            if finger is None or job.cancelled():
                return
            booking = hooks.booking
            if booking.job is job:
                booking.job = booking.job_fgp = None
            error = job.exception()
            if error is None:
                self._uploaded(booking, finger, job.result())
                return
            if isinstance(error, SensorUnavailable):
                # Not the finger's fault: wait for the sensor, then capture this finger again (the
                # glass still to be seen empty if it had not been yet).
                lifting = finger.state == fsm.LIFTING
                finger.fire(fsm.RESTART, "The sensor is disconnected: capture resumes when it is back.")
                self._emit_finger(booking, finger)
                self._cue("error")
                self._submit_job(booking, finger, clear_glass=lifting)
                return
            if isinstance(error, JobCancelled) and not isinstance(error, WorkerStopping):
                return
            finger.fire(*_failure(error, self.settings))
            self._emit_finger(booking, finger)
            self._cue("error")

    def _uploaded(self, booking: _Booking, finger: FingerCapture, captured: CapturedImage) -> None:
        finger.image = captured.image
        finger.captured_at = captured.captured_at
        finger.fire(fsm.UPLOADED, "Processing the print.")
        hooks = _Hooks(self, booking, finger.fgp, finger.generation)
        try:
            future = self.processor.submit(captured.image, finger.fgp, captured.captured_at)
        except Exception as exc:  # a closed processor or a frame it refuses: the finger must be retaken
            log.error("processing refused FGP %d: %s", finger.fgp, type(exc).__name__)
            finger.clear()
            finger.fire(fsm.PROCESSING_FAILED, "The print could not be processed: capture it again.")
        else:
            future.add_done_callback(lambda done: self._processed(hooks, done))
        self._emit_finger(booking, finger)
        if self.settings.auto_advance:
            self._arm_next(booking, finger.fgp)

    def _processed(self, hooks: _Hooks, future: Future[ProcessedPrint]) -> None:
        error = future.exception()
        processed = future.result() if error is None else None
        # The sequence check's pairs with this print, now, while the sensor takes the next finger.
        checks = self._check_pairs(hooks, processed) if processed is not None else {}
        with self._lock:
            finger = self._current(hooks)
            if finger is None or finger.state != fsm.PROCESSING:
                return
            booking = hooks.booking
            booking.pair_checks.update(checks)
            if processed is None:
                log.error("processing failed for FGP %d: %s", finger.fgp, type(error).__name__)
                finger.clear()
                finger.fire(fsm.PROCESSING_FAILED, "The print could not be processed: capture it again.")
                self._emit_finger(booking, finger)
                self._cue("error")
                return
            finger.processed = processed
            finger.feedback = processed.feedback
            passes = self._passes(processed)
            score = self._score_text(processed)
            outcome = "passed" if passes else f"below threshold {self.settings.quality_threshold}"
            self._try_audit(
                booking.operator,
                "finger_captured",
                f"booking {booking.id}: FGP {finger.fgp} attempt {finger.attempts}, {score}, "
                f"{len(processed.minutiae)} minutiae, {outcome}",
            )
            if passes:
                finger.fire(fsm.PROCESSED, f"Print ready ({score}): accept it or retake it.")
                if self.settings.auto_accept:
                    self._accept(booking, finger, f"Accepted ({score}).")
                    return
                self._emit_finger(booking, finger)
                self._cue("good")
            else:
                advice = " ".join(processed.feedback)
                finger.fire(
                    fsm.PROCESSED,
                    f"The print's quality ({score}) is below {self.settings.quality_threshold}: retake it"
                    f"{', ' + advice[0].lower() + advice[1:] if advice else ''}; a supervisor can accept it"
                    f" as it is.{self._up_hint(finger)}",
                )
                self._emit_finger(booking, finger)
                self._cue("error")
            self._update_state(booking)

    def _check_pairs(self, hooks: _Hooks, processed: ProcessedPrint) -> dict[_PairKey, list[DuplicateFinger]]:
        """``find_duplicates`` of this print with each other print in memory (run without the lock)."""
        if processed.template is None:
            return {}
        with self._lock:
            if self._current(hooks) is None:
                return {}
            others = [
                (finger.fgp, finger.generation, finger.processed.template)
                for finger in hooks.booking.fingers.values()
                if finger.fgp != hooks.fgp and finger.processed is not None and finger.processed.template
            ]
        mine = (hooks.fgp, hooks.generation)
        pairs = {
            _pair_key((fgp, generation), mine): {fgp: template, hooks.fgp: processed.template}
            for fgp, generation, template in others
        }
        return self.processor.call(_compare_pairs, pairs)

    def _check_missing_pairs(self) -> None:
        """The sequence check's pairs of the open booking not checked yet, on the processing thread
        (run without the lock: that thread may be waiting for it)."""
        with self._lock:
            booking = self._booking
            if booking is None or not booking.open:
                return
            pairs = {
                key: templates
                for key, templates in self._accepted_pairs(booking)
                if key not in booking.pair_checks
            }
        if pairs:
            checks = self.processor.call(_compare_pairs, pairs)
            with self._lock:
                booking.pair_checks.update(checks)

    # --- helpers (lock held) ------------------------------------------------------------------

    def _sequence_check(self, booking: _Booking) -> list[DuplicateFinger]:
        """``find_duplicates`` over the accepted prints, pair by pair, reusing pairs checked earlier."""
        found: list[DuplicateFinger] = []
        for key, templates in self._accepted_pairs(booking):
            if key not in booking.pair_checks:  # a retake since _check_missing_pairs: rare
                booking.pair_checks[key] = find_duplicates(templates)
            found += booking.pair_checks[key]
        return sorted(found, key=lambda d: (-d.score, d.first, d.second))  # as find_duplicates orders them

    @staticmethod
    def _accepted_pairs(booking: _Booking) -> list[tuple[_PairKey, dict[int, bytes]]]:
        """Each pair of accepted prints with a template: its key and the two templates by FGP."""
        printed = [
            (finger.fgp, finger.generation, finger.processed.template)
            for finger in booking.fingers.values()
            if finger.state == fsm.ACCEPTED and finger.processed is not None and finger.processed.template
        ]
        return [
            (_pair_key((fgp1, gen1), (fgp2, gen2)), {fgp1: template1, fgp2: template2})
            for (fgp1, gen1, template1), (fgp2, gen2, template2) in itertools.combinations(printed, 2)
        ]

    def _accept(self, booking: _Booking, finger: FingerCapture, message: str) -> None:
        finger.fire(fsm.ACCEPT, message)
        self._emit_finger(booking, finger)
        self._cue("good")
        self._update_state(booking)

    def _passes(self, processed: ProcessedPrint) -> bool:
        nfiq2 = processed.nfiq2
        return processed.quality.is_print and nfiq2 is not None and nfiq2 >= self.settings.quality_threshold

    @staticmethod
    def _score_text(processed: ProcessedPrint) -> str:
        return f"NFIQ 2 {processed.nfiq2}" if processed.nfiq2 is not None else "NFIQ 2 not computable"

    def _up_hint(self, finger: FingerCapture) -> str:
        if finger.attempts >= self.settings.max_attempts_before_up_hint:
            return f" After {finger.attempts} attempts: if this finger cannot be printed, mark it UP."
        return ""

    def _open(self, operator: str | None = None) -> _Booking:
        booking = self._booking
        if booking is None or not booking.open:
            raise NoOpenBooking("no booking is open: start one first")
        if operator is not None:
            self._check_owner(booking, operator)
        return booking

    @staticmethod
    def _check_owner(booking: _Booking, operator: str) -> None:
        if operator != booking.operator:
            raise NotBookingOwner(
                f"booking {booking.id} was started by officer {booking.operator}: only they can continue "
                "it (it resumes when they sign in); you can cancel it"
            )

    def _must_audit(self, actor: str, event: str, detail: str, refused: str) -> None:
        """Write the audit entry of an action about to be taken, else ``AuditUnavailable``."""
        try:
            self._audit(actor, event, detail)
        except Exception as exc:
            log.error("could not write the audit entry %r (%s): refused", event, type(exc).__name__)
            raise AuditUnavailable(
                f"the station's audit log cannot be written ({type(exc).__name__}), so {refused}: try "
                "again, and if this keeps failing ask a technician to run `livescan diag queue`"
            ) from exc

    def _try_audit(self, actor: str, event: str, detail: str) -> None:
        """Write the audit entry of something that has already happened; a failure is only logged."""
        try:
            self._audit(actor, event, detail)
        except Exception as exc:
            log.error("could not write the audit entry %r: %s", event, type(exc).__name__)

    def _update_state(self, booking: _Booking) -> None:
        if not booking.open:
            return
        done = all(finger.state in fsm.DONE for finger in booking.fingers.values())
        state = READY if done else CAPTURING
        if state != booking.state:
            booking.state = state
            self._emit_booking(booking)

    def _descriptive_problems(self, subject: Subject, arrest: Arrest) -> list[Any]:
        """EBTS problems of the header and Type-2 data, found with a placeholder TCN and no prints."""
        now = datetime.now(UTC)
        placeholder = Tcn(self.issuer.ori, self.issuer.station_id, now.replace(microsecond=0), 0)
        trial = Booking(
            header=TransactionHeader.for_tcn(placeholder, destination=self.destination),
            subject=subject,
            arrest=arrest,
            fingers=(),
            device=self.device,
        )
        return [
            problem
            for problem in validate(trial, now=now)
            if problem.field.startswith(("1.", "2.")) and problem.field != ebts.AMP.label
        ]

    def _transaction(self, booking: _Booking, tcn: Tcn) -> Booking:
        fingers, missing = [], []
        for fgp in FINGERS:
            finger = booking.fingers[fgp]
            if finger.missing:
                missing.append(MissingFinger(fgp, MissingReason(finger.missing)))
                continue
            processed, captured_at = finger.processed, finger.captured_at
            assert processed is not None and captured_at is not None
            fingers.append(
                FingerImage(
                    position=fgp,
                    wsq=processed.wsq,
                    width=processed.width,
                    height=processed.height,
                    nfiq2=processed.nfiq2,
                    captured=captured_at.astimezone().date(),
                )
            )
        return Booking(
            header=TransactionHeader.for_tcn(tcn, destination=self.destination),
            subject=booking.subject,
            arrest=booking.arrest,
            fingers=tuple(fingers),
            missing=tuple(missing),
            device=self.device,
        )

    def _emit_finger(self, booking: _Booking, finger: FingerCapture) -> None:
        view = finger.view().as_dict()
        self._send({"event": "finger", "booking": booking.id, "operator": booking.operator, "finger": view})

    def _emit_booking(self, booking: _Booking) -> None:
        self._send({"event": "booking", "booking": booking.view().as_dict()})

    def _cue(self, cue: str) -> None:
        self._send({"event": "cue", "cue": cue})

    def _send(self, event: dict[str, Any]) -> None:
        try:
            self._publish(event)
        except Exception:  # a broken subscriber must not stop the capture
            log.exception("publishing a %s event failed", event.get("event"))


def _compare_pairs(pairs: dict[_PairKey, dict[int, bytes]]) -> dict[_PairKey, list[DuplicateFinger]]:
    """``find_duplicates`` of each pair of templates (FGP -> template), by pair key."""
    return {key: find_duplicates(templates) for key, templates in pairs.items()}


def _pair_key(a: tuple[int, int], b: tuple[int, int]) -> _PairKey:
    return (a, b) if a < b else (b, a)


def _position(fgp: int) -> int:
    try:
        return int(finger_position(fgp))
    except InvalidFingerPosition as exc:
        raise InvalidFinger(str(exc)) from None


def _failure(error: BaseException, settings: CaptureSettings) -> tuple[str, str]:
    """The event and plain message for a capture that ended with ``error``."""
    if isinstance(error, FingerNotLifted):
        return fsm.TIMED_OUT, (
            f"A finger stayed on the sensor for {settings.finger_timeout_s:.0f} s: lift it, then press "
            "Capture to try again."
        )
    if isinstance(error, NoFingerInTime):
        return fsm.TIMED_OUT, (
            f"No finger was placed within {settings.finger_timeout_s:.0f} s: press Capture to try again."
        )
    if isinstance(error, WorkerStopping):
        return fsm.SENSOR_FAILED, "The station is shutting down the sensor."
    if isinstance(error, SensorCaptureError):
        return fsm.SENSOR_FAILED, str(error)
    if isinstance(error, SensorError):
        return fsm.SENSOR_FAILED, f"The sensor reported a problem ({error}): press Capture to try again."
    log.error("capture failed unexpectedly: %s", type(error).__name__)
    return fsm.SENSOR_FAILED, "The capture failed unexpectedly: press Capture to try again."


__all__ = [
    "BOOKING_STATES",
    "CANCELLED",
    "CAPTURING",
    "READY",
    "SUBMITTED",
    "AuditUnavailable",
    "BelowThreshold",
    "BookingInProgress",
    "BookingView",
    "BookingWorkflow",
    "IncompleteBooking",
    "InvalidFinger",
    "InvalidTransition",
    "NoOpenBooking",
    "NoPrint",
    "NotBookingOwner",
    "QueueUnavailable",
    "SequenceCheckFailed",
    "WorkflowError",
]
