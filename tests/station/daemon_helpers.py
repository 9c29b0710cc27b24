"""A station's surroundings for the daemon tests: certificates, a real centre, a simulator on a pty,
a configuration file, operators, and a client that books a subject through the kiosk API."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import requests

from central.pki import PkiLayout, StationName, init_pki
from central.process import CentralProcess
from hw_sim.process import SimProcess
from station.config import StationConfig
from station.operators import OperatorFile
from sync.keyring import create_key_file

STATION = StationName("NY0303000", "K01")
# Personal data the logs must never show (searched for in the daemon's output).
SUBJECT_NAME = "Beeblebrox, Zaphod"
DATE_OF_BIRTH = "1980-01-02"
CASE_NUMBER = "2024-000123"
OFFICER = ("officer", "Officer Dent", "officer", "86420135")
SUPERVISOR = ("super", "Sergeant Prefect", "supervisor", "97531246")
FORM: dict[str, Any] = {
    "name": SUBJECT_NAME,
    "date_of_birth": DATE_OF_BIRTH,
    "place_of_birth": "NY",
    "sex": "M",
    "race": "W",
    "height_feet": "5",
    "height_inches": "10",
    "weight": "180",
    "eye": "BRO",
    "hair": "BLK",
    "offences": "THEFT OF PROPERTY",
    "case_number": CASE_NUMBER,
    "retain": True,
}
SECRETS = (SUBJECT_NAME, "Beeblebrox", "BEEBLEBROX", "Zaphod", "ZAPHOD", DATE_OF_BIRTH, "19800102",
           CASE_NUMBER, OFFICER[3], SUPERVISOR[3])  # fmt: skip


@dataclass
class Surroundings:
    root: Path
    pki: PkiLayout
    centre: CentralProcess
    sim: SimProcess


@contextmanager
def surroundings(root: Path, *, timing: bool = True) -> Iterator[Surroundings]:
    """A PKI, a centre (matching off: it stores, answers later) and a simulator on a pty.

    The station waits for an empty glass before each finger ("lifting"); ``KioskClient`` lifts when
    asked and places the finger once it is "waiting", as a subject does."""
    layout = PkiLayout(root / "pki")
    init_pki(layout.root, stations=[STATION], site="test")
    with ExitStack() as stack:
        centre = stack.enter_context(
            CentralProcess(
                layout.root, root / "centre", log=root / "centre.log", options=["--matching", "off"]
            )
        )
        options = [
            "--flash",
            str(root / "flash.json"),
            "--baud-change",
            "immediate",
            "--packet-change",
            "immediate",
        ]
        options += [] if timing else ["--no-timing"]
        sim = stack.enter_context(SimProcess(root / "sim.sock", *options))
        yield Surroundings(root, layout, centre, sim)


def station_config(where: Surroundings, data: Path, **changes: Any) -> StationConfig:
    """A configuration for ``where`` with its data in ``data``, operators and key file created."""
    config = StationConfig.for_demo(
        data,
        sensor_url=where.sim.device,
        centre_url=where.centre.url,
        ca=where.pki.ca_cert,
        cert=where.pki.station_cert(STATION),
        key=where.pki.station_key(STATION),
        **changes,
    )
    data.mkdir(parents=True, exist_ok=True)
    if not config.storage.key_file.exists():
        create_key_file(config.storage.key_file)
    accounts = OperatorFile(config.storage.operators)
    for operator_id, name, role, pin in (OFFICER, SUPERVISOR):
        if accounts.get(operator_id) is None:
            accounts.add(operator_id, name, role, pin)
    return config


def write_toml(config: StationConfig, path: Path) -> Path:
    """``config`` as a station.toml (every key; strings, numbers and booleans only)."""
    lines = []
    for section, values in config.as_dict(redact=False).items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class NotifyListener:
    """A bound datagram socket standing in for systemd's notify socket, read on a thread as
    systemd reads it (a full socket would make the daemon's sends fail)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.socket.settimeout(0.2)
        self.messages: list[dict[str, str]] = []
        self._arrived = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                data = self.socket.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            message = dict(line.split("=", 1) for line in data.decode().splitlines())
            with self._arrived:
                self.messages.append(message)
                self._arrived.notify_all()

    def wait_for(self, key: str, timeout: float) -> dict[str, str]:
        """The first message holding ``key`` (already received or arriving within ``timeout``)."""
        with self._arrived:
            found = self._arrived.wait_for(
                lambda: next((m for m in self.messages if key in m), None), timeout=timeout
            )
        if found is None:
            raise AssertionError(f"no {key} message in {timeout:.0f} s; received {self.messages[-5:]}")
        return found

    def close(self) -> None:
        self._closed = True
        self._thread.join(2.0)
        self.socket.close()


class KioskClient:
    """Signs in and books through the kiosk API, placing fingers on the simulator as asked."""

    def __init__(self, base: str, sim: SimProcess) -> None:
        self.base = base.rstrip("/")
        self.sim = sim
        self.http = requests.Session()

    def call(self, method: str, path: str, **options: Any) -> requests.Response:
        return self.http.request(method, self.base + path, timeout=30, **options)

    def sign_in(self, operator: tuple[str, str, str, str] = OFFICER) -> None:
        response = self.call("POST", "/api/session", json={"operator": operator[0], "pin": operator[3]})
        assert response.status_code == 200, response.text

    def book(self, subject: str, *, timeout: float = 240.0) -> str:
        """Open a booking, capture ten fingers of ``subject`` (overriding a low score), submit; the TCN."""
        response = self.call(
            "POST", "/api/booking", json={"form": {**FORM, "arrest_date": date.today().isoformat()}}
        )
        assert response.status_code == 200, response.text
        placed: tuple[int, int] | None = None  # (position, attempts when placed)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            booking = self.call("GET", "/api/booking").json()
            if booking["state"] == "ready":
                break
            fingers = {finger["fgp"]: finger for finger in booking["fingers"]}
            waiting = [fgp for fgp, finger in fingers.items() if finger["state"] == "waiting"]
            lifting = any(finger["state"] == "lifting" for finger in fingers.values())
            if placed is not None:
                finger = fingers[placed[0]]
                rejected = finger["state"] == "waiting" and finger["attempts"] > placed[1]
                if lifting or rejected or finger["state"] not in ("waiting", "capturing"):
                    self.sim.control.finger(False)  # captured, rejected, or asked to: lift
                    placed = None
            if waiting and placed is None:
                self.sim.control.finger(True, subject, waiting[0])
                placed = (waiting[0], fingers[waiting[0]]["attempts"])
            for fgp, finger in fingers.items():
                if finger["state"] == "review":
                    body = {"supervisor": SUPERVISOR[0], "pin": SUPERVISOR[3]}
                    self.call("POST", f"/api/booking/fingers/{fgp}/override", json=body)
                elif finger["state"] == "failed":
                    self.call("POST", f"/api/booking/fingers/{fgp}/capture")
            time.sleep(0.1)
        else:
            raise AssertionError(f"the booking did not get ready in {timeout:.0f} s: {booking}")
        response = self.call("POST", "/api/booking/submit")
        assert response.status_code == 200, response.text
        return response.json()["tcn"]

    def wait_for_queue_state(
        self, tcn: str, states: tuple[str, ...], timeout: float = 60.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            items = {item["tcn"]: item for item in self.call("GET", "/api/queue").json()["items"]}
            if items.get(tcn, {}).get("state") in states:
                return items[tcn]
            time.sleep(0.2)
        raise AssertionError(f"{tcn} did not reach {states} in {timeout:.0f} s")
