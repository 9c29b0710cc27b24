"""``livescan station ...``, ``livescan demo`` and ``livescan sensor demo``.

    livescan station run --config /etc/livescan/station.toml     the daemon (systemd runs this)
    livescan station operator add | list | remove                 kiosk accounts (station.operators)
    livescan demo [--workdir DIR] [--population N]                the whole system on 127.0.0.1
    livescan sensor demo [--out capture.png]                      issue 2's simulator + capture demo

``station.cli`` imports this module only when one of these commands runs (its ``LazyGroup``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

import click

from drivers import SensorError
from drivers.gpio import GpioError
from station import demo as demo_module
from station import sensor_tools
from station.config import ConfigError, load_config
from station.daemon import Station, StationError, configure_logging
from station.operators import OperatorError, operator
from sync.keyring import KeyFileError
from sync.lock import LockBusy
from sync.outbox import OutboxError

CONTEXT = {"help_option_names": ["-h", "--help"]}
DEFAULT_CONFIG = Path("/etc/livescan/station.toml")
STARTUP_ERRORS = (StationError, LockBusy, GpioError, KeyFileError, OutboxError, OperatorError, OSError)


@click.group("station", context_settings=CONTEXT)
def station() -> None:
    """The station daemon and its accounts."""


@station.command("run")
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), envvar="LIVESCAN_CONFIG",
    default=DEFAULT_CONFIG, show_default=True, help="the station's TOML configuration",
)  # fmt: skip
def station_run(config_path: Path) -> None:
    """Run the station: sensor, capture workflow, sync to the centre, kiosk on 127.0.0.1.

    Stops cleanly on SIGTERM or SIGINT (exit 0). Under systemd (Type=notify) it reports readiness
    and pings the watchdog while its workers are healthy.
    """
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(config.logging.level)
    try:
        status = Station(config).run()
    except STARTUP_ERRORS as exc:
        logging.getLogger("station.daemon").error("cannot start: %s", exc)
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    sys.exit(status)


station.add_command(operator)


@click.command("demo", context_settings=CONTEXT)
@click.option(
    "--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="keep everything here (certificates, galleries, outbox, logs) [default: a temporary folder]",
)  # fmt: skip
@click.option(
    "--population", type=click.IntRange(1, demo_module.MAX_POPULATION),
    default=demo_module.DEFAULT_POPULATION, show_default=True,
    help="synthetic subjects S0001..SN (enrolled once, then cached)",
)  # fmt: skip
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="kiosk port [default: a free one]")
@click.option("--timing/--no-timing", default=True, show_default=True, help="simulate the UART's real speed")
@click.option("--verbose", is_flag=True, help="the station's log lines too (INFO)")
def demo(workdir: Path | None, population: int, port: int, timing: bool, verbose: bool) -> None:
    """The whole system on this machine: simulator, central service, station and kiosk.

    Prints the kiosk address and the demo operators; Ctrl-C stops everything.
    """
    configure_logging("INFO" if verbose else "WARNING")
    try:
        status = demo_module.run_demo(
            workdir=workdir, population=population, timing=timing, port=port, say=_say
        )
    except (demo_module.DemoError, *STARTUP_ERRORS) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    sys.exit(status)


def _say(text: str) -> None:
    click.echo(text)
    sys.stdout.flush()


@click.command("demo", context_settings=CONTEXT)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("capture.png"), show_default=True
)
@click.option("--timing/--no-timing", default=True, show_default=True, help="simulate the UART's real speed")
def sensor_demo(out: Path, timing: bool) -> None:
    """Simulated R307 on a pty: probe, negotiate, capture a print and save it as PNG."""

    def progress(total: int) -> Callable[[int, int], None]:
        bar = click.progressbar(length=total, label="uploading image")
        done = [0]

        def update(received: int, _total: int) -> None:
            bar.update(received - done[0])
            done[0] = received
            if received == total:
                bar.render_finish()

        return update

    try:
        demo_module.run_sensor_demo(out, say=click.echo, progress=progress, timing=timing)
    except (SensorError, sensor_tools.NoFingerInTime) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None


if __name__ == "__main__":
    station()
