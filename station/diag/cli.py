"""``livescan diag ...``: a technician's checks (registered by the lead: ``main.add_command(diag)``).

    livescan diag sensor [--url URL] [--password-candidate 0x...] [--json]
    livescan diag sensor set-baud RATE | set-password NEW | clear-library [--yes]
    livescan diag capture --out FILE [--wait S]
    livescan diag gpio [--watch S] [--pin-factory mock]
    livescan diag network | queue [--json]
    livescan diag report [--json] [--capture FILE --wait S] [--watch S]
    livescan diag bundle [--out FILE]
    livescan diag record TRANSCRIPT [--url DEVICE]

Exit status 1 when a check fails (warnings do not fail). The configuration comes from ``--config``
(``LIVESCAN_CONFIG``, default ``/etc/livescan/station.toml``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import click

from drivers.errors import SensorError
from station.config import ConfigError, StationConfig, load_config
from station.diag import bundle as bundle_module
from station.diag import record as record_module
from station.diag import sensor as sensor_check
from station.diag.daemon import DaemonUnreachable
from station.diag.report import Report
from station.diag.runner import DaemonRunning, Diagnostics
from station.diag.system import SystemRoot

DEFAULT_CONFIG = Path("/etc/livescan/station.toml")
CONTEXT = {"help_option_names": ["-h", "--help"]}


@dataclass
class _Settings:
    config_path: Path
    root: Path
    window: float
    pin_factory: str | None

    def diagnostics(self, *, strict: bool) -> Diagnostics:
        """The checks over the configuration; ``strict``: a bad file is an error, else a finding."""
        problem = None
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            if strict:
                raise click.ClickException(str(exc)) from None
            config, problem = StationConfig(), str(exc)
        return Diagnostics(
            config,
            SystemRoot(self.root),
            config_problem=problem,
            pin_factory=self.pin_factory,
            window=self.window,
        )


pass_settings = click.make_pass_decorator(_Settings)


def _emit(report: Report, as_json: bool) -> None:
    click.echo(json.dumps(report.as_dict(), indent=1, default=str) if as_json else report.text())
    if report.exit_code:
        raise SystemExit(report.exit_code)


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a number (decimal, or 0x... hexadecimal)") from None


@click.group("diag", context_settings=CONTEXT)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LIVESCAN_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    help="the station's configuration file",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/"),
    hidden=True,
    help="read /proc, /dev, /sys, /boot and /etc under this folder (tests)",
)
@click.option(
    "--window",
    type=click.FloatRange(0.02, 5.0),
    default=sensor_check.DEFAULT_WINDOW_S,
    show_default=True,
    help="seconds to listen for an answer at each baud rate",
)
@click.option(
    "--pin-factory",
    type=click.Choice(["lgpio", "rpigpio", "pigpio", "native", "mock"]),
    default=None,
    help="gpiozero pin factory, instead of gpio.pin_factory (mock: no hardware)",
)
@click.pass_context
def diag(
    context: click.Context, config_path: Path, root: Path, window: float, pin_factory: str | None
) -> None:
    """Find out why the station does not work, and prove that it does."""
    context.obj = _Settings(config_path, root, window, pin_factory)


@diag.group("sensor", invoke_without_command=True)
@click.option("--url", default=None, help="look here first instead of sensor.url")
@click.option(
    "--password-candidate",
    "candidates",
    multiple=True,
    type=_int,
    metavar="INT",
    help="a password to try when the module refuses the configured one (repeat)",
)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def sensor(context: click.Context, url: str | None, candidates: tuple[int, ...], as_json: bool) -> None:
    """Find the port, check nothing holds it, probe baud rates and password, name the cause."""
    if context.invoked_subcommand is not None:
        return
    diagnostics = context.find_object(_Settings).diagnostics(strict=False)
    _emit(
        Report()
        .extend(diagnostics.station_findings())
        .extend(diagnostics.sensor(url=url, candidates=candidates)),
        as_json,
    )


def _confirm_change(diagnostics: Diagnostics, what: str, yes: bool) -> None:
    model = diagnostics.config.sensor.model
    click.echo(f"{what}\n{sensor_check.CHANGE_WARNING}")
    if yes:
        return
    typed = click.prompt(f"Type the module's model ({model}) to go ahead", default="", show_default=False)
    if typed.strip().lower() != model:
        raise click.ClickException("not confirmed; nothing was changed")


def _change(settings: _Settings, what: str, yes: bool, action: str, *arguments: int) -> None:
    diagnostics = settings.diagnostics(strict=True)
    try:
        diagnostics.require_no_daemon("change the module's settings")
    except (DaemonRunning, DaemonUnreachable) as exc:
        raise click.ClickException(str(exc)) from None
    _confirm_change(diagnostics, what, yes)
    operation = {
        "set-baud": sensor_check.set_baud,
        "set-password": sensor_check.set_password,
        "clear-library": sensor_check.clear_library,
    }[action]
    try:
        with diagnostics.open_sensor(negotiate=False) as opened:
            message = operation(opened, *arguments)
    except (SensorError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(message)


@sensor.command("set-baud")
@click.argument("rate", type=int)
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@pass_settings
def set_baud(settings: _Settings, rate: int, yes: bool) -> None:
    """Store a new baud rate in the module (applies after a power cycle on most modules)."""
    _change(settings, f"The module will be told to use {rate} baud.", yes, "set-baud", rate)


@sensor.command("set-password")
@click.argument("password", type=_int)
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@pass_settings
def set_password(settings: _Settings, password: int, yes: bool) -> None:
    """Give the module a new password (keep it: a forgotten one makes the module unusable)."""
    _change(settings, "The module's password will be changed.", yes, "set-password", password)


@sensor.command("clear-library")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@pass_settings
def clear_library(settings: _Settings, yes: bool) -> None:
    """Delete every template stored in the module."""
    _change(settings, "Every template stored in the module will be deleted.", yes, "clear-library")


@diag.command("capture")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("diag-capture.png"),
    show_default=True,
    help="the PNG to write (the print with its minutiae)",
)
@click.option("--wait", "wait_s", type=click.FloatRange(0.5, 600), default=30.0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def capture(settings: _Settings, out: Path, wait_s: float, as_json: bool) -> None:
    """A test capture: PNG with minutiae, NFIQ 2, minutiae count, upload time against the line limit."""
    if not as_json:
        click.echo(f"place a finger on the sensor (waiting up to {wait_s:g} s)")
    _emit(Report(settings.diagnostics(strict=True).capture(out, wait_s)), as_json)


@diag.command("gpio")
@click.option(
    "--watch",
    "watch_s",
    type=click.FloatRange(0, 600),
    default=5.0,
    show_default=True,
    help="seconds to watch the TOUCH line (touch the glass meanwhile)",
)
@click.option("--blink", "blink_s", type=click.FloatRange(0.01, 10), default=0.5, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def gpio(settings: _Settings, watch_s: float, blink_s: float, as_json: bool) -> None:
    """Light each LED in turn, sound the buzzer, watch the TOUCH line."""
    _emit(Report(settings.diagnostics(strict=True).gpio(watch_s=watch_s, blink_s=blink_s)), as_json)


@diag.command("network")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def network(settings: _Settings, as_json: bool) -> None:
    """DNS, TCP, mutual TLS, certificate expiry and clock skew against the centre."""
    _emit(Report(settings.diagnostics(strict=True).network()), as_json)


@diag.command("queue")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def queue(settings: _Settings, as_json: bool) -> None:
    """Outbox counts by state, the oldest waiting item's age, dead letters with their reasons."""
    _emit(Report(settings.diagnostics(strict=True).queue()), as_json)


@diag.command("report")
@click.option(
    "--capture",
    "capture_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also take a test capture to this PNG",
)
@click.option("--wait", "wait_s", type=click.FloatRange(0, 600), default=30.0, show_default=True)
@click.option("--watch", "watch_s", type=click.FloatRange(0, 600), default=0.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON (for tools)")
@pass_settings
def report(
    settings: _Settings, capture_out: Path | None, wait_s: float, watch_s: float, as_json: bool
) -> None:
    """Every check; exit status 1 when anything fails."""
    diagnostics = settings.diagnostics(strict=False)
    _emit(diagnostics.report(capture_out=capture_out, capture_wait_s=wait_s, watch_s=watch_s), as_json)


@diag.command("bundle")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="the tar.gz to write [default: livescan-diag-TIME.tar.gz here]",
)
@pass_settings
def bundle(settings: _Settings, out: Path | None) -> None:
    """A tar.gz for support: redacted configuration, recent logs, the report, versions. No personal data."""
    diagnostics = settings.diagnostics(strict=False)
    result = diagnostics.report(blink_s=0.2)
    out = out or Path(time.strftime("livescan-diag-%Y%m%d-%H%M%S.tar.gz", time.gmtime()))
    members = bundle_module.write_bundle(out, report=result, config=diagnostics.config, host=diagnostics.host)
    click.echo(f"wrote {out}: {', '.join(name.split('/', 1)[1] for name in members)}")


@diag.command("record")
@click.argument("transcript", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--url", default=None, help="the serial device [default: sensor.url]")
@pass_settings
def record(settings: _Settings, transcript: Path, url: str | None) -> None:
    """Record the sensor's raw traffic during a probe to TRANSCRIPT (pyserial spy hexdump).

    The transcript holds the module's password as sent (VfyPwd): treat it like the configuration.
    """
    diagnostics = settings.diagnostics(strict=True)
    try:
        diagnostics.require_no_daemon("record its traffic")
    except (DaemonRunning, DaemonUnreachable) as exc:
        raise click.ClickException(str(exc)) from None
    sensor_settings = diagnostics.config.sensor
    try:
        info = record_module.record(
            url or sensor_settings.url,
            transcript,
            model=sensor_settings.model,
            baudrate=sensor_settings.baud,
            password=sensor_settings.password,
            timing=diagnostics.timing,
        )
    except (SensorError, record_module.NotADevice) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"recorded {transcript}: {info['model']} at {info['baudrate']} baud, capacity {info['capacity']}"
    )


__all__ = ["diag"]
