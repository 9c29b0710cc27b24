"""``livescan sim``: serve a simulated module on a pseudo-terminal (and optionally loopback TCP)."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import click

from drivers.profiles import PROFILES
from hw_sim.devices import SimSettings, SimulatedDevice
from hw_sim.module import PARAMETER_CHANGES
from hw_sim.pty_server import PtyServer, tcp_address


def default_control_path() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(runtime) / f"livescan-sim-{os.getpid()}.sock"


def _tcp_option(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    try:
        return tcp_address(value)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None


def _announce(label: str, value: str) -> None:
    click.echo(f"{label}: {value}")
    click.get_text_stream("stdout").flush()


@click.command("sim")
@click.option("--model", type=click.Choice(sorted(PROFILES)), default="r307", show_default=True)
@click.option(
    "--timing/--no-timing",
    default=True,
    show_default=True,
    help="Pace bytes at the baud rate and wait the module's instruction latencies.",
)
@click.option(
    "--latency-scale",
    type=click.FloatRange(0, 10),
    default=1.0,
    show_default=True,
    help="Multiply the module's instruction latencies (GenImg, Img2Tz, ...); 1 is the manual's ceilings, "
    "0 an instant module with only the wire paced.",
)
@click.option(
    "--convert-clears-image/--convert-keeps-image",
    default=None,
    help="Whether Img2Tz blanks the image buffer, as some modules do [default: as the model does].",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of impressions, noise and faults.")
@click.option(
    "--flash",
    "flash_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="JSON file holding the module's flash (library, parameters, password, notepad).",
)
@click.option(
    "--fingers",
    default="builtin",
    show_default=True,
    help="'builtin' for synthetic prints, or a folder of print images.",
)
@click.option(
    "--control",
    "control_path",
    type=click.Path(),
    default=None,
    help="Unix socket for control requests [default: $XDG_RUNTIME_DIR or /tmp]",
)
@click.option("--baud-change", type=click.Choice(PARAMETER_CHANGES), default="next_boot", show_default=True)
@click.option("--packet-change", type=click.Choice(PARAMETER_CHANGES), default="next_boot", show_default=True)
@click.option("--password", default="0", show_default=True, help="Password of a fresh flash (0x... allowed).")
@click.option(
    "--power-up-byte/--no-power-up-byte",
    default=None,
    help="Send 0x55 after power-up [default: only the R503 does].",
)
@click.option("--link", type=click.Path(), default=None, help="Keep a symlink to the current pty here.")
@click.option(
    "--tcp",
    metavar="[HOST:]PORT",
    default=None,
    callback=_tcp_option,
    help="Also serve the module on TCP for socket://HOST:PORT (127.0.0.1 only; PORT 0 picks a free one). "
    "One client at a time; the host counts as being at the module's baud rate.",
)
def sim(
    model: str,
    timing: bool,
    latency_scale: float,
    convert_clears_image: bool | None,
    seed: int,
    flash_path: str | None,
    fingers: str,
    control_path: str | None,
    baud_change: str,
    packet_change: str,
    password: str,
    power_up_byte: bool | None,
    link: str | None,
    tcp: tuple[str, int] | None,
) -> None:
    """Run a simulated fingerprint module on a pseudo-terminal.

    Prints 'device: PATH' and 'control: SOCKET' (and 'tcp: 127.0.0.1:PORT' with --tcp), then
    serves until SIGTERM or SIGINT.

    Over TCP the baud rate cannot be known: the host is taken to be at the module's active rate, so
    baud changes do nothing there. The pty and TCP feed the same module; its output goes to the
    endpoint that sent bytes last.
    """
    try:
        settings = SimSettings(
            model=model,
            timing=timing,
            latency_scale=latency_scale,
            convert_clears_image=convert_clears_image,
            seed=seed,
            flash=flash_path,
            fingers=fingers,
            baud_change=baud_change,
            packet_change=packet_change,  # type: ignore[arg-type]
            password=int(password, 0),
            power_up_byte=power_up_byte,
        )
        device = SimulatedDevice("pty", settings)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    control = Path(control_path) if control_path else default_control_path()
    try:
        server = PtyServer(
            device, control, link=link, on_device=lambda path: _announce("device", path), tcp=tcp
        )
    except OSError as error:
        where = f"{tcp[0]}:{tcp[1]}" if tcp else str(control)
        raise click.ClickException(f"cannot listen on {where}: {error.strerror or error}") from None
    _announce("control", str(control))
    if server.tcp_address is not None:
        _announce("tcp", server.tcp_address)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: server.stop())
    server.serve_forever()
