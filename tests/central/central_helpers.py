"""Bookings, certificates and HTTP clients for the central service tests."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from transaction_samples import NOW, sample_booking, with_arrest, with_header

from central.pki import PkiLayout, StationName
from sync.transaction import Booking, TcnIssuer, encode

ORI_A, ORI_B = "NY0303000", "NY0304000"
STATION_A, STATION_B = StationName(ORI_A, "K01"), StationName(ORI_B, "K02")
OPERATOR = "alice"
HERE = Path(__file__).resolve().parent
_sequence = itertools.count(1)  # TCNs unique across every test of a run


@dataclass(frozen=True)
class Transaction:
    booking: Booking
    data: bytes

    @property
    def tcn(self) -> str:
        return self.booking.header.tcn


def booking_for(
    station: StationName = STATION_A,
    *,
    case: str = "2024-000123",
    ori: str | None = None,
    tcn: str | None = None,
) -> Booking:
    """The sample booking under ``tcn`` or a fresh TCN of ``station``; ``case`` (2.009 OCA) steers
    the fake matcher."""
    tcn = tcn or TcnIssuer(station.ori, station.station_id, lambda: NOW, lambda: next(_sequence)).issue().text
    booking = with_header(sample_booking(), tcn=tcn, ori=ori or station.ori)
    return with_arrest(booking, case_number=case)


def transaction(station: StationName = STATION_A, **options: Any) -> Transaction:
    booking = booking_for(station, **options)
    return Transaction(booking, encode(booking, now=NOW))


class Client:
    """A requests session presenting one client certificate (environment CA bundles ignored)."""

    def __init__(self, url: str, ca: Path, cert: tuple[Path, Path] | None) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would replace our CA
        self.session.verify = str(ca)
        self.session.cert = None if cert is None else (str(cert[0]), str(cert[1]))

    def submit(self, data: bytes, key: str | None, **options: Any) -> requests.Response:
        headers = {} if key is None else {"Idempotency-Key": key}
        return self.session.post(
            f"{self.url}/v1/transactions", data=data, headers=headers, timeout=20, **options
        )

    def status(self, tcn: str) -> requests.Response:
        return self.session.get(f"{self.url}/v1/transactions/{tcn}", timeout=20)

    def wait_for(
        self, tcn: str, done: Callable[[dict[str, Any]], bool], timeout: float = 15.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            response = self.status(tcn)
            assert response.status_code == 200, response.text
            view = response.json()
            if done(view) or time.monotonic() > deadline:
                return view
            time.sleep(0.05)

    def close(self) -> None:
        self.session.close()


def station_client(url: str, layout: PkiLayout, station: StationName) -> Client:
    return Client(url, layout.ca_cert, (layout.station_cert(station), layout.station_key(station)))


def operator_client(url: str, layout: PkiLayout, name: str = OPERATOR) -> Client:
    return Client(url, layout.ca_cert, (layout.operator_cert(name), layout.operator_key(name)))
