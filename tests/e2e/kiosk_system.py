"""The whole demo system for the kiosk's browser tests, built from ``livescan demo``'s own parts.

``demo_system(workdir)`` runs what ``station.demo.run_demo`` runs, minus its signal loop: the demo's
certificates and cached synthetic population (``station.demo.prepare``), the simulated R307 on a
pty (``station.demo.simulator``, no UART timing), the real ``livescan central serve`` process with
the real matcher (``station.demo.centre``), and the station daemon (``station.daemon.Station``)
with a ``DemoPresenter`` placing the chosen subject's fingers on the simulated glass. The station's
configuration, operators and key file come from ``daemon_helpers.station_config``; its sync worker
delivers over mutual TLS and asks for the answers every second.

``DemoSystem.centre_view(tcn)`` asks the centre for a transaction with the station's certificate:
the truth the kiosk's panels are checked against.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "station"))  # daemon_helpers

from daemon_helpers import STATION, Surroundings, station_config

from drivers.sensor import FAST_TIMING
from station.api import StationServices
from station.daemon import Station
from station.demo import DemoPresenter, DemoSetup, centre, prepare, simulator
from station.systemd import Notifier
from sync.worker import DeliveryPolicy

log = logging.getLogger(__name__)

# The population tests/e2e/test_demo.py starts the demo with: one cached enrolment serves both.
POPULATION = 5
ANSWER_POLL = timedelta(seconds=1)  # the daemon's default (15 s) is for a real network


@dataclass
class DemoSystem:
    station: Station
    setup: DemoSetup
    where: Surroundings

    @property
    def url(self) -> str:
        return self.station.url

    @property
    def workflow(self) -> Any:
        return self.station.workflow

    @property
    def outbox(self) -> Any:
        return self.station.outbox

    @property
    def services(self) -> StationServices:
        """What the kiosk API serves (the operators' idle time, the settings, ...)."""
        assert self.station.api is not None
        return self.station.api.server.config.app.state.services

    def centre_view(self, tcn: str) -> dict[str, Any]:
        """``GET /v1/transactions/{tcn}`` at the centre, over mutual TLS as the station."""
        pki = self.setup.pki
        response = requests.get(
            f"{self.where.centre.url.rstrip('/')}/v1/transactions/{tcn}",
            cert=(str(pki.station_cert(STATION)), str(pki.station_key(STATION))),
            verify=str(pki.ca_cert),
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


@contextmanager
def demo_system(workdir: Path, *, population: int = POPULATION, **config: Any) -> Iterator[DemoSystem]:
    """Everything started in ``workdir`` (keep its path short: unix sockets live there); stopped on exit.

    ``config`` are more station settings as ``section__key=value``."""
    setup = prepare(workdir, population, say=log.info)
    with simulator(workdir, timing=False) as sim, centre(setup) as central:
        where = Surroundings(workdir, setup.pki, central, sim)
        settings = station_config(where, workdir / "station", station__name="Precinct 3 kiosk", **config)
        station = Station(
            settings,
            demo=DemoPresenter(sim.control, population, scratch=workdir),
            notifier=Notifier({}),
            processor_mode="thread",
            policy=DeliveryPolicy(poll_interval=ANSWER_POLL),
            sensor_timing=FAST_TIMING,
        )
        station.start()
        try:
            yield DemoSystem(station, setup, where)
        finally:
            station.stop()
