from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import serial

from drivers import codec
from drivers.codec import DEFAULT_ADDRESS, Packet, PacketParser
from drivers.profiles import R307
from hw_sim.fingers import SyntheticSource
from hw_sim.module import Reply, SimulatedModule

if "hw_sim.urlhandler" not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append("hw_sim.urlhandler")


def packets_of(replies: list[Reply]) -> list[Packet]:
    parser = PacketParser(address=None)
    for reply in replies:
        parser.feed(reply.data)
    packets = []
    while (packet := parser.next_packet()) is not None:
        packets.append(packet)
    return packets


Ask = Callable[..., list[Packet]]


@pytest.fixture
def module() -> SimulatedModule:
    return SimulatedModule(R307, seed=1)


@pytest.fixture
def ask(module: SimulatedModule) -> Ask:
    """Send one command to ``module``; the packets it answers with."""

    def send(instruction: int, params: bytes = b"", address: int = DEFAULT_ADDRESS) -> list[Packet]:
        return packets_of(module.receive(codec.command(instruction, params, address)))

    return send


@pytest.fixture(scope="session")
def fingers() -> SyntheticSource:
    return SyntheticSource(R307.image_width, R307.image_height)


@pytest.fixture
def place(module: SimulatedModule, fingers: SyntheticSource) -> Callable[..., None]:
    """Put a new impression of (subject, finger) on the module's glass."""
    rng = np.random.default_rng(42)

    def put(subject: str = "S0001", finger: int = 1) -> None:
        module.place_finger(fingers.impression(subject, finger, rng))

    return put


@pytest.fixture
def unpack() -> Callable[[list[Reply]], list[Packet]]:
    """Decode a module's replies into packets."""
    return packets_of
