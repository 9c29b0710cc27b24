"""``livescan sim --tcp``: the simulated module on a loopback TCP listener, raw bytes as on the pty."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial
from click.testing import CliRunner

from drivers import codec
from drivers.codec import Instruction
from hw_sim import SimulatedDevice
from hw_sim.cli import sim as sim_command
from hw_sim.devices import SimSettings
from hw_sim.process import SimProcess
from hw_sim.pty_server import PtyServer, tcp_address

VFY_PWD = bytes.fromhex("EF 01 FF FF FF FF 01 00 07 13 00 00 00 00 00 1B")
VFY_PWD_OK = bytes.fromhex("EF 01 FF FF FF FF 07 00 03 00 00 0A")
TEMPLATE_NUM_OK = codec.ack(0, b"\x00\x00")
WAIT = 5.0  # the bound on every wait for the simulator


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimProcess]:
    socket_path = tmp_path / "control.sock"
    process = SimProcess(socket_path, "--no-timing", "--seed", "3", "--tcp", "0")
    try:
        yield process
        assert process.stop() == 0
        assert not socket_path.exists()
    finally:
        process.kill()


def connect(sim: SimProcess) -> socket.socket:
    assert sim.tcp is not None
    host, port = sim.tcp.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=WAIT)


def receive(connection: socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes, or fewer if the simulator closes the connection."""
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def connected(sim: SimProcess) -> bool:
    return sim.control.status()["tcp"]["connected"]


def test_announces_the_real_port_and_reports_it_in_status(sim: SimProcess) -> None:
    assert sim.tcp is not None and sim.tcp.startswith("127.0.0.1:")
    assert int(sim.tcp.rsplit(":", 1)[1]) > 0
    status = sim.control.status()
    assert status["tcp"] == {"address": sim.tcp, "connected": False}
    assert status["device"] == sim.device


def test_golden_bytes_over_raw_tcp(sim: SimProcess) -> None:
    with connect(sim) as client:
        client.sendall(VFY_PWD)
        assert receive(client, len(VFY_PWD_OK)) == VFY_PWD_OK
        assert connected(sim)
        client.sendall(codec.command(Instruction.TEMPLATE_NUM))
        assert receive(client, len(TEMPLATE_NUM_OK)) == TEMPLATE_NUM_OK
    assert sim.control.status()["host_baud"] == 57600  # the module's rate: TCP has none


def test_a_command_split_across_writes_is_answered(sim: SimProcess) -> None:
    with connect(sim) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in VFY_PWD:
            client.sendall(bytes((byte,)))
        assert receive(client, len(VFY_PWD_OK)) == VFY_PWD_OK


def test_a_second_client_is_closed_at_once(sim: SimProcess) -> None:
    with connect(sim) as first:
        first.sendall(VFY_PWD)
        assert receive(first, len(VFY_PWD_OK)) == VFY_PWD_OK
        with connect(sim) as second:
            assert second.recv(64) == b""  # closed by the simulator, nothing sent
        first.sendall(VFY_PWD)  # the first client keeps the module
        assert receive(first, len(VFY_PWD_OK)) == VFY_PWD_OK


def test_disconnect_and_reconnect(sim: SimProcess) -> None:
    with connect(sim) as client:
        client.sendall(VFY_PWD)
        assert receive(client, len(VFY_PWD_OK)) == VFY_PWD_OK
    wait_for(lambda: not connected(sim), "the simulator to notice the disconnect")
    with connect(sim) as again:
        again.sendall(VFY_PWD)
        assert receive(again, len(VFY_PWD_OK)) == VFY_PWD_OK
    # A client that leaves before its reply arrives does not leave stale bytes for the next one.
    with connect(sim) as hasty:
        hasty.sendall(codec.command(Instruction.TEMPLATE_NUM))
    wait_for(lambda: not connected(sim), "the hasty client to be dropped")
    with connect(sim) as last:
        last.sendall(VFY_PWD)
        assert receive(last, len(VFY_PWD_OK)) == VFY_PWD_OK


def test_the_pty_keeps_working_and_replies_go_to_the_sender(sim: SimProcess) -> None:
    with connect(sim) as client, serial.Serial(sim.device, 57600, timeout=WAIT) as port:
        port.write(codec.command(Instruction.TEMPLATE_NUM))
        assert port.read(len(TEMPLATE_NUM_OK)) == TEMPLATE_NUM_OK
        client.sendall(VFY_PWD)
        assert receive(client, len(VFY_PWD_OK)) == VFY_PWD_OK
        port.write(codec.command(Instruction.TEMPLATE_NUM))
        assert port.read(len(TEMPLATE_NUM_OK)) == TEMPLATE_NUM_OK
        client.settimeout(0.1)
        with pytest.raises(TimeoutError):
            client.recv(64)  # the pty's reply did not go to TCP as well
        assert port.in_waiting == 0


def test_unplug_closes_the_client_and_refuses_new_ones_until_plugged(sim: SimProcess) -> None:
    with connect(sim) as client:
        client.sendall(VFY_PWD)
        assert receive(client, len(VFY_PWD_OK)) == VFY_PWD_OK
        sim.control.unplug()
        assert client.recv(64) == b""
    with connect(sim) as refused:
        assert refused.recv(64) == b""
    sim.control.plug()
    with connect(sim) as client:
        client.sendall(VFY_PWD)
        assert receive(client, len(VFY_PWD_OK)) == VFY_PWD_OK


@pytest.mark.parametrize("spec", ["0.0.0.0:0", "192.168.1.10:5000", "::1:0", ":5000", "example.com:80"])
def test_only_loopback_is_accepted(spec: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"only listens on 127\.0\.0\.1"):
        tcp_address(spec)
    result = CliRunner().invoke(sim_command, ["--control", str(tmp_path / "c.sock"), "--tcp", spec])
    assert result.exit_code == 2
    assert "refusing to listen" in result.output
    assert not (tmp_path / "c.sock").exists()


def test_the_server_itself_refuses_other_addresses(tmp_path: Path) -> None:
    device = SimulatedDevice("tcp-refusal", SimSettings(timing=False))
    with pytest.raises(ValueError, match=r"refusing to listen on '0\.0\.0\.0'"):
        PtyServer(device, tmp_path / "c.sock", tcp=("0.0.0.0", 0))
    assert not (tmp_path / "c.sock").exists()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("0", ("127.0.0.1", 0)), ("5000", ("127.0.0.1", 5000)), ("localhost:7", ("127.0.0.1", 7))],
)
def test_tcp_address_forms(spec: str, expected: tuple[str, int]) -> None:
    assert tcp_address(spec) == expected


@pytest.mark.parametrize("spec", ["abc", "127.0.0.1:", "70000"])
def test_malformed_tcp_addresses(spec: str) -> None:
    with pytest.raises(ValueError, match="TCP port"):
        tcp_address(spec)


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            sim_command, ["--control", str(tmp_path / "c.sock"), "--tcp", str(port), "--no-timing"]
        )
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert not (tmp_path / "c.sock").exists()


def test_without_tcp_nothing_changes(tmp_path: Path) -> None:
    with SimProcess(tmp_path / "control.sock", "--no-timing") as process:
        assert process.tcp is None
        assert "tcp" not in process.control.status()
