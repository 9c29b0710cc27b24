"""The simulated R307 fingerprint module: emulator, pyserial ``sim://`` handler, pty server, controls."""

from hw_sim.devices import SimSettings, SimulatedDevice, device, get_or_create_device, remove_device

__all__ = ["SimSettings", "SimulatedDevice", "device", "get_or_create_device", "remove_device"]
