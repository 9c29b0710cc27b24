"""`livescan demo`: the whole system on this machine, and the sensor-only demonstration of issue 2.

``run_demo`` builds, in a work directory (temporary unless given):

* ``pki/``: a site CA, the centre's server certificate and one station certificate
  (``central.pki.init_pki``), so every connection below is real mutual TLS on 127.0.0.1;
* ``centre/galleries.db``: a synthetic population S0001..SN in the criminal and immigration
  galleries (``central.gallery_synthetic``: some in both, some in one, some in neither). Enrolling
  costs ~5 CPU-seconds a subject, so the finished database is cached under
  ``$LIVESCAN_CACHE/demo`` (default ``~/.cache/livescan/demo``) and copied on later runs;
* a simulated R307 on a pseudo-terminal (``hw_sim.process.SimProcess``) presenting the same
  synthetic population, the central service (``livescan central serve``) as a child process, and
  the station daemon (``station.daemon.Station``) in this process with a ``DemoPresenter``.

It prints the kiosk address and the demo operators' ids and PINs; Ctrl-C (or SIGTERM) stops the
station, then the centre and the simulator. ``run_sensor_demo`` is issue 2's sensor demonstration
(``livescan sensor demo``).
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from biometrics.synthetic import GENERATOR_VERSION, SyntheticPrints
from central.galleries import GALLERY_FILE, Gallery
from central.gallery_schema import SCHEMA_VERSION
from central.gallery_synthetic import (
    CAPTURE_FIRST_IMPRESSION,
    DEMOGRAPHICS_VERSION,
    SYNTHETIC_ORI,
    enroll_synthetic,
    planned_galleries,
    planned_level,
    subject_number,
    synthetic_subject_id,
)
from central.pki import PkiLayout, StationName, init_pki
from central.process import CentralProcess
from drivers import Sensor, Timing
from hw_sim.control import SimControl
from hw_sim.process import SimProcess
from station import sensor_tools
from station.config import StationConfig
from station.daemon import Station
from station.operators import OperatorFile
from sync.keyring import create_key_file

log = logging.getLogger(__name__)

Say = Callable[[str], None]
Progress = Callable[[int, int], None]

DEMO_STATION = StationName(SYNTHETIC_ORI, "K01")
DEMO_SEED = 0  # the simulator's "builtin" finger source uses seed 0 too
DEFAULT_POPULATION = 20
MAX_POPULATION = 100  # subjects the simulator's synthetic source knows (hw_sim.fingers.SyntheticSource)
DEMO_OFFICER = ("officer", "Demo Officer", "officer", "1234")  # id, display name, role, PIN
DEMO_SUPERVISOR = ("supervisor", "Demo Supervisor", "supervisor", "9999")


class DemoError(Exception):
    """The demo cannot start as asked; the message says what to change."""


class UnknownSubject(ValueError):
    """The demo panel asked for a subject outside the demo population."""


# --- the synthetic population ---------------------------------------------------------------------


def demo_cache_dir() -> Path:
    """``$LIVESCAN_CACHE/demo``, else ``$XDG_CACHE_HOME/livescan/demo`` (~/.cache by default)."""
    if root := os.environ.get("LIVESCAN_CACHE"):
        return Path(root) / "demo"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "livescan" / "demo"


def subject_label(k: int) -> str:
    galleries = planned_galleries(k)
    if not galleries:
        return "in neither gallery: both answers are no-hit"
    if galleries == {Gallery.IMMIGRATION}:
        return "immigration gallery only"
    record = f"criminal record, level {planned_level(k)}"
    return f"{record} and immigration gallery" if Gallery.IMMIGRATION in galleries else record


def demo_subjects(population: int) -> list[dict[str, Any]]:
    """The demo panel's list: id, the galleries the subject is enrolled in, a short label."""
    return [
        {
            "id": synthetic_subject_id(k),
            "galleries": sorted(g.value for g in planned_galleries(k)),
            "label": subject_label(k),
        }
        for k in range(1, population + 1)
    ]


def cached_population(
    population: int, *, seed: int = DEMO_SEED, cache_dir: Path | None = None, say: Say = print
) -> Path:
    """A folder holding the enrolled galleries of S0001..S{population} (and the key file sealing
    them, if the centre seals its data), built once and cached; its path."""
    if not 1 <= population <= MAX_POPULATION:
        raise DemoError(
            f"--population must be 1..{MAX_POPULATION} (the simulator's subjects), not {population}"
        )
    directory = cache_dir or demo_cache_dir()
    cached = directory / (
        f"galleries-g{GENERATOR_VERSION}-d{DEMOGRAPHICS_VERSION}-s{SCHEMA_VERSION}-seed{seed}-n{population}"
    )
    if (cached / GALLERY_FILE).is_file():
        return cached
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    say(f"enrolling {population} synthetic subjects into both galleries (once; cached in {directory})")
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=directory))
    started = time.monotonic()
    try:
        report = enroll_synthetic(
            building / GALLERY_FILE,
            population,
            seed,
            progress=lambda done, total: say(f"  enrolled {done}/{total}"),
        )
        shutil.rmtree(cached, ignore_errors=True)
        os.rename(building, cached)  # complete or absent, never half-written
    finally:
        shutil.rmtree(building, ignore_errors=True)
    say(
        f"enrolled {report.enrolled} of {population} subjects ({report.members}) with {report.templates} "
        f"templates in {time.monotonic() - started:.0f} s"
    )
    return cached


def copy_galleries(source: Path, target: Path) -> Path:
    """The gallery database of folder ``source`` (through SQLite's backup API: a file copy could
    miss its WAL) and any key file beside it, into folder ``target``; the database's new path."""
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for key in source.glob("*.key"):
        shutil.copy2(key, target / key.name)
    database = target / GALLERY_FILE
    database.unlink(missing_ok=True)
    with (
        closing(sqlite3.connect(source / GALLERY_FILE)) as reading,
        closing(sqlite3.connect(database)) as writing,
    ):
        reading.backup(writing)
    return database


# --- the presenter: who stands at the simulated sensor -------------------------------------------


class DemoPresenter:
    """Places the chosen subject's fingers on the simulated glass as the workflow asks for them.

    Feed ``handle`` the station's events (the daemon calls it from its own listener thread, never
    the publisher's). As a subject does: when a finger is armed ("lifting") whatever is on the glass
    is lifted; when the station has seen the glass empty ("waiting") the chosen subject's finger is
    placed (or the ``substitute`` position's, to plant a duplicate for the sequence check;
    ``smudge`` makes the next placement a smeared print); once the image is taken (any later
    state) it is lifted.
    """

    def __init__(self, control: SimControl, population: int, *, scratch: Path, seed: int = DEMO_SEED) -> None:
        self.control = control
        self.population = population
        self.seed = seed
        self.scratch = scratch
        self._lock = threading.RLock()
        self._subject: str | None = None
        self._substitute: dict[int, int] = {}
        self._smudge = False
        self._waiting: int | None = None  # the finger the workflow waits for
        self._placed: int | None = None  # the finger position on the glass

    def subjects(self) -> list[dict[str, Any]]:
        return demo_subjects(self.population)

    @property
    def subject(self) -> str | None:
        return self._subject

    def present(self, subject: str, substitute: dict[int, int] | None = None, smudge: bool = False) -> None:
        """``subject`` now stands at the sensor; ``substitute`` {asked: presented} plants duplicates."""
        try:
            k = subject_number(subject)
        except ValueError:
            k = 0
        if not 1 <= k <= self.population:
            last = synthetic_subject_id(self.population)
            raise UnknownSubject(f"subject {subject!r} is not in the demo population (S0001..{last})")
        chosen = {int(asked): int(shown) for asked, shown in (substitute or {}).items()}
        bad = [n for pair in chosen.items() for n in pair if not 1 <= n <= 10]
        if bad:
            raise UnknownSubject(f"finger positions are 1..10, got {bad[0]}")
        with self._lock:
            self._subject, self._substitute, self._smudge = subject, chosen, smudge
            log.info("demo: subject %s at the sensor (%d substitution(s))", subject, len(chosen))
            if self._waiting is not None:
                self._act(self._place, self._waiting)

    def handle(self, event: dict[str, Any]) -> None:
        """One station event; finger state changes move the simulated finger."""
        if event.get("event") != "finger":
            return
        finger = event.get("finger") or {}
        fgp, state = finger.get("fgp"), finger.get("state")
        if not isinstance(fgp, int):
            return
        with self._lock:
            if state == "waiting":
                self._waiting = fgp
                self._act(self._place, fgp)
                return
            if state == "lifting":
                self._waiting = None
                if self._placed is not None:
                    self._act(self._lift)
                return
            if self._waiting == fgp:
                self._waiting = None
            if state != "capturing" and self._placed == fgp:
                self._act(self._lift)

    def _act(self, action: Callable[..., None], *arguments: int) -> None:
        try:
            action(*arguments)
        except Exception as exc:  # the simulator may be gone while stopping
            log.warning("demo: simulator control failed: %s", exc)

    def _lift(self) -> None:
        self.control.finger(False)
        self._placed = None

    def _place(self, fgp: int) -> None:
        if self._subject is None:
            return
        shown = self._substitute.get(fgp, fgp)
        if self._placed is not None:
            self._lift()  # a retake: off the glass before the new placement
        if self._smudge:
            self._smudge = False
            self.control.finger(True, image=str(self._smudged(self._subject, shown)))
        else:
            self.control.finger(True, self._subject, shown)
        self._placed = fgp

    def _smudged(self, subject: str, fgp: int) -> Path:
        """A smeared impression (ridges blurred into each other), as a PNG the simulator reads."""
        frame = SyntheticPrints(seed=self.seed).impression(subject, fgp, CAPTURE_FIRST_IMPRESSION)
        picture = Image.fromarray(frame).filter(ImageFilter.GaussianBlur(5))
        levels = (np.asarray(picture, dtype=np.uint16) // 17 * 17).astype(np.uint8)
        path = self.scratch / "smudged.png"
        Image.fromarray(levels).save(path)
        return path


# --- the environment ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSetup:
    workdir: Path
    pki: PkiLayout
    centre_data: Path
    galleries: Path


def prepare(workdir: Path, population: int, *, say: Say = print) -> DemoSetup:
    """Certificates and galleries in ``workdir`` (the population from the cache)."""
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    layout = PkiLayout(workdir / "pki")
    if not layout.ca_cert.exists():
        init_pki(layout.root, stations=[DEMO_STATION], site="livescan demo")
    data = workdir / "centre"
    galleries = copy_galleries(cached_population(population, say=say), data)
    return DemoSetup(workdir, layout, data, galleries)


@contextmanager
def work_directory(given: Path | None) -> Iterator[Path]:
    """``given`` (kept), or a temporary directory removed afterwards."""
    if given is not None:
        yield given
        return
    temporary = Path(tempfile.mkdtemp(prefix="livescan-demo-"))
    try:
        yield temporary
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


@contextmanager
def simulator(workdir: Path, *, timing: bool) -> Iterator[SimProcess]:
    """The simulated R307; it takes a new baud rate and packet size at once (a real one at power-up)."""
    options = [
        "--flash", str(workdir / "sim-flash.json"), "--fingers", f"synthetic:{DEMO_SEED}",
        "--baud-change", "immediate", "--packet-change", "immediate",
    ]  # fmt: skip
    with SimProcess(workdir / "sim-control.sock", *options, *([] if timing else ["--no-timing"])) as sim:
        yield sim


@contextmanager
def centre(setup: DemoSetup) -> Iterator[CentralProcess]:
    with CentralProcess(setup.pki.root, setup.centre_data, log=setup.workdir / "centre.log") as process:
        yield process


def add_demo_operators(path: Path) -> None:
    """The demo's officer and supervisor in the operator file (kept if already there)."""
    accounts = OperatorFile(path)
    for operator_id, name, role, pin in (DEMO_OFFICER, DEMO_SUPERVISOR):
        if accounts.get(operator_id) is None:
            accounts.add(operator_id, name, role, pin)


def run_demo(
    *,
    workdir: Path | None = None,
    population: int = DEFAULT_POPULATION,
    timing: bool = True,
    port: int = 0,
    say: Say = print,
    on_ready: Callable[[Station], None] | None = None,
) -> int:
    """Build and start everything, serve until SIGINT/SIGTERM, stop it all; the exit status."""
    started = time.monotonic()
    with work_directory(workdir) as work:
        setup = prepare(work, population, say=say)
        with simulator(work, timing=timing) as sim, centre(setup) as central:
            say(f"simulated R307 on {sim.device}; central service at {central.url} (mutual TLS)")
            station_dir = work / "station"
            config = StationConfig.for_demo(
                station_dir,
                sensor_url=sim.device,
                centre_url=central.url,
                ca=setup.pki.ca_cert,
                cert=setup.pki.station_cert(DEMO_STATION),
                key=setup.pki.station_key(DEMO_STATION),
                port=port,
                station__ori=DEMO_STATION.ori,
                station__station_id=DEMO_STATION.station_id,
                station__name="Livescan demo",
            )
            if not config.storage.key_file.exists():
                create_key_file(config.storage.key_file)
            add_demo_operators(config.storage.operators)
            presenter = DemoPresenter(sim.control, population, scratch=work)
            station = Station(config, demo=presenter)

            def ready(running: Station) -> None:
                say(f"ready in {time.monotonic() - started:.1f} s")
                say(f"kiosk: {running.url}")
                for operator_id, _, role, pin in (DEMO_OFFICER, DEMO_SUPERVISOR):
                    say(f"  sign in as {role}: operator id {operator_id!r}, PIN {pin}")
                say("pick who stands at the sensor in the demo panel; Ctrl-C stops everything")
                if on_ready is not None:
                    on_ready(running)

            status = station.run(on_ready=ready)
        say("stopped: station, central service and simulator")
    return status


# --- issue 2: the sensor alone ----------------------------------------------------------------------


def run_sensor_demo(
    out: Path,
    *,
    say: Say = print,
    progress: Callable[[int], Progress] | None = None,
    subject: str = "S0001",
    finger: int = 2,
    timing: bool = True,
) -> sensor_tools.Capture:
    """Start the simulator, probe and negotiate, power-cycle into the new settings, capture to PNG.

    ``progress(total)`` returns the per-packet upload callback, if the caller shows one.
    """
    with tempfile.TemporaryDirectory(prefix="livescan-demo-") as workdir:
        options = ["--flash", str(Path(workdir) / "flash.json")] + ([] if timing else ["--no-timing"])
        with SimProcess(Path(workdir) / "control.sock", *options) as sim:
            say(f"simulated R307 on {sim.device} ({'real' if timing else 'no'} UART timing)")
            with Sensor.open(sim.device, timing=Timing() if timing else Timing(settle=0.0)) as sensor:
                _report(sensor, say)
                if sensor.negotiation.pending_baudrate or sensor.negotiation.pending_packet_size:
                    say("the module applies the new settings at power-up: power-cycling it")
                    sim.control.power_cycle()
                    sensor.reconnect()
                    say(f"found again at {sensor.baudrate} baud, {sensor.packet_size}-byte packets")
                say(f"placing subject {subject}'s finger {finger} on the glass")
                sim.control.finger(True, subject, finger)
                sensor_tools.wait_for_finger(sensor, timeout=10)
                callback = progress(sensor.profile.image_bytes) if progress else None
                capture = sensor_tools.capture_image(sensor, callback)
    sensor_tools.save_png(capture.image, out)
    ratio = capture.upload_seconds / capture.line_limit_seconds
    say(
        f"saved {out}: {capture.image.shape[1]}x{capture.image.shape[0]} pixels; upload "
        f"{capture.upload_seconds:.2f} s, line limit {capture.line_limit_seconds:.2f} s (ratio {ratio:.3f})"
    )
    return capture


def _report(sensor: Sensor, say: Say) -> None:
    info = sensor_tools.describe(sensor)
    say(
        f"found {info['model']} at {info['baudrate']} baud: capacity {info['capacity']}, "
        f"security level {info['security_level']}, {info['packet_size']}-byte packets, "
        f"{info['templates_stored']} templates stored"
    )
    negotiation = sensor.negotiation
    say(f"baud rate change: {negotiation.baud_behaviour}; packet size change: {negotiation.packet_behaviour}")
