"""A real station for the API and kiosk tests: in-process simulator, real workflow, outbox, operators.

``kiosk_station(tmp_path)`` builds the parts the daemon builds (``station.daemon``), minus the sync
worker and GPIO: a ``SensorWorker`` on ``sim://<unique>`` (no UART timing), a thread-mode
``Processor``, an ``Outbox`` with its key in ``tmp_path``, the ``BookingWorkflow``, ``Operators``
over an operator file with an officer and a supervisor, the ``EventHub``, and a ``DemoPresenter``
that drives the in-process simulated device as the demo drives the simulator on a pty.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))  # outbox_helpers

from daemon_helpers import FORM
from outbox_helpers import new_outbox

import hw_sim
from biometrics.worker import Processor
from drivers.sensor import FAST_TIMING
from hw_sim.devices import SimSettings, get_or_create_device, remove_device
from station.api import KioskSettings, StationServices, create_app
from station.capture import CaptureSettings
from station.daemon import EventListener
from station.demo import DemoPresenter
from station.events import EventHub
from station.operators import OperatorFile, Operators
from station.sensor_worker import SensorWorker
from station.workflow import BookingWorkflow
from sync.clock import utc_now
from sync.outbox import Outbox
from sync.transaction import TcnIssuer

ORI = "NY0303000"
OFFICER = ("officer", "1234")
SUPERVISOR = ("super", "9999")
OFFICER2 = ("officer2", "5678")
POPULATION = 20

COMPLETE_FORM = FORM  # the booking form every station test fills in


def complete_form(**changes: Any) -> dict[str, Any]:
    form = {**COMPLETE_FORM, "arrest_date": datetime.now().date().isoformat()}
    form.update(changes)
    return form


@dataclass
class KioskStation:
    services: StationServices
    workflow: BookingWorkflow
    outbox: Outbox
    operators: Operators
    events: EventHub
    presenter: DemoPresenter
    device_name: str

    @property
    def device(self) -> Any:
        return hw_sim.device(self.device_name)

    def app(self) -> Any:
        return create_app(self.services)


def make_operators(path: Path, **options: Any) -> Operators:
    accounts = OperatorFile(path)
    accounts.add(OFFICER[0], "Officer Dent", "officer", OFFICER[1])
    accounts.add(SUPERVISOR[0], "Sergeant Prefect", "supervisor", SUPERVISOR[1])
    accounts.add(OFFICER2[0], "Officer Marvin", "officer", OFFICER2[1])
    return Operators(accounts, **options)


@contextmanager
def kiosk_station(
    tmp_path: Path,
    *,
    demo: bool = True,
    clock: Callable[[], datetime] = utc_now,
    queue_refresh_s: float = 0.2,
    capture: CaptureSettings | None = None,
    outbox: Outbox | None = None,
) -> Iterator[KioskStation]:
    """Every part started; stopped in reverse order on exit (the sim device is forgotten)."""
    name = f"kiosk-{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        get_or_create_device(name, SimSettings(timing=False))
        stack.callback(remove_device, name)
        hub = EventHub()
        stack.callback(hub.close)
        if outbox is None:
            outbox = new_outbox(tmp_path)
            stack.callback(outbox.close)
        audit = _auditor(outbox)
        processor = Processor(mode="thread")
        stack.callback(processor.close)
        sensor = SensorWorker(f"sim://{name}", timing=FAST_TIMING, publish=hub.publish, negotiate=False)
        stack.callback(sensor.stop)
        issuer = TcnIssuer(ORI, "K01", utc_now, outbox.next_sequence)
        settings = capture or CaptureSettings(poll_interval_s=0.02, finger_timeout_s=120.0, lift_wait_s=0.2)
        workflow = BookingWorkflow(
            sensor, processor, outbox, issuer,
            settings=settings, publish=hub.publish, audit=audit, destination="NYCENTRE0",
        )  # fmt: skip
        stack.callback(workflow.close)
        operators = make_operators(tmp_path / "operators.json", audit=audit, clock=clock)
        presenter = DemoPresenter(hw_sim.device(name), POPULATION, scratch=tmp_path)
        listener = EventListener(hub, presenter.handle, "demo-presenter")
        stack.callback(listener.stop)
        services = StationServices(
            workflow=workflow,
            outbox=outbox,
            operators=operators,
            events=hub,
            settings=KioskSettings(ori=ORI, station_name="Precinct 3 kiosk", queue_refresh_s=queue_refresh_s),
            demo=presenter if demo else None,
        )
        processor.wait_ready(60)
        yield KioskStation(services, workflow, outbox, operators, hub, presenter, name)


def _auditor(outbox: Outbox) -> Callable[[str, str, str | None], None]:
    def audit(actor: str, event: str, detail: str | None = None) -> None:
        outbox.audit(actor, event, detail=detail)

    return audit


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll ``predicate`` (bounded in time) until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def states(station: Any) -> dict[int, str]:
    """Finger states of the open booking of anything with a ``workflow`` (a KioskStation, a Station)."""
    view = station.workflow.view()
    return {} if view is None else {f.fgp: f.state for f in view.fingers}
