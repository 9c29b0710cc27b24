"""The sensor worker: the one thread that opens, owns and talks to the fingerprint module's port.

Everything that needs the sensor goes through ``SensorWorker.submit(fn, activity=...)``: ``fn(session)``
runs on the worker thread with ``session.sensor``, and the caller gets a ``SensorJob`` (a future
whose ``cancel()`` also stops a running job at its next check). Jobs run one at a time, in order;
while one runs the state is "busy" with the job's ``activity`` as the message.

Recovery, so that every failure has a way back to a usable sensor:

==============================  ===============================================================
what happened                   what the worker does
==============================  ===============================================================
noise, corrupt, dropped bytes   the driver drains the line and repeats the instruction once;
or a lost reply (one)           nobody above notices
the same, again                 ``recover``: ``Sensor.reconnect()`` (wait out a power-up, drain,
                                probe every rate, verify the password, read the parameters)
module power-cycled             as above; a rate that changed at power-up is found by the probe,
                                a lost password verification is redone by the driver
no module answers at any rate   close the port, state "disconnected", reopen with backoff
port gone (unplugged, USB       close the port, state "disconnected", reopen with capped
reset, simulator unplugged)     exponential backoff (``backoff``) until it is back
port in use, no permission,     state "error" with the driver's hint, keep retrying the same way
bad URL, wrong password         (a wrong password names the ``sensor.password`` setting)
idle                            a health check every ``health_interval_s`` finds the above early
``stop()``                      the job in hand finishes the packet it is reading, the port is
                                closed, queued jobs fail with ``WorkerStopping``
==============================  ===============================================================

A job that asks for recovery (``session.recover(error)``) and cannot get it raises
``SensorUnavailable``; a job cancelled while it reads an upload stops after the packet in flight,
and the worker drains the rest of the transfer before the next job.

Events published (no personal data): ``{"event": "sensor", "state": "ready"|"busy"|"error"|
"disconnected", "message": str}``, once per change.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from drivers import Sensor, Timing
from drivers.errors import (
    ConfirmationError,
    DeviceDisconnected,
    DeviceNotFound,
    PortError,
    SensorError,
    SensorTimeout,
    TransportError,
    WrongPassword,
)
from drivers.profiles import ModelProfile
from drivers.profiles import profile as profile_named
from station import sensor_tools

log = logging.getLogger(__name__)

T = TypeVar("T")
Publish = Callable[[dict[str, Any]], None]

DEFAULT_TIMING = Timing()
READY, BUSY, ERROR, DISCONNECTED = "ready", "busy", "error", "disconnected"
STARTING, STOPPED = "starting", "stopped"  # only in status(), never published


class Touch(Protocol):
    """The sensor's TOUCH line (a gpiozero ``Button`` fits)."""

    @property
    def is_pressed(self) -> bool: ...

    def wait_for_press(self, timeout: float | None = None) -> bool: ...


class JobCancelled(Exception):
    """The job was cancelled before or while it ran (another finger was armed, the booking ended)."""


class WorkerStopping(JobCancelled):
    """The sensor worker is shutting down; nothing more runs on the sensor."""


class SensorUnavailable(Exception):
    """The sensor is disconnected or does not answer; the worker keeps trying to get it back."""


class Session:
    """What a job gets on the worker thread: the open ``sensor`` and the ways to pause and recover."""

    def __init__(self, worker: SensorWorker, job: SensorJob[Any], sensor: Sensor) -> None:
        self._worker = worker
        self._job = job
        self.sensor = sensor
        self.touch = worker.touch

    def check(self) -> None:
        """Raise ``WorkerStopping`` or ``JobCancelled`` if the job should end now."""
        if self._worker.stopping:
            raise WorkerStopping("the sensor worker is stopping")
        if self._job.cancel_requested:
            raise JobCancelled("the capture was cancelled")

    def pause(self, seconds: float) -> None:
        """Sleep up to ``seconds``; ends early (raising) when the job is cancelled or the worker stops."""
        self.check()
        self._job.wake.wait(max(seconds, 0.0))
        self.check()

    def recover(self, error: BaseException) -> None:
        """Bring the link back after ``error``; ``SensorUnavailable`` if the sensor is gone."""
        self.check()
        if not self._worker.recover(error):
            raise SensorUnavailable(f"the sensor is not available: {error}") from error
        self.sensor = self._worker.sensor_or_raise()

    def drain_upload(self) -> None:
        """Discard the rest of an image upload the job stopped reading."""
        self._worker.drain_upload()


class SensorJob(Future[T]):
    """A future for one job on the sensor, which can also be cancelled while it runs."""

    def __init__(self, fn: Callable[[Session], T], activity: str = "busy") -> None:
        super().__init__()
        self.fn = fn
        self.activity = activity
        self.wake = threading.Event()
        self._cancel_requested = False

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested

    def cancel(self) -> bool:
        """Ask the job to end: at once if it is queued, at its next check if it is running.

        As ``Future.cancel``: True only if the job was cancelled before it ran (it never will). A
        running job ends at its next check with ``JobCancelled`` (or with its result if it finished
        first); a finished job is left as it is. Both answer False.
        """
        if self.done():
            return False
        self._cancel_requested = True
        self.wake.set()
        return super().cancel()


class SensorWorker:
    """The thread that alone owns the sensor at ``url`` (a device path, ``sim://...``, a pty).

    ``start()`` launches it (probe, password and negotiation happen on the thread); ``stop()`` ends
    it. ``password`` is the module's 32-bit password (0: none set), verified at every (re)connection.
    ``status()`` is safe from any thread and never touches the port.
    """

    def __init__(
        self,
        url: str,
        *,
        profile: str | ModelProfile = "r307",
        timing: Timing = DEFAULT_TIMING,
        touch: Touch | None = None,
        publish: Publish = lambda event: None,
        password: int = 0,
        baudrate: int = 57600,
        negotiate: bool = True,
        max_baudrate: int = 115200,
        packet_size: int = 256,
        health_interval_s: float = 5.0,
        backoff: tuple[float, float] = (0.25, 5.0),
    ) -> None:
        if health_interval_s <= 0:
            raise ValueError(f"health_interval_s must be > 0, not {health_interval_s}")
        if not 0 < backoff[0] <= backoff[1]:
            raise ValueError(f"backoff must be (first, cap) with 0 < first <= cap, not {backoff}")
        self.url = url
        self.profile = profile_named(profile) if isinstance(profile, str) else profile
        self.timing = timing
        self.touch = touch
        self.publish = publish
        self.password = password
        self.baudrate = baudrate
        self.negotiate = negotiate
        self.max_baudrate = max_baudrate
        self.packet_size = packet_size
        self.health_interval_s = health_interval_s
        self.backoff = backoff
        self._queue: queue.Queue[SensorJob[Any] | None] = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()  # also orders submit() against the final drain of the queue
        self._sensor: Sensor | None = None
        self._state = STARTING
        self._message = "opening the sensor"
        self._info: dict[str, Any] = {}
        self._counters = {"connects": 0, "recoveries": 0, "disconnects": 0, "jobs": 0, "job_errors": 0}
        self._current: SensorJob[Any] | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (does nothing if it is already running)."""
        with self._start_lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="sensor-worker", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Finish the packet in flight, close the port and end the thread (waits up to ``timeout``)."""
        self._stop.set()
        current = self._current
        if current is not None:
            current.wake.set()
        self._queue.put(None)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> SensorWorker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def alive(self) -> bool:
        """The worker thread is running (started and not ended)."""
        return self._thread is not None and self._thread.is_alive()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the sensor has been opened at least once; False on timeout."""
        return self._ready.wait(timeout)

    # --- for other threads ----------------------------------------------------------------

    def submit(self, fn: Callable[[Session], T], *, activity: str = "busy") -> SensorJob[T]:
        """Queue ``fn(session)`` to run on the worker thread with the sensor; its ``SensorJob``.

        ``activity`` is what the sensor's state message says while the job runs ("capturing the
        right thumb", "reading the module's settings").
        """
        job: SensorJob[T] = SensorJob(fn, activity)
        with self._start_lock:
            if self.stopping:
                job.set_exception(WorkerStopping("the sensor worker has stopped"))
                return job
            self._queue.put(job)
        self.start()
        return job

    def describe(self) -> SensorJob[dict[str, Any]]:
        """The module's identity and settings (``sensor_tools.describe``), read on the worker thread."""
        return self.submit(
            lambda session: sensor_tools.describe(session.sensor), activity="reading the module's settings"
        )

    @property
    def state(self) -> str:
        return self._state

    def status(self) -> dict[str, Any]:
        """Diagnostics: url, state, message, model, baud rate, packet size, negotiation, counters."""
        return {
            "url": self.url,
            "state": self._state,
            "message": self._message,
            "model": self.profile.name,
            **self._info,
            "queued_jobs": self._queue.qsize(),
            "counters": dict(self._counters),
        }

    # --- used by sessions, on the worker thread --------------------------------------------

    def sensor_or_raise(self) -> Sensor:
        if self._sensor is None:
            raise SensorUnavailable("the sensor is disconnected")
        return self._sensor

    def recover(self, error: BaseException) -> bool:
        """Make the link usable again after ``error``; False when the sensor is gone (reopened later)."""
        sensor = self._sensor
        if sensor is None:
            return False
        if isinstance(error, PortError):
            self._drop(error)
            return False
        if not isinstance(error, TransportError):
            return True  # the module answered: the link itself is fine
        self._counters["recoveries"] += 1
        log.info("sensor recovery after %s: %s", type(error).__name__, error)
        try:
            sensor.reconnect()
        except SensorError as exc:
            self._drop(exc)
            return False
        self._remember(sensor)
        return True

    def drain_upload(self) -> None:
        sensor = self._sensor
        if sensor is None:
            return
        transfer = sensor.profile.image_bytes * 2
        try:
            sensor.link.drain(limit=sensor.link.wire_seconds(transfer) + sensor.timing.inactivity)
        except PortError as exc:
            self._drop(exc)

    # --- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        try:
            while not self.stopping:
                if self._sensor is None:
                    if self._connect():
                        failures = 0
                    else:
                        failures += 1
                        self._stop.wait(min(self.backoff[1], self.backoff[0] * 2 ** (failures - 1)))
                    continue
                try:
                    job = self._queue.get(timeout=self.health_interval_s)
                except queue.Empty:
                    self._health_check()
                    continue
                if job is not None:
                    self._execute(job)
        finally:
            self._shutdown()

    def _connect(self) -> bool:
        try:
            sensor = Sensor.open(
                self.url,
                profile=self.profile,
                baudrate=self._info.get("baudrate", self.baudrate),
                password=self.password,
                negotiate=self.negotiate,
                max_baudrate=self.max_baudrate,
                packet_size=self.packet_size,
                timing=self.timing,
            )
        except SensorError as exc:
            gone = isinstance(exc, TransportError | DeviceNotFound | DeviceDisconnected)
            state = DISCONNECTED if gone else ERROR  # else: in use, permissions, a bad URL, the password
            message = f"the sensor cannot be opened: {exc}"
            if isinstance(exc, WrongPassword):
                message += "; set sensor.password in the station configuration to the module's password"
            self._set_state(state, message)
            return False
        if self.stopping:
            sensor.close()
            return False
        self._sensor = sensor
        self._counters["connects"] += 1
        self._remember(sensor)
        self._ready.set()
        log.info("sensor open: %s at %d baud, %d-byte packets", sensor.profile.name, sensor.baudrate,
                 sensor.packet_size)  # fmt: skip
        self._set_state(READY, f"{sensor.profile.name} ready at {sensor.baudrate} baud")
        return True

    def _execute(self, job: SensorJob[Any]) -> None:
        if not job.set_running_or_notify_cancel():
            return
        if job.cancel_requested:
            job.set_exception(JobCancelled("cancelled before it ran"))
            return
        self._current = job
        self._counters["jobs"] += 1
        self._set_state(BUSY, job.activity)
        try:
            session = Session(self, job, self.sensor_or_raise())
            result = job.fn(session)
        except WorkerStopping as exc:
            job.set_exception(exc)
        except JobCancelled as exc:
            self.drain_upload()
            job.set_exception(exc)
        except SensorError as exc:
            self._counters["job_errors"] += 1
            self.recover(exc)
            job.set_exception(exc)
        except BaseException as exc:  # the job's own failure belongs to whoever submitted it
            self._counters["job_errors"] += 1
            job.set_exception(exc)
        else:
            job.set_result(result)
        finally:
            self._current = None
        if self._sensor is not None and not self.stopping:
            self._set_state(READY, "ready")

    def _health_check(self) -> None:
        sensor = self._sensor
        if sensor is None:
            return
        try:
            if not sensor.handshake():
                self.recover(SensorTimeout("no answer to the idle health check"))
        except PortError as exc:
            self._drop(exc)
        except ConfirmationError:
            pass

    def _drop(self, error: BaseException) -> None:
        """Close the port after ``error``; the run loop reopens it with backoff."""
        sensor, self._sensor = self._sensor, None
        if sensor is not None:
            self._counters["disconnects"] += 1
            try:
                sensor.close()
            except Exception:  # the port is already broken; closing is best effort
                log.debug("closing a broken port failed", exc_info=True)
        log.warning("sensor lost: %s", error)
        hint = "check the cable and power; the station reconnects by itself"
        if isinstance(error, DeviceDisconnected):
            message = f"the sensor was disconnected ({hint})"
        else:
            message = f"the sensor does not answer ({hint})"
        self._set_state(DISCONNECTED, message)

    def _shutdown(self) -> None:
        with self._start_lock:
            self._stop.set()  # the thread may also end on an error: submit() refuses from now on
            while True:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is not None and job.set_running_or_notify_cancel():
                    job.set_exception(WorkerStopping("the sensor worker stopped before this job ran"))
        sensor, self._sensor = self._sensor, None
        if sensor is not None:
            sensor.close()
        self._state, self._message = STOPPED, "stopped"

    def _remember(self, sensor: Sensor) -> None:
        negotiation = sensor.negotiation
        self._info = {
            "model": sensor.profile.name,
            "baudrate": sensor.baudrate,
            "packet_size": sensor.packet_size,
            "image_bytes": sensor.profile.image_bytes,
            "baud_change": negotiation.baud_behaviour,
            "packet_size_change": negotiation.packet_behaviour,
            "pending_baudrate": negotiation.pending_baudrate,
            "pending_packet_size": negotiation.pending_packet_size,
            "upload_line_limit_s": round(sensor_tools.upload_line_limit(sensor), 4),
        }

    def _set_state(self, state: str, message: str) -> None:
        if (state, message) == (self._state, self._message):
            return
        self._state, self._message = state, message
        try:
            self.publish({"event": "sensor", "state": state, "message": message})
        except Exception:  # a broken subscriber must not end the worker thread
            log.exception("publishing the sensor state %r failed", state)


__all__ = [
    "BUSY",
    "DISCONNECTED",
    "ERROR",
    "READY",
    "JobCancelled",
    "SensorJob",
    "SensorUnavailable",
    "SensorWorker",
    "Session",
    "Touch",
    "WorkerStopping",
]
