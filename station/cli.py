"""The `livescan` command line: a thin layer over the library packages."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import click

from drivers import PROFILES, Sensor, SensorError, Timing
from station import sensor_tools


class LazyGroup(click.Group):
    """A group whose ``lazy`` subcommands (name -> ``"module:attribute"``) are imported when used,
    so that ``livescan station run`` does not load the central service or the simulator."""

    def __init__(self, *args: object, lazy: dict[str, str] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            module, _, attribute = self.lazy[name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    lazy={
        "sim": "hw_sim.cli:sim",
        "central": "central.cli:central",
        "pki": "central.cli:pki",
        "queue": "station.queue_cli:queue",
        "audit": "station.audit_cli:audit",
        "diag": "station.diag.cli:diag",
        "station": "station.station_cli:station",
        "demo": "station.station_cli:demo",
    },
)
@click.version_option(package_name="livescan-station", prog_name="livescan")
def main() -> None:
    """Livescan Station: fingerprint booking station and central matching service."""


def _sensor_options(command: click.Command) -> click.Command:
    options = [
        click.argument("url"),
        click.option("--model", type=click.Choice(sorted(PROFILES)), default="r307", show_default=True),
        click.option("--baud", "baudrate", type=int, default=57600, show_default=True,
                     help="the rate to try first; every 9600 x N rate is probed after it"),
        click.option("--password", type=lambda s: int(s, 0), default="0", metavar="INT",
                     help="module password (0x... ok)"),
        click.option("--negotiate/--no-negotiate", default=True, show_default=True,
                     help="move to the fastest baud rate and largest data packet the module accepts"),
        click.option("--max-baud", type=int, default=115200, show_default=True),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def _open(url: str, model: str, baudrate: int, password: int, negotiate: bool, max_baud: int) -> Sensor:
    try:
        return Sensor.open(
            url, profile=model, baudrate=baudrate, password=password,
            negotiate=negotiate, max_baudrate=max_baud, timing=Timing(),
        )  # fmt: skip
    except SensorError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None


@main.group(cls=LazyGroup, lazy={"demo": "station.station_cli:sensor_demo"})
def sensor() -> None:
    """Talk to a fingerprint module named by URL (device path, sim://, socket://, spy://)."""


@sensor.command("probe")
@_sensor_options
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def sensor_probe(as_json: bool, **options: object) -> None:
    """Find the module, unlock it and show its parameters."""
    with _open(**options) as found:  # type: ignore[arg-type]
        info = sensor_tools.describe(found)
    if as_json:
        click.echo(json.dumps(info))
        return
    for key, value in info.items():
        click.echo(f"{key.replace('_', ' '):>20}: {value}")


@sensor.command("capture")
@_sensor_options
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("capture.png"), show_default=True
)
@click.option("--wait", type=float, default=30.0, show_default=True, help="seconds to wait for a finger")
def sensor_capture(out: Path, wait: float, **options: object) -> None:
    """Wait for a finger, capture an image and save it as PNG."""
    with _open(**options) as found:  # type: ignore[arg-type]
        _capture(found, out, wait)


def _capture(found: Sensor, out: Path, wait: float) -> None:
    click.echo(f"place a finger on the sensor (waiting up to {wait:.0f} s)")
    try:
        sensor_tools.wait_for_finger(found, wait)
        with click.progressbar(length=found.profile.image_bytes, label="uploading image") as bar:
            done = [0]

            def progress(received: int, total: int) -> None:
                bar.update(received - done[0])
                done[0] = received

            capture = sensor_tools.capture_image(found, progress)
    except (SensorError, sensor_tools.NoFingerInTime) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    sensor_tools.save_png(capture.image, out)
    click.echo(
        f"saved {out} ({capture.image.shape[1]}x{capture.image.shape[0]}); upload took "
        f"{capture.upload_seconds:.2f} s at {found.baudrate} baud, {found.packet_size}-byte packets "
        f"(line limit {capture.line_limit_seconds:.2f} s)"
    )


if __name__ == "__main__":
    sys.exit(main())
