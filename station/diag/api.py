"""The daemon's diag endpoints, for ``livescan diag`` on the same machine (never the kiosk page).

    GET  /api/diag/sensor    the sensor worker's status and the module's description
    POST /api/diag/capture   {"wait_s": 30}: one test capture on the daemon's sensor worker
    POST /api/diag/gpio      {"blink_s": 0.5, "watch_s": 5}: each cue on the status panel, the TOUCH line

``station.api.create_app`` includes ``router``. Its lifespan writes a random token to
``<data_dir>/diag.token`` (``StationServices.data_dir``; mode 0600, so only root and the daemon's
user can read it) and removes it at shutdown; every call must carry it in ``X-Livescan-Diag``
(none: 401, a wrong one: 403; a daemon that could not write it: 503). The kiosk's operator
sessions have nothing to do with these endpoints.

The sensor, LEDs and TOUCH line are the officer's while a booking is open: capture and GPIO are
then refused with 409, and a test that is running stops when a booking opens. One test runs at a
time (another: 409). The test print is the technician's own finger: it is returned, never stored,
and the capture is audited as "diag capture" with its scores only.

``GET /api/diag/sensor`` holds the worker's ``status()`` (state, message, baud rate, packet size,
counters) and, when the worker is free within a few seconds, the module's description
(``describe()``: capacity, security level, templates stored). A capture in progress keeps the
worker busy: then ``module`` is null and ``module_error`` says why.
"""

from __future__ import annotations

import base64
import concurrent.futures
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from drivers.errors import SensorError
from station import sensor_tools
from station.diag import capture as capture_check
from station.diag.daemon import TOKEN_FILE, TOKEN_HEADER
from station.diag.gpio import watch_touch
from station.sensor_worker import JobCancelled, Session
from station.workflow import CAPTURING
from station.workflow import READY as BOOKING_READY

log = logging.getLogger(__name__)

DESCRIBE_TIMEOUT_S = 3.0
MAX_WAIT_S = 600.0  # as `livescan diag capture --wait`
MAX_WATCH_S = 600.0  # as `livescan diag gpio --watch`
UPLOAD_MARGIN_S = 120.0  # beyond the wait: the upload (~7 s at 57600 baud) and a queued job
PROCESS_TIMEOUT_S = 60.0
POLL_S = 0.1  # GenImg polling while the capture waits for a finger
ACTOR = "diag"  # the audit trail's actor for the technician's tests
PANEL_CUES = ("ready", "busy", "good", "error")  # drivers.gpio.CUES but "off" (no gpiozero import here)
BOOKING_OPEN = (
    "a booking is open: the officer's capture has priority; try again once it is submitted or cancelled"
)


class DiagToken:
    """The token of one running API, written to ``<data_dir>/diag.token`` (0600) until ``remove``."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / TOKEN_FILE
        self.value = secrets.token_urlsafe(32)
        temporary = self.path.with_name(f".{TOKEN_FILE}.{os.getpid()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.fchmod(descriptor, 0o600)
            os.write(descriptor, (self.value + "\n").encode("ascii"))
        finally:
            os.close(descriptor)
        os.replace(temporary, self.path)

    def matches(self, offered: str) -> bool:
        """``offered`` is this token (compared in constant time)."""
        return hmac.compare_digest(offered.encode("utf-8", "replace"), self.value.encode("ascii"))

    def remove(self) -> None:
        """Delete the file, if it still holds this token."""
        try:
            if self.path.read_text(encoding="ascii").strip() == self.value:
                self.path.unlink()
        except OSError:
            pass


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Write the diag token while the API runs (merged into the app's lifespan by ``include_router``)."""
    data_dir = getattr(getattr(app.state, "services", None), "data_dir", None)
    token: DiagToken | None = None
    if data_dir is None:
        log.warning("no data_dir in the station's services: the diag endpoints refuse every call")
    else:
        try:
            token = DiagToken(Path(data_dir))
        except OSError as exc:
            log.warning("the diag token cannot be written (%s): the diag endpoints refuse every call", exc)
    app.state.diag_token = token
    try:
        yield
    finally:
        app.state.diag_token = None
        if token is not None:
            token.remove()


def require_token(request: Request) -> None:
    """The request carries the diag token: 401 without it, 403 with another, 503 when there is none."""
    token: DiagToken | None = getattr(request.app.state, "diag_token", None)
    if token is None:
        raise HTTPException(503, "this station daemon has no diag token; see its log")
    offered = request.headers.get(TOKEN_HEADER)
    if not offered:
        raise HTTPException(
            401, f"diag calls need the token from {token.path} in {TOKEN_HEADER}; use `livescan diag`"
        )
    if not token.matches(offered):
        raise HTTPException(403, f"wrong diag token; it is in {token.path} (restarts change it)")


router = APIRouter(prefix="/api/diag", lifespan=lifespan, dependencies=[Depends(require_token)])
_hardware = threading.Lock()  # one test capture or GPIO test at a time


class CaptureBody(BaseModel):
    wait_s: float = Field(30.0, gt=0, le=MAX_WAIT_S)


class GpioBody(BaseModel):
    blink_s: float = Field(0.5, gt=0, le=10)
    watch_s: float = Field(0.0, ge=0, le=MAX_WATCH_S)


def sensor_worker(request: Request) -> Any:
    """The daemon's ``SensorWorker`` (through the workflow the services hold)."""
    services = request.app.state.services
    return getattr(services.workflow, "sensor", None)


def booking_open(workflow: Any) -> bool:
    """A booking is open (capturing or ready to submit) in the daemon's workflow."""
    view = workflow.view()
    return view is not None and view.state in (CAPTURING, BOOKING_READY)


@contextmanager
def _exclusive(workflow: Any) -> Iterator[None]:
    """Hold the hardware for one test: 409 while a booking is open or another test runs."""
    if booking_open(workflow):
        raise HTTPException(409, BOOKING_OPEN)
    if not _hardware.acquire(blocking=False):
        raise HTTPException(409, "another diag test is running on this station; wait for it to end")
    try:
        yield
    finally:
        _hardware.release()


def _audit(request: Request, event: str, detail: str) -> None:
    try:
        request.app.state.services.outbox.audit(ACTOR, event, detail=detail)
    except Exception:
        log.exception("could not write the audit entry %r", event)


@router.get("/sensor")
def diag_sensor(request: Request) -> dict[str, Any]:
    worker = sensor_worker(request)
    if worker is None:
        return {"status": {"state": "unknown", "message": "no sensor worker"}, "module": None}
    status = worker.status()
    answer: dict[str, Any] = {"status": status, "module": None}
    if status.get("state") not in ("ready", "busy"):
        answer["module_error"] = f"the sensor is {status.get('state')}"
        return answer
    job = worker.describe()
    try:
        answer["module"] = job.result(timeout=DESCRIBE_TIMEOUT_S)
    except concurrent.futures.TimeoutError:
        job.cancel()
        answer["module_error"] = "the sensor worker is busy (a capture is in progress); ask again later"
    except Exception as exc:  # the worker's own failure, reported rather than raised
        answer["module_error"] = f"{type(exc).__name__}: {exc}"
    return answer


class _BookingOpened(JobCancelled):
    """A booking opened while the test capture waited for a finger."""


def _capture_job(wait_s: float, booked: Callable[[], bool]) -> Callable[[Session], Any]:
    polls = max(1, round(wait_s / POLL_S))

    def capture(session: Session) -> tuple[sensor_tools.Capture, int, int]:
        for _ in range(polls):
            if booked():
                raise _BookingOpened("a booking was opened: the officer's capture has priority")
            if session.sensor.capture():
                sensor = session.sensor
                return sensor_tools.capture_image(sensor), sensor.baudrate, sensor.packet_size
            session.pause(POLL_S)
        raise sensor_tools.NoFingerInTime(f"no finger on the sensor within {wait_s:g} s")

    return capture


@router.post("/capture")
def diag_capture(body: CaptureBody, request: Request) -> dict[str, Any]:
    """One test capture: the PNG (base64) with its minutiae drawn and its figures; stored nowhere."""
    services = request.app.state.services
    workflow, worker = services.workflow, sensor_worker(request)
    if worker is None:
        raise HTTPException(503, "this station daemon has no sensor worker")
    with _exclusive(workflow):
        if worker.state not in ("ready", "busy"):
            raise HTTPException(503, f"the sensor is {worker.state}: {worker.status().get('message', '')}")
        job = worker.submit(
            _capture_job(body.wait_s, lambda: booking_open(workflow)),
            activity="a test capture (livescan diag)",
        )
        try:
            captured, baudrate, packet_size = job.result(timeout=body.wait_s + UPLOAD_MARGIN_S)
        except sensor_tools.NoFingerInTime as exc:  # a TimeoutError too: before the next clause
            raise HTTPException(408, f"{exc}; {capture_check.NO_FINGER_ADVICE}") from None
        except concurrent.futures.TimeoutError:
            job.cancel()
            raise HTTPException(504, "the sensor worker did not finish the test capture in time") from None
        except _BookingOpened as exc:
            raise HTTPException(409, str(exc)) from None
        except (SensorError, JobCancelled) as exc:
            raise HTTPException(503, f"the capture failed: {exc}") from None
        try:
            processed = workflow.processor.submit(captured.image, 1).result(timeout=PROCESS_TIMEOUT_S)
        except Exception as exc:  # the processor's failure, told to the technician
            problem = f"{type(exc).__name__}: {exc}"
            raise HTTPException(503, f"the print could not be processed: {problem}") from None
        figures = capture_check.measure(captured, processed, baudrate, packet_size)
        picture = capture_check.png(captured.image, processed.minutiae)
    _audit(request, "diag capture", f"NFIQ 2 {figures['nfiq2']}, {figures['minutiae']} minutiae")
    return {**figures, "png": base64.b64encode(picture).decode("ascii")}


@router.post("/gpio")
def diag_gpio(body: GpioBody, request: Request) -> dict[str, Any]:
    """Each status cue in turn on the daemon's panel (its LED; the buzzer on "good" and "error"),
    then the TOUCH line watched for ``watch_s`` seconds."""
    services = request.app.state.services
    workflow, worker = services.workflow, sensor_worker(request)

    def booked() -> bool:
        return booking_open(workflow)

    with _exclusive(workflow):
        shown = []
        for cue in PANEL_CUES:
            if booked():
                break
            services.events.publish({"event": "cue", "cue": cue})
            shown.append(cue)
            time.sleep(body.blink_s)
        if not booked():
            idle = "error" if worker is not None and worker.state in ("error", "disconnected") else "off"
            services.events.publish({"event": "cue", "cue": idle})
        touch = getattr(worker, "touch", None)
        watched = None
        if touch is not None:
            watched = watch_touch(lambda: bool(touch.is_pressed), body.watch_s, stop=booked)
    _audit(request, "diag gpio", f"{len(shown)} cue(s), TOUCH watched {body.watch_s:g} s")
    return {"cues": shown, "blink_s": body.blink_s, "watch_s": body.watch_s, "touch": watched}
