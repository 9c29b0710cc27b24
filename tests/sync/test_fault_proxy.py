"""A misbehaving link between station and centre: every booking still arrives exactly once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from outbox_helpers import (
    FAST,
    booking_transaction,
    centre,
    centre_counts,
    endpoint,
    new_outbox,
    pki,
    port_of,
    server_context,
    start_centre,
    wait_until,
)

from central.pki import PkiLayout
from central.process import CentralProcess
from sync.backoff import Backoff
from sync.client import CentreClient
from sync.clock import parse_timestamp
from sync.fault_proxy import Fault, FaultProxy
from sync.outbox import ACCEPTED, ACKNOWLEDGED, RESPONDED, Outbox, OutboxItem
from sync.worker import SyncWorker

__all__ = ["centre", "pki"]  # fixtures
# A cap above the proxy's Retry-After of 1 s; no audit-head reports, which would take the planned
# fault meant for the booking (test_audit_heads covers them).
POLICY = replace(FAST, backoff=Backoff(0.05, 2.0), head_report=None)
DELIVERED = {ACCEPTED, RESPONDED, ACKNOWLEDGED}
IMAGE_SIZE = 6000  # a transaction of about 50 KB: well past the TLS handshake bytes


class Station:
    """An outbox and its running sync worker, sending to ``url``."""

    def __init__(self, directory: Path, url: str, pki: PkiLayout, read_timeout: float = 5.0) -> None:
        self.outbox: Outbox = new_outbox(directory)
        self.client = CentreClient(endpoint(url, pki, connect_timeout=2.0, read_timeout=read_timeout))
        self.worker = SyncWorker(self.outbox, self.client, POLICY)
        self.worker.start()

    def submit(self, count: int = 1) -> list[str]:
        made = [booking_transaction(image_size=IMAGE_SIZE) for _ in range(count)]
        return [self.outbox.submit(sent.data, actor="officer") for sent in made]

    def item(self, tcn: str) -> OutboxItem:
        found = self.outbox.item(tcn)
        assert found is not None
        return found

    def delivered(self, tcns: list[str], timeout: float = 20.0) -> bool:
        return wait_until(lambda: all(self.item(tcn).state in DELIVERED for tcn in tcns), timeout)

    def close(self) -> None:
        self.worker.stop()
        self.client.close()
        self.outbox.close()


@pytest.fixture
def proxy(centre: CentralProcess, pki: PkiLayout) -> Iterator[FaultProxy]:
    with FaultProxy(port_of(centre.url), tls=server_context(pki), retry_after=1) as made:
        yield made


@pytest.fixture
def station(tmp_path: Path, proxy: FaultProxy, pki: PkiLayout) -> Iterator[Station]:
    made = Station(tmp_path, proxy.url, pki)
    yield made
    made.close()


def assert_exactly_once(centre: CentralProcess, tcns: list[str]) -> None:
    counts = centre_counts(centre)
    assert {tcn: counts.get(tcn, 0) for tcn in tcns} == dict.fromkeys(tcns, 1)


def test_refused_connections(station: Station, proxy: FaultProxy, centre: CentralProcess) -> None:
    proxy.refuse()
    tcns = station.submit(2)
    assert wait_until(lambda: station.item(tcns[0]).attempts >= 2)
    assert "Connection refused" in (station.item(tcns[0]).last_error or "")
    assert station.item(tcns[1]).attempts <= 1  # the queue waits behind its oldest
    proxy.accept()
    assert station.delivered(tcns)
    assert_exactly_once(centre, tcns)


def test_a_reset_in_the_middle_of_the_request(
    station: Station, proxy: FaultProxy, centre: CentralProcess
) -> None:
    proxy.plan(Fault.RESET_REQUEST)
    (tcn,) = station.submit()
    assert station.delivered([tcn])
    item = station.item(tcn)
    assert (
        item.attempts == 2 and item.receipt is not None and item.receipt["replayed"] is False
    )  # never had it
    assert_exactly_once(centre, [tcn])


def test_a_reply_lost_after_the_centre_committed(
    station: Station, proxy: FaultProxy, centre: CentralProcess
) -> None:
    proxy.plan(Fault.LOSE_REPLY)
    (tcn,) = station.submit()
    assert station.delivered([tcn])
    item = station.item(tcn)
    assert proxy.connections[0].dropped > 0  # the centre answered; the station never saw it
    assert item.attempts == 2 and item.receipt is not None and item.receipt["replayed"] is True
    assert_exactly_once(centre, [tcn])


def test_503_with_retry_after_is_waited_out(
    station: Station, proxy: FaultProxy, centre: CentralProcess
) -> None:
    proxy.plan(Fault.UNAVAILABLE)
    (tcn,) = station.submit()
    assert station.delivered([tcn])
    item = station.item(tcn)
    assert item.attempts == 2
    queued, accepted = (entry.at for entry in station.outbox.audit_trail(tcn)[:2])
    assert parse_timestamp(accepted) - parse_timestamp(queued) >= timedelta(seconds=1)  # Retry-After: 1
    assert_exactly_once(centre, [tcn])


def test_a_failed_tls_handshake(
    station: Station, proxy: FaultProxy, centre: CentralProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sync.worker")
    proxy.plan(Fault.TLS_FAILURE)
    (tcn,) = station.submit()
    assert station.delivered([tcn])
    assert station.item(tcn).attempts == 2
    assert any("SSLError: TLS failed" in record.getMessage() for record in caplog.records)
    assert_exactly_once(centre, [tcn])


def test_a_trickling_link_hits_the_read_timeout(
    centre: CentralProcess, pki: PkiLayout, tmp_path: Path
) -> None:
    with FaultProxy(port_of(centre.url), trickle_bytes=4, trickle_delay=0.5) as proxy:
        station = Station(tmp_path, proxy.url, pki, read_timeout=0.3)
        try:
            proxy.plan(Fault.TRICKLE)
            (tcn,) = station.submit()
            assert station.delivered([tcn])
            item = station.item(tcn)
        finally:
            station.close()
    assert item.attempts == 2 and item.receipt is not None and item.receipt["replayed"] is True
    assert_exactly_once(centre, [tcn])


def test_the_centre_down_for_a_while(pki: PkiLayout, tmp_path: Path) -> None:
    centre = start_centre(pki, tmp_path / "centre")
    try:
        with FaultProxy(port_of(centre.url)) as proxy:
            station = Station(tmp_path / "station", proxy.url, pki)
            try:
                first = station.submit()
                assert wait_until(lambda: station.item(first[0]).state == RESPONDED)
                centre.kill()  # down hard, mid keep-alive
                later = station.submit(2)
                assert wait_until(lambda: station.item(later[0]).attempts >= 3)  # and it keeps trying
                centre.start()  # same data, a new port
                proxy.upstream_port = port_of(centre.url)
                assert station.delivered(later)
                assert wait_until(lambda: all(station.item(tcn).state == RESPONDED for tcn in later))
            finally:
                station.close()
        assert_exactly_once(centre, first + later)
    finally:
        centre.stop()


def test_every_fault_in_turn(station: Station, proxy: FaultProxy, centre: CentralProcess) -> None:
    faults = [Fault.LOSE_REPLY, Fault.RESET_REQUEST, Fault.TLS_FAILURE, Fault.UNAVAILABLE, Fault.LOSE_REPLY]
    proxy.plan(*faults)
    tcns = station.submit(4)
    assert station.delivered(tcns, timeout=30)
    assert [connection.fault for connection in proxy.connections[: len(faults)]] == faults
    assert_exactly_once(centre, tcns)
