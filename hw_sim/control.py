"""The control channel: JSON lines over a unix socket, one request and one response per line.

Requests: ``{"cmd": "finger", "on": true, "subject": "S0001", "finger": 3}``,
``{"cmd": "finger", "on": false}``, ``{"cmd": "fault", "kind": "corrupt", "count": 1}``,
``{"cmd": "unplug"}``, ``{"cmd": "plug"}``, ``{"cmd": "power_cycle"}``, ``{"cmd": "status"}``,
``{"cmd": "shutdown"}``. Responses: ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from hw_sim.devices import SimulatedDevice

DEVICE_COMMANDS = ("finger", "fault", "unplug", "plug", "power_cycle", "status")


class ControlError(Exception):
    """The simulator refused a control request."""


def dispatch(device: SimulatedDevice, request: dict[str, Any]) -> dict[str, Any]:
    """Run one device control request; errors become ``{"ok": false}`` responses."""
    arguments = dict(request)
    command = arguments.pop("cmd", None)
    if command not in DEVICE_COMMANDS:
        return {"ok": False, "error": f"unknown command {command!r}; known: {', '.join(DEVICE_COMMANDS)}"}
    try:
        return {"ok": True} | getattr(device, command)(**arguments)
    except (TypeError, ValueError, OSError) as error:
        return {"ok": False, "error": str(error)}


class SimControl:
    """Client of a running ``livescan sim``: the same control methods as ``SimulatedDevice``."""

    def __init__(self, socket_path: str | Path, *, timeout: float = 10.0) -> None:
        self.socket_path = str(socket_path)
        self.timeout = timeout

    def request(self, cmd: str, **arguments: Any) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(self.timeout)
            connection.connect(self.socket_path)
            connection.sendall(json.dumps({"cmd": cmd, **arguments}).encode() + b"\n")
            reply = bytearray()
            while not reply.endswith(b"\n"):
                chunk = connection.recv(65536)
                if not chunk:
                    raise ControlError(f"simulator closed the control connection during {cmd!r}")
                reply += chunk
        response = json.loads(reply)
        if not response.pop("ok", False):
            raise ControlError(response.get("error", "request failed"))
        return response

    def finger(
        self, on: bool = True, subject: str | None = None, finger: int = 1, image: str | None = None
    ) -> dict[str, Any]:
        return self.request("finger", on=on, subject=subject, finger=finger, image=image)

    def fault(self, kind: str, count: int = 1) -> dict[str, Any]:
        return self.request("fault", kind=kind, count=count)

    def unplug(self) -> dict[str, Any]:
        return self.request("unplug")

    def plug(self) -> dict[str, Any]:
        return self.request("plug")

    def power_cycle(self) -> dict[str, Any]:
        return self.request("power_cycle")

    def status(self) -> dict[str, Any]:
        return self.request("status")

    def shutdown(self) -> dict[str, Any]:
        return self.request("shutdown")
