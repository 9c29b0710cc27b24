"""sd_notify over a real datagram socket the test binds, as systemd would."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from station.systemd import Notifier, WatchdogPinger


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """A bound SOCK_DGRAM socket standing in for systemd; (NOTIFY_SOCKET value, socket)."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        receiver.settimeout(5.0)
        yield str(path), receiver


def received(receiver: socket.socket) -> dict[str, str]:
    lines = receiver.recv(4096).decode().splitlines()
    return dict(line.split("=", 1) for line in lines)


def nothing_waiting(receiver: socket.socket) -> bool:
    receiver.settimeout(0.0)
    try:
        receiver.recv(4096)
    except BlockingIOError:
        return True
    return False


def test_ready_stopping_and_status_reach_the_manager(manager: tuple[str, socket.socket]) -> None:
    address, receiver = manager
    notifier = Notifier({"NOTIFY_SOCKET": address})
    assert notifier.enabled
    assert notifier.ready("serving on 127.0.0.1:8080")
    assert received(receiver) == {"READY": "1", "STATUS": "serving on 127.0.0.1:8080"}
    assert notifier.stopping()
    assert received(receiver) == {"STOPPING": "1"}


def test_abstract_socket_names_start_with_at() -> None:
    name = f"livescan-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind("\0" + name)
        receiver.settimeout(5.0)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).watchdog()
        assert received(receiver) == {"WATCHDOG": "1"}


def test_without_systemd_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.ready()
    assert notifier.watchdog_interval is None


def test_a_relative_notify_socket_is_ignored() -> None:
    assert not Notifier({"NOTIFY_SOCKET": "relative/notify.sock"}).enabled


def test_a_vanished_manager_is_reported_not_raised(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert notifier.enabled
    assert not notifier.ready()


@pytest.mark.parametrize(
    ("environ", "interval"),
    [
        ({"WATCHDOG_USEC": "10000000"}, 5.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}, 5.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(environ: dict[str, str], interval: float | None) -> None:
    assert Notifier(environ).watchdog_interval == interval


def test_watchdog_pings_only_while_healthy(manager: tuple[str, socket.socket]) -> None:
    address, receiver = manager
    health = {"ok": True}
    pinger = WatchdogPinger(Notifier({"NOTIFY_SOCKET": address}), lambda: health["ok"])
    assert pinger.ping()
    assert received(receiver) == {"WATCHDOG": "1"}
    health["ok"] = False
    assert not pinger.ping()
    assert nothing_waiting(receiver)


def test_a_failing_health_check_withholds_the_ping(manager: tuple[str, socket.socket]) -> None:
    address, receiver = manager

    def broken() -> bool:
        raise RuntimeError("worker state unreadable")

    assert not WatchdogPinger(Notifier({"NOTIFY_SOCKET": address}), broken).ping()
    assert nothing_waiting(receiver)


def test_the_pinger_thread_pings_at_the_interval(manager: tuple[str, socket.socket]) -> None:
    address, receiver = manager
    notifier = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "20000"})  # every 10 ms
    pinger = WatchdogPinger(notifier, lambda: True)
    pinger.start()
    try:
        assert [received(receiver) for _ in range(3)] == [{"WATCHDOG": "1"}] * 3
    finally:
        pinger.stop()
