"""A capture rig for the station tests: simulated R307 (in process), sensor worker, processor, outbox.

``Rig`` builds the real parts around a ``sim://`` device with its timing off, records every
published event, and acts as the person at the sensor: when a finger is armed ("lifting") it lifts
whatever is on the glass, and once the station has seen the glass empty ("waiting") it presents the
planned impression for that position. Impressions are synthetic prints screened once
per session so that the module's Img2Tz and the quality threshold accept them; tests that want a
rejection plan a noise image instead. ``when(...)`` runs an action (a fault, an unplug) the moment
a finger enters a state -- on the thread that made the change, before the next sensor command.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import hw_sim
from biometrics.worker import Processor, shared_extractor
from drivers import FAST_TIMING
from hw_sim import SimSettings
from hw_sim.features import FeatureExtractionError, NbisModuleMatcher
from hw_sim.fingers import SyntheticSource
from station.capture import CaptureSettings
from station.sensor_worker import SensorWorker
from station.workflow import BookingWorkflow
from sync.keyring import KeyFile, create_key_file
from sync.outbox import Outbox
from sync.transaction import Arrest, CaptureDevice, Offence, Subject, TcnIssuer

ORI = "NY0303000"
SUBJECT = Subject(
    name="DOE,JOHN",
    place_of_birth="NY",
    dates_of_birth=(date(1980, 1, 2),),
    sex="M",
    race="W",
    height_inches=70,
    weight_pounds=180,
    eye_colour="BRO",
    hair_colour="BLK",
)
ARREST = Arrest(
    date=datetime.now(UTC).astimezone().date(),
    offences=(Offence("THEFT OF PROPERTY"),),
    controlling_agencies=(ORI,),
    retain=True,
)
DEVICE = CaptureDevice("ZHIANTEC", "R307", "SN-000123")
FAST = CaptureSettings(poll_interval_s=0.02, finger_timeout_s=20, lift_wait_s=0.1)
WAIT = 30.0  # the longest any test waits for one expected event

_names = itertools.count()
_source = SyntheticSource(256, 288)
_screened: dict[tuple[str, int, int], Path] = {}
_screen_lock = threading.Lock()


def screened_impression(directory: Path, subject: str, fgp: int, index: int = 0) -> Path:
    """A PNG of an impression of (subject, fgp) that the module and the quality gate accept.

    ``index`` picks a different accepted impression of the same finger. Synthetic, not personal.
    """
    key = (subject, fgp, index)
    with _screen_lock:
        if key in _screened:
            return _screened[key]
        rng = np.random.default_rng(fgp * 1000 + index * 17 + int(subject[1:]))
        module, extractor = NbisModuleMatcher(), shared_extractor()
        for _ in range(20):
            image = _source.impression(subject, fgp, rng)
            try:
                module.extract(image)
            except FeatureExtractionError:
                continue
            if (extractor.process(image, fgp).nfiq2 or 0) >= 40:
                break
        else:
            raise RuntimeError(f"no acceptable impression of {subject} finger {fgp} in 20 tries")
        path = directory / f"{subject}-{fgp}-{index}.png"
        Image.fromarray(image, mode="L").save(path)
        _screened[key] = path
        return path


def noise_image(directory: Path, seed: int = 3) -> Path:
    """Grey noise: the module's Img2Tz refuses it (too messy or too few features)."""
    path = directory / f"noise-{seed}.png"
    if not path.exists():
        pixels = np.random.default_rng(seed).integers(0, 16, (288, 256), dtype=np.uint8) * 17
        Image.fromarray(pixels, mode="L").save(path)
    return path


def faint_image(directory: Path, subject: str = "S0002", fgp: int = 1) -> Path:
    """An accepted impression washed out towards white: the module takes it, NFIQ 2 scores it low."""
    path = directory / f"faint-{subject}-{fgp}.png"
    if not path.exists():
        base = np.asarray(Image.open(screened_impression(directory, subject, fgp)), dtype=np.float64)
        Image.fromarray((255 - (255 - base) * 0.35).astype(np.uint8), mode="L").save(path)
    return path


@dataclass
class _Trigger:
    state: str
    fgp: int | None
    action: Callable[[], Any]
    times: int
    fired: int = 0


@dataclass
class Rig:
    """Everything a capture test needs; see the module docstring."""

    name: str
    images: Path
    processor: Processor
    tmp: Path
    settings: CaptureSettings = FAST
    subject: str = "S0001"
    worker_options: dict[str, Any] = field(default_factory=dict)
    sim_options: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    audit_log: list[tuple[str, str, str | None]] = field(default_factory=list)
    plan: dict[int, list[Path | None]] = field(default_factory=dict)
    presenting: bool = True
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.condition = threading.Condition()
        self.triggers: list[_Trigger] = []
        settings = SimSettings(**({"timing": False, "seed": 5} | self.sim_options))
        self.device = hw_sim.get_or_create_device(self.name, settings)
        options = {"timing": FAST_TIMING, "health_interval_s": 0.5, "backoff": (0.05, 0.4)}
        self.worker = SensorWorker(
            f"sim://{self.name}", publish=self.publish, **(options | self.worker_options)
        )
        key = self.tmp / "outbox.key"
        create_key_file(key)
        self.outbox = Outbox(self.tmp / "outbox.db", KeyFile(key))
        self.issuer = TcnIssuer(ORI, "K01", lambda: datetime.now(UTC), self.outbox.next_sequence)
        self.workflow = BookingWorkflow(
            self.worker,
            self.processor,
            self.outbox,
            self.issuer,
            settings=self.settings,
            publish=self.publish,
            audit=lambda actor, event, detail: self.audit_log.append((actor, event, detail)),
            destination="NYCENTRE0",
            device=DEVICE,
        )

    # --- the person at the sensor ---------------------------------------------------------

    def publish(self, event: dict[str, Any]) -> None:
        with self.condition:
            self.events.append(event)
            self.condition.notify_all()
        for listener in self.listeners:
            listener(event)
        if event["event"] != "finger":
            return
        finger = event["finger"]
        for trigger in self.triggers:
            wanted = trigger.state == finger["state"] and trigger.fgp in (None, finger["fgp"])
            if wanted and trigger.fired < trigger.times:
                trigger.fired += 1
                trigger.action()
        if finger["state"] == "lifting" and self.presenting:
            self.device.finger(False)
        if finger["state"] == "waiting" and self.presenting:
            self.present(finger["fgp"])

    def present(self, fgp: int, image: Path | None = None) -> None:
        """Put the next planned impression for ``fgp`` on the glass (a screened one by default)."""
        planned = self.plan.get(fgp)
        if image is None and planned:
            image = planned.pop(0)
        if image is None:
            image = screened_impression(self.images, self.subject, fgp)
        self.device.finger(True, image=str(image))

    def when(self, state: str, action: Callable[[], Any], fgp: int | None = None, times: int = 1) -> None:
        """Run ``action`` the first ``times`` times a finger (``fgp`` or any) enters ``state``."""
        self.triggers.append(_Trigger(state, fgp, action, times))

    # --- waiting for what happened --------------------------------------------------------

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = WAIT) -> dict[str, Any]:
        """The first recorded event matching ``predicate`` (waiting up to ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching event in {timeout} s; last: {self.events[-5:]}")
                self.condition.wait(remaining)

    def clear_events(self) -> None:
        with self.condition:
            self.events.clear()

    def wait_finger(self, fgp: int, state: str, timeout: float = WAIT) -> dict[str, Any]:
        return self.wait_for(
            lambda e: e["event"] == "finger" and e["finger"]["fgp"] == fgp and e["finger"]["state"] == state,
            timeout,
        )["finger"]

    def wait_sensor(self, state: str, timeout: float = WAIT) -> dict[str, Any]:
        return self.wait_for(lambda e: e["event"] == "sensor" and e["state"] == state, timeout)

    def wait_booking(self, state: str, timeout: float = WAIT) -> dict[str, Any]:
        return self.wait_for(lambda e: e["event"] == "booking" and e["booking"]["state"] == state, timeout)[
            "booking"
        ]

    def finger_states(self) -> dict[int, str]:
        view = self.workflow.view()
        assert view is not None
        return {finger.fgp: finger.state for finger in view.fingers}

    def start(self, operator: str = "officer-17") -> None:
        self.workflow.start(operator, SUBJECT, ARREST)

    def close(self) -> None:
        self.workflow.close()
        self.worker.stop()
        self.outbox.close()
        hw_sim.remove_device(self.name)


@pytest.fixture(scope="session")
def impressions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("impressions")


@pytest.fixture(scope="module")
def processor() -> Iterator[Processor]:
    with Processor(mode="thread") as running:
        running.wait_ready(60)
        yield running


@pytest.fixture
def make_rig(impressions: Path, processor: Processor, tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """``make_rig(**options)`` -> a started ``Rig``; every rig is closed after the test."""
    rigs: list[Rig] = []

    def make(**options: Any) -> Rig:
        directory = tmp_path / f"rig{len(rigs)}"
        directory.mkdir()
        rig = Rig(f"station-test-{next(_names)}", impressions, processor, directory, **options)
        rigs.append(rig)
        rig.worker.start()
        assert rig.worker.wait_ready(WAIT), rig.worker.status()
        return rig

    yield make
    for rig in rigs:
        rig.close()
