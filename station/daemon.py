"""The station daemon: ``livescan station run --config FILE`` wires every part and runs them.

    station = Station(load_config(path))
    sys.exit(station.run())          # start, serve until SIGTERM/SIGINT, stop cleanly, 0

``Station.start`` takes the one-instance lock (``<data_dir>/station.lock``), opens the outbox
(its key file must exist: made by ``install.sh --system``), starts the processor (a thread of
this process, NFIQ 2 loaded and warmed up), the sensor worker (it alone owns the port), the
booking workflow, the sync worker (mutual TLS to the centre), the GPIO status panel (if wired; it
follows the "cue" and "sensor" events), the event hub, and the kiosk API with uvicorn on a
loopback address only; then tells systemd it is ready and, under a watchdog, pings it while the
workers are healthy (``Station.healthy``: the sensor, sync, API and event threads alive and the
processing thread taking work, ``Processor.alive``).

``Station.stop`` runs in the reverse order: systemd hears STOPPING=1; live event streams end and
the API stops accepting requests; the workflow disarms the sensor; the sensor worker finishes the
packet in flight and closes the port; the sync worker stops (its send in flight completes or is
re-queued at the next start); the processor closes; the outbox is checkpointed and closed; the
lock is released.

Processing runs on a thread of the daemon, not in a worker process: measured with
``bench/daemon.py`` (whole station after one booking) that is ~198 MB in one process against ~393
MB for the daemon (~196 MB), its worker (~184 MB) and multiprocessing's resource tracker (~13 MB).
nbis-python costs every process that loads it ~48 MB of per-thread storage at import and as much
again for each further thread that runs NBIS code: ``biometrics.worker`` loads it on a short-lived
thread and every NBIS call runs on the one processing thread (``Processor.call``); a spawned
worker re-imports the daemon's whole command line. NBIS releases the GIL, so the API and the
sensor worker stay responsive; what a separate process would add is isolation from a crash in
native code, which here costs the open booking (prints live in memory only) and a restart by
systemd. ``Station(processor_mode="process")`` still gives that.

Logs go to stdout, one line per event (journald adds the time when ``JOURNAL_STREAM`` says it is
listening). ``PersonalDataFilter`` is the last line of defence: code never logs names, PINs or
images, and the filter still blanks anything that looks like one.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, TextIO

import uvicorn

from biometrics.worker import Processor
from drivers import Timing
from station.api import KioskSettings, StationServices, create_app
from station.capture import CaptureSettings
from station.config import StationConfig
from station.events import EventHub, SubscriptionClosed
from station.operators import OperatorFile, Operators
from station.outbox_access import init_command
from station.sensor_worker import SensorWorker
from station.stop_signals import StopSignals
from station.systemd import Notifier, WatchdogPinger
from station.workflow import BookingWorkflow
from sync.client import CentreClient, CentreEndpoint
from sync.clock import utc_now
from sync.keyring import KeyFile, KeyFileError
from sync.lock import ExclusiveLock, LockBusy
from sync.outbox import Outbox
from sync.transaction import TcnIssuer
from sync.worker import DeliveryPolicy, SyncWorker

log = logging.getLogger("station.daemon")

START_TIMEOUT_S = 60.0  # processor warm-up and the API's first bind, each
API_STOP_TIMEOUT_S = 5.0  # requests in flight get this long after the listener closes
LOCK_FILE = "station.lock"
APPLIED_CONFIG = "config.applied.json"  # digests of the last configuration (key names only)
CONFIG_SALT = "config.salt"  # the secret that keys those digests (0600)


class StationError(Exception):
    """The station cannot start as configured; the message says what to fix."""


class NotLoopback(StationError):
    """The kiosk API must listen on a loopback address only."""


class StationBusy(LockBusy):
    """Another station daemon already runs with this data directory."""


# --- logging ------------------------------------------------------------------------------------

REDACTED = "<redacted>"
_PERSONAL_KEYS = (
    "pin|password|passcode|secret|token|cookie|name|surname|given_name|first_name|last_name|dob|"
    "date_of_birth|birth_date|ssn|soc|address|phone|place_of_birth|image|picture|template"
)
_KEY_VALUE = re.compile(
    rf"""(?ix)
    (?P<key>["']?\b(?:{_PERSONAL_KEYS})\b["']?)   # a personal-data key, quoted or not
    (?P<sep>\s*[=:]\s*)
    (?P<value>"[^"]*"|'[^']*'|b'[^']*'|[^\s,;}}\])]+)
    """
)
_BLOB = re.compile(r"[A-Za-z0-9+/=_-]{80,}|(?:\\x[0-9a-f]{2}){8,}")  # base64, hex or escaped bytes


def redact(text: str) -> str:
    """``text`` with personal-data values and long binary blobs blanked, on one line."""
    text = _KEY_VALUE.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)
    text = _BLOB.sub("<data>", text)
    return text.replace("\r", "").replace("\n", " | ")


def _safe_argument(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):  # numpy arrays: images, templates
        return f"<array {'x'.join(map(str, shape))}>"
    return value


class PersonalDataFilter(logging.Filter):
    """Renders each record once, blanks personal data and binary payloads, and keeps it one line.

    Attach it to the handler, so that records from every library pass through it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, dict):
            record.args = {key: _safe_argument(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_safe_argument(value) for value in record.args)
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call: keep the template only
            message = str(record.msg)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record.msg, record.args = redact(message), ()
        return True


class OneLineFormatter(logging.Formatter):
    """``LEVEL logger: message`` with any traceback on the same line; a syslog priority prefix
    (``<3>``) instead of the time when journald reads stdout."""

    PRIORITY: ClassVar[dict[int, int]] = {
        logging.DEBUG: 7,
        logging.INFO: 6,
        logging.WARNING: 4,
        logging.ERROR: 3,
        logging.CRITICAL: 2,
    }

    def __init__(self, journal: bool) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s" if journal else None)
        self.journal = journal
        if not journal:
            self._style._fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record).replace("\n", " | ")
        if self.journal:
            return f"<{self.PRIORITY.get(record.levelno, 6)}>{text}"
        return text


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Route every logger (uvicorn's too) to one stdout handler with ``PersonalDataFilter``."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(OneLineFormatter(journal=bool(os.environ.get("JOURNAL_STREAM"))))
    handler.addFilter(PersonalDataFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return handler


# --- pieces -------------------------------------------------------------------------------------


def loopback_host(host: str) -> str:
    """The address to bind for ``host``; ``NotLoopback`` unless it is 127.0.0.0/8, ::1 or localhost."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise NotLoopback(
            f"kiosk.host = {host!r}: the kiosk API serves this machine only; use 127.0.0.1, ::1 or localhost"
        )
    return str(address)


class ApiServer:
    """uvicorn on its own thread, on a socket bound here (so a busy port is an error at once)."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        self.host = loopback_host(host)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((self.host, port))
        except OSError as exc:
            self.socket.close()
            raise StationError(
                f"cannot listen on {self.host}:{port} ({exc.strerror}); is another program using the "
                "port? Change kiosk.port"
            ) from None
        self.socket.listen(64)
        self.socket.set_inheritable(False)
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            ws="none",
            lifespan="on",
            proxy_headers=False,
            server_header=False,
            access_log=True,
            log_config=None,  # ours (configure_logging)
            timeout_graceful_shutdown=int(API_STOP_TIMEOUT_S),
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="kiosk-api", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and self.server.started

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise StationError(f"the kiosk API did not start: {self._error or 'timed out'}")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(API_STOP_TIMEOUT_S + 5.0)
        self.socket.close()

    def _serve(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.socket]))
        except BaseException as exc:  # SystemExit from a failed lifespan startup, too
            self._error = exc


class EventListener:
    """Feeds the hub's events to ``handler`` on a thread of its own (never the publisher's)."""

    def __init__(self, hub: EventHub, handler: Callable[[dict[str, Any]], None], name: str) -> None:
        self.hub = hub
        self.handler = handler
        self._stop = threading.Event()
        self._subscription = hub.subscribe()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._subscription.close()
        self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                event = self._subscription.get(timeout=1.0)
            except SubscriptionClosed:
                if self._stop.is_set() or self.hub.closed:
                    return
                log.warning("%s fell behind the events; listening again", self._thread.name)
                self._subscription = self.hub.subscribe()
                continue
            if event is None:
                continue
            try:
                self.handler(event)
            except Exception:
                log.exception("%s failed on a %s event", self._thread.name, event.get("event"))


def log_event(event: dict[str, Any]) -> None:
    """One log line per finger, booking or sensor change: ids, positions, states and scores only."""
    kind = event.get("event")
    if kind == "finger":
        finger = event.get("finger") or {}
        if finger.get("state") == "capturing":
            return  # "waiting" and the state after it tell the story
        score = (
            f" nfiq2={finger['nfiq2']} minutiae={finger['minutiae']}"
            if finger.get("nfiq2") is not None
            else ""
        )
        log.info("booking %s finger %s %s (attempt %s)%s", event.get("booking"), finger.get("fgp"),
                 finger.get("state"), finger.get("attempts"), score)  # fmt: skip
    elif kind == "booking":
        booking = event.get("booking") or {}
        log.info("booking %s %s by %s%s", booking.get("id"), booking.get("state"), booking.get("operator"),
                 f" tcn={booking['tcn']}" if booking.get("tcn") else "")  # fmt: skip
    elif kind == "sensor":
        log.info("sensor %s: %s", event.get("state"), event.get("message"))


def _digests(config: StationConfig, salt: bytes) -> dict[str, str]:
    """A keyed digest per dotted key: tells which keys changed without keeping any value. Keyed with
    the station's own secret salt, because a plain hash of a 32-bit sensor password is reversed by
    trying them all."""
    return {
        f"{section}.{name}": _keyed(salt, json.dumps(value, sort_keys=True))
        for section, values in config.as_dict(redact=False).items()
        for name, value in values.items()
    }


def _keyed(salt: bytes, text: str) -> str:
    return hmac.new(salt, text.encode(), "sha256").hexdigest()[:16]


def _config_salt(data_dir: Path) -> bytes:
    """The station's secret for configuration digests (``config.salt``, 0600), made once."""
    path = data_dir / CONFIG_SALT
    try:
        return path.read_bytes()
    except FileNotFoundError:
        salt = secrets.token_bytes(32)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(salt)
        return salt


# --- the station --------------------------------------------------------------------------------


class Station:
    """Every part of one station, started and stopped in order (see the module docstring).

    ``demo`` is a ``station.demo.DemoPresenter`` (or None): it gets the events and serves the
    kiosk's demo panel. ``processor_mode`` is ``"thread"`` (the extractor in this process, see the
    module docstring) or ``"process"``, and
    ``sensor_timing``/``policy``/``pin_factory`` replace the real timing, delivery policy and GPIO
    (tests).
    """

    def __init__(
        self,
        config: StationConfig,
        *,
        demo: Any = None,
        notifier: Notifier | None = None,
        processor_mode: str = "thread",
        pin_factory: Any = None,
        policy: DeliveryPolicy | None = None,
        sensor_timing: Timing | None = None,
    ) -> None:
        self.config = config
        self.sensor_timing = sensor_timing or Timing()
        self.demo = demo
        self.notifier = notifier or Notifier()
        self.processor_mode = processor_mode
        self.pin_factory = pin_factory
        self.policy = policy
        self.host = loopback_host(config.kiosk.host)
        self.lock = ExclusiveLock(config.storage.data_dir / LOCK_FILE, busy=self._busy)
        self.events = EventHub()
        self._stopped = False
        self._parts: list[tuple[str, Callable[[], None]]] = []  # (name, stop), in start order
        self.outbox: Outbox | None = None
        self.processor: Processor | None = None
        self.sensor: SensorWorker | None = None
        self.workflow: BookingWorkflow | None = None
        self.sync: SyncWorker | None = None
        self.api: ApiServer | None = None
        self.panel: Any = None
        self.listeners: list[EventListener] = []
        self.watchdog = WatchdogPinger(self.notifier, self.healthy)

    def _busy(self, holder: str) -> LockBusy:
        return StationBusy(
            f"another station daemon (pid {holder}) is running with {self.config.storage.data_dir}; stop it "
            "first (systemctl stop livescan-station)"
        )

    @property
    def url(self) -> str:
        if self.api is None:
            raise StationError("the station is not running")
        return self.api.url

    # --- start ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every part; on any failure the parts already started are stopped again."""
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        log.info("station %s:%s ready in %.1f s; kiosk at %s", self.config.station.ori,
                 self.config.station.station_id, time.monotonic() - started, self.url)  # fmt: skip
        self.notifier.ready(f"kiosk at {self.url}")
        self.watchdog.start()

    def _start(self) -> None:
        config = self.config
        storage = config.storage
        storage.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.lock.acquire()
        self._parts.append(("lock", self.lock.release))
        try:
            keys = KeyFile(storage.key_file, create_with=init_command(storage.key_file))
        except KeyFileError as exc:
            raise StationError(str(exc)) from None
        outbox = Outbox(storage.outbox, keys)
        self.outbox = outbox
        self._parts.append(("outbox", outbox.close))
        self._audit_configuration(outbox)

        processor = Processor(mode=self.processor_mode)  # type: ignore[arg-type]
        self.processor = processor
        self._parts.append(("processor", processor.close))

        centre = config.centre
        client = CentreClient(
            CentreEndpoint(
                centre.url,
                centre.ca,
                centre.cert,
                centre.key,
                centre.connect_timeout_s,
                centre.read_timeout_s,
            )
        )
        self._parts.append(("centre client", client.close))
        retention = timedelta(days=config.retention.days)
        sync = SyncWorker(outbox, client, self.policy or DeliveryPolicy(retention=retention))
        sync.start()
        self.sync = sync
        self._parts.append(("sync worker", sync.stop))

        touch = self._start_gpio()
        sensor = SensorWorker(
            config.sensor.url,
            profile=config.sensor.model,
            timing=self.sensor_timing,
            touch=touch,
            publish=self.events.publish,
            password=config.sensor.password,
            baudrate=config.sensor.baud,
            negotiate=config.sensor.negotiate,
            max_baudrate=config.sensor.max_baud,
        )
        self.sensor = sensor
        self._parts.append(("sensor worker", sensor.stop))
        settings = CaptureSettings(
            quality_threshold=config.capture.quality_threshold,
            poll_interval_s=config.sensor.poll_interval_s,
            finger_timeout_s=config.sensor.finger_timeout_s,
            auto_advance=config.capture.auto_advance,
            max_attempts_before_up_hint=config.capture.max_attempts_before_up_hint,
        )
        issuer = TcnIssuer(config.station.ori, config.station.station_id, utc_now, outbox.next_sequence)
        workflow = BookingWorkflow(  # starts the sensor worker; refuses what it cannot audit
            sensor, processor, outbox, issuer,
            settings=settings, publish=self.events.publish, audit=self._audit,
            destination=config.station.destination,
        )  # fmt: skip
        self.workflow = workflow
        self._parts.append(("workflow", workflow.close))

        operators = Operators(
            OperatorFile(storage.operators),
            audit=self._audit_or_log,
            max_failures=config.kiosk.max_pin_failures,
            lockout=timedelta(minutes=config.kiosk.lockout_minutes),
            idle=timedelta(minutes=config.kiosk.idle_lock_minutes),
        )
        self._parts.append(("sessions", lambda: operators.sign_out_all("station stopped")))
        self._listen(log_event, "event-log")
        if self.demo is not None:
            self._listen(self.demo.handle, "demo-presenter")

        services = StationServices(
            workflow=workflow,
            outbox=outbox,
            operators=operators,
            events=self.events,
            settings=KioskSettings(ori=config.station.ori, station_name=config.station.name),
            demo=self.demo,
            data_dir=storage.data_dir,
        )
        processor.wait_ready(START_TIMEOUT_S)
        self.api = ApiServer(create_app(services), self.host, config.kiosk.port)
        self.api.start()
        self._parts.append(("kiosk API", self.api.stop))
        self._parts.append(("event streams", self.events.close))

    def _start_gpio(self) -> Any:
        """The status panel (fed the events) and the TOUCH line, when GPIO is enabled."""
        gpio = self.config.gpio
        if not gpio.enabled:
            return None
        from drivers.gpio import open_gpio  # gpiozero loads only when GPIO is wired

        factory = self.pin_factory if self.pin_factory is not None else gpio.pin_factory
        panel, touch = open_gpio(True, factory, gpio.pins(), touch_active_low=gpio.touch_active_low)
        self.panel = panel
        self._parts.append(("status panel", panel.close))
        if touch is not None:
            self._parts.append(("touch line", touch.close))
        self._listen(panel.on_event, "status-panel")
        return touch

    def _listen(self, handler: Callable[[dict[str, Any]], None], name: str) -> None:
        """An ``EventListener`` thread, stopped with the parts started before it."""
        listener = EventListener(self.events, handler, name)
        self.listeners.append(listener)
        self._parts.append((f"{name} listener", listener.stop))

    # --- audit ----------------------------------------------------------------------------

    def _audit(self, actor: str, event: str, detail: str | None = None) -> None:
        """Write an audit entry; a failure raises (the workflow refuses what it cannot audit)."""
        assert self.outbox is not None
        self.outbox.audit(actor, event, detail=detail)

    def _audit_or_log(self, actor: str, event: str, detail: str | None = None) -> None:
        """Write an audit entry of a sign-in, sign-out or lockout; a failure is logged, not raised."""
        try:
            self._audit(actor, event, detail)
        except Exception:
            log.exception("could not write the audit entry %r", event)

    def _audit_configuration(self, outbox: Outbox) -> None:
        """An audit entry when the configuration differs from the last start's (key names only)."""
        path = self.config.storage.data_dir / APPLIED_CONFIG
        salt = _config_salt(self.config.storage.data_dir)
        digests = _digests(self.config, salt)
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
        if isinstance(previous, dict) and previous == digests:
            return
        if isinstance(previous, dict):
            changed = sorted(key for key in digests if previous.get(key) != digests[key])
            detail = f"{len(changed)} key(s): " + ", ".join(changed)
            event = "configuration changed"
        else:
            detail, event = f"digest {_keyed(salt, self.config.digest())}", "configuration applied"
        outbox.audit("station", event, detail=detail[:500])
        log.info("%s: %s", event, detail)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(digests, indent=1), encoding="utf-8")
        os.replace(temporary, path)

    # --- health ---------------------------------------------------------------------------

    def healthy(self) -> bool:
        """Every worker thread alive and the processing thread taking work (the watchdog pings only then)."""
        workers = (self.sensor, self.sync)
        if any(worker is None or not worker.alive for worker in workers):
            return False
        if self.api is None or not self.api.alive or not all(item.alive for item in self.listeners):
            return False
        return self.processor is not None and self.processor.alive

    # --- stop -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every started part, last started first; each failure is logged, never fatal."""
        if self._stopped:
            return
        self._stopped = True
        if self._parts:  # started (at least in part): the lock was ours
            self.notifier.stopping("stopping")
        self.watchdog.stop()
        # the streams end first so the API can finish its requests; the rest in reverse start order
        parts = sorted(enumerate(self._parts), key=lambda part: (part[1][0] != "event streams", -part[0]))
        for _, (name, stop) in parts:
            try:
                stop()
            except Exception:
                log.exception("stopping the %s failed", name)
        if self._parts:
            log.info("station stopped")
        self._parts.clear()

    def run(self, on_ready: Callable[[Station], None] | None = None) -> int:
        """Start, serve until SIGTERM or SIGINT, stop; the exit status (0 after a clean stop)."""
        with StopSignals() as signals:  # kept until stopped: more of them meanwhile are swallowed
            try:
                self.start()
                if on_ready is not None:
                    on_ready(self)
                log.info("%s received: stopping", signals.wait().name)
            finally:
                self.stop()
        return 0
