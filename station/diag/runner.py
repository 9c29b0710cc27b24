"""Every ``livescan diag`` check over one station configuration, with or without the daemon.

    diagnostics = Diagnostics(load_config(path))
    report = diagnostics.report()          # sensor, network, queue, gpio (and a capture if asked)
    sys.exit(report.exit_code)

While the station daemon runs (``station.diag.daemon.find_daemon``) every check that needs the
hardware goes through the daemon's API (``station.diag.api``): the sensor is described, the test
capture taken and the status panel and TOUCH line tested by the daemon, and the port is never
opened here. While a booking is open the daemon refuses capture and GPIO tests (skipped, with the
reason). Changing the module's settings and recording its traffic need the daemon stopped.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.errors import SensorError
from drivers.gpio import LEDS
from drivers.sensor import Sensor, Timing
from station.config import StationConfig
from station.diag import capture as capture_check
from station.diag import gpio as gpio_check
from station.diag import network as network_check
from station.diag import queue as queue_check
from station.diag import sensor as sensor_check
from station.diag.daemon import Daemon, DaemonRefused, DaemonUnreachable, find_daemon
from station.diag.report import FAIL, OK, SKIP, Finding, Report
from station.diag.system import SystemRoot

DAEMON_MARGIN_S = 150.0  # beyond a test's own length: the upload, processing, a queued sensor job
_REFUSED_ADVICE = {
    401: "run livescan diag as root or as the station's service user",
    403: "the daemon restarted meanwhile? run it again",
    409: "the officer's capture has priority; try again when no booking is open",
}


class DaemonRunning(Exception):
    """The station daemon owns the sensor; this needs it stopped."""


_NOT_LOOKED = object()


@dataclass
class Diagnostics:
    """The checks for ``config`` on the host under ``host`` (``config_problem``: why the file could
    not be used, when defaults stand in for it)."""

    config: StationConfig
    host: SystemRoot = field(default_factory=SystemRoot)
    config_problem: str | None = None
    pin_factory: Any = None  # replaces gpio.pin_factory (a name or a gpiozero factory)
    window: float = sensor_check.DEFAULT_WINDOW_S
    timing: Timing = field(default_factory=Timing)
    _daemon: Any = field(default=_NOT_LOOKED, repr=False)

    # --- the daemon -----------------------------------------------------------------------

    def daemon(self) -> Daemon | None:
        if self._daemon is _NOT_LOOKED:
            self._daemon = find_daemon(self.config)
        return self._daemon

    def station_findings(self) -> list[Finding]:
        findings = []
        if self.config_problem:
            findings.append(
                Finding("station", "config", FAIL, self.config_problem, "defaults were used for the checks")
            )
        try:
            daemon = self.daemon()
        except DaemonUnreachable as exc:
            return [*findings, Finding("station", "daemon", FAIL, str(exc))]
        if daemon is None:
            findings.append(Finding("station", "daemon", OK, "the station daemon is not running"))
        else:
            who = f" (pid {daemon.pid})" if daemon.pid else ""
            findings.append(
                Finding("station", "daemon", OK, f"the station daemon runs{who}; its API is at {daemon.url}")
            )
        return findings

    def require_no_daemon(self, what: str) -> None:
        daemon = self.daemon()
        if daemon is not None:
            who = f" (pid {daemon.pid})" if daemon.pid else ""
            raise DaemonRunning(
                f"the station daemon{who} owns the sensor; stop it (systemctl stop livescan-station) "
                f"to {what}"
            )

    # --- checks ---------------------------------------------------------------------------

    def sensor(self, *, url: str | None = None, candidates: Sequence[int] = ()) -> list[Finding]:
        try:
            daemon = self.daemon()
        except DaemonUnreachable as exc:
            return [Finding("sensor", "daemon", FAIL, str(exc))]
        if daemon is not None:
            try:
                return sensor_check.daemon_findings(daemon.get("/api/diag/sensor"))
            except DaemonUnreachable as exc:
                return [
                    Finding(
                        "sensor", "daemon", FAIL, str(exc), "the port is not opened while the daemon runs"
                    )
                ]
        settings = self.config.sensor
        return sensor_check.check_sensor(
            self.host,
            url=url or settings.url,
            model=settings.model,
            baudrate=settings.baud,
            password=settings.password,
            candidates=candidates,
            window=self.window,
            timing=self.timing,
        )

    @contextmanager
    def open_sensor(self, *, negotiate: bool | None = None) -> Iterator[Sensor]:
        """The configured module, opened here (``DaemonRunning`` while the daemon owns it)."""
        self.require_no_daemon("use the sensor from here")
        settings = self.config.sensor
        sensor = Sensor.open(
            settings.url,
            profile=settings.model,
            baudrate=settings.baud,
            password=settings.password,
            negotiate=settings.negotiate if negotiate is None else negotiate,
            max_baudrate=settings.max_baud,
            timing=self.timing,
        )
        try:
            yield sensor
        finally:
            sensor.close()

    def capture(self, out: Path, wait_s: float) -> list[Finding]:
        try:
            daemon = self.daemon()
            if daemon is not None:
                return [self._daemon_capture(daemon, out, wait_s)]
            with self.open_sensor() as sensor:
                return [capture_check.test_capture(sensor, out, wait_s)]
        except DaemonRefused as exc:
            status = SKIP if exc.status == 409 else FAIL
            return [Finding("capture", "capture", status, str(exc), _REFUSED_ADVICE.get(exc.status, ""))]
        except DaemonUnreachable as exc:
            return [Finding("capture", "capture", FAIL, str(exc))]
        except SensorError as exc:
            return [
                Finding(
                    "capture",
                    "capture",
                    FAIL,
                    f"the sensor cannot be opened: {exc}",
                    "run `livescan diag sensor`",
                )
            ]

    @staticmethod
    def _daemon_capture(daemon: Daemon, out: Path, wait_s: float) -> Finding:
        """The test capture taken by the daemon's sensor worker, its PNG written to ``out``."""
        answer = daemon.post("/api/diag/capture", {"wait_s": wait_s}, timeout=wait_s + DAEMON_MARGIN_S)
        try:
            picture = base64.b64decode(str(answer.pop("png")), validate=True)
        except (KeyError, ValueError):
            raise DaemonUnreachable("the station daemon's test capture came without its PNG") from None
        out.write_bytes(picture)
        return capture_check.finding(answer, out, where=" (taken by the station daemon)")

    def gpio(
        self,
        *,
        watch_s: float = 0.0,
        blink_s: float = 0.5,
        beep_s: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> list[Finding]:
        gpio = self.config.gpio
        if not gpio.enabled and self.pin_factory is None:
            return [
                Finding(
                    "gpio", "gpio", SKIP, "gpio.enabled = false: no LEDs, buzzer or TOUCH line configured"
                )
            ]
        try:
            daemon = self.daemon()
            if daemon is not None:
                return self._daemon_gpio(daemon, watch_s=watch_s, blink_s=blink_s)
        except DaemonRefused as exc:
            status = SKIP if exc.status == 409 else FAIL
            return [Finding("gpio", "gpio", status, str(exc), _REFUSED_ADVICE.get(exc.status, ""))]
        except DaemonUnreachable as exc:
            return [Finding("gpio", "gpio", FAIL, str(exc))]
        factory = self.pin_factory if self.pin_factory is not None else gpio.pin_factory or None
        return gpio_check.check_gpio(
            gpio.pins(),
            factory=factory,
            touch_active_low=gpio.touch_active_low,
            blink_s=blink_s,
            beep_s=beep_s,
            watch_s=watch_s,
            sleep=sleep,
        )

    def _daemon_gpio(self, daemon: Daemon, *, watch_s: float, blink_s: float) -> list[Finding]:
        """The daemon shows each cue on its status panel and watches its TOUCH line."""
        gpio = self.config.gpio
        pins = gpio.pins()
        answer = daemon.post(
            "/api/diag/gpio",
            {"blink_s": blink_s, "watch_s": watch_s},
            timeout=4 * blink_s + watch_s + DAEMON_MARGIN_S,
        )
        shown = list(answer.get("cues") or [])
        findings = []
        for name in LEDS:
            cue = name.removeprefix("led_")
            if not pins.get(name):
                continue
            if cue in shown:
                findings.append(
                    Finding(
                        "gpio",
                        name,
                        OK,
                        f"the daemon's status panel showed {cue!r}: GPIO {pins[name]} lit for {blink_s:g} s",
                        f"if it never lit, check its wiring (and resistor) to GPIO {pins[name]} and ground",
                        {"pin": pins[name]},
                    )
                )
            else:
                findings.append(
                    Finding("gpio", name, SKIP, f"not shown: a booking was opened ({cue!r} cue left out)")
                )
        if pins.get("buzzer"):
            sounded = [cue for cue in ("good", "error") if cue in shown]
            findings.append(
                Finding(
                    "gpio",
                    "buzzer",
                    OK if sounded else SKIP,
                    f"GPIO {pins['buzzer']} beeped with the {' and '.join(sounded)} cue"
                    if sounded
                    else "not sounded: a booking was opened",
                    f"if it was silent, check its wiring to GPIO {pins['buzzer']} and that it is an active "
                    "buzzer",
                    {"pin": pins["buzzer"]},
                )
            )
        watched = answer.get("touch")
        if pins.get("touch"):
            if not isinstance(watched, dict):
                findings.append(
                    Finding(
                        "gpio",
                        "touch",
                        FAIL,
                        "the station daemon has no TOUCH line",
                        "it started with another configuration: systemctl restart livescan-station",
                    )
                )
            elif watched.get("stopped_early"):
                findings.append(Finding("gpio", "touch", SKIP, "the watch stopped: a booking was opened"))
            else:
                findings.append(
                    gpio_check.touch_finding(pins["touch"], gpio.touch_active_low, watch_s, watched)
                )
        return findings

    def network(self, **options: Any) -> list[Finding]:
        centre = self.config.centre
        return network_check.check_network(
            centre.url,
            ca=centre.ca,
            cert=centre.cert,
            key=centre.key,
            timeout=centre.connect_timeout_s,
            **options,
        )

    def queue(self) -> list[Finding]:
        storage = self.config.storage
        return queue_check.check_queue(storage.outbox, storage.key_file)

    def report(
        self,
        *,
        capture_out: Path | None = None,
        capture_wait_s: float = 0.0,
        watch_s: float = 0.0,
        blink_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Report:
        """Every check; a test capture only with ``capture_out`` and a wait."""
        report = Report().extend(self.station_findings())
        report.extend(self.sensor())
        if capture_out is not None and capture_wait_s > 0:
            report.extend(self.capture(capture_out, capture_wait_s))
        else:
            report.extend(
                [Finding("capture", "capture", SKIP, "no test capture asked for (--capture FILE --wait S)")]
            )
        report.extend(self.gpio(watch_s=watch_s, blink_s=blink_s, sleep=sleep))
        report.extend(self.network())
        report.extend(self.queue())
        return report
