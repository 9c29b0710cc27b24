"""A simulated device: module, line, finger source and the controls a test or technician uses.

Devices live in a process-wide registry by name, like hardware that stays plugged in when a
program closes its port. ``SimulatedDevice`` and ``SimControl`` (the control-socket client) have
the same control methods: ``finger``, ``fault``, ``unplug``, ``plug``, ``power_cycle``, ``status``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from PIL import Image

from drivers.codec import PACKET_SIZES
from drivers.profiles import profile as model_profile
from hw_sim.fingers import FingerSource, ImageFolderSource, SyntheticSource
from hw_sim.flash import Flash
from hw_sim.line import FAULT_KINDS, Line
from hw_sim.module import PARAMETER_CHANGES, ParameterChange, SimulatedModule

#: Faults that act on the device at once rather than on the next replies.
DEVICE_FAULTS = ("unplug", "disconnect", "plug", "power_cycle")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _boolean(name: str, text: str) -> bool:
    if text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    raise ValueError(f"{name} must be 0/1 or true/false, not {text!r}")


@dataclass(frozen=True)
class SimSettings:
    """How a simulated device is built (the ``sim://`` query parameters and the CLI options)."""

    model: str = "r307"
    timing: bool = True
    seed: int = 0
    flash: str | None = None
    fingers: str = "builtin"
    baud_change: ParameterChange = "next_boot"
    packet_change: ParameterChange = "next_boot"
    password: int = 0
    power_up_byte: bool | None = None
    convert_clears_image: bool | None = None  # None: as the model's profile says
    latency_scale: float = 1.0  # x the manual's instruction latencies (0: instant module, wire only)

    def __post_init__(self) -> None:
        model_profile(self.model)
        if not 0 <= self.latency_scale <= 10:
            raise ValueError(
                f"latency_scale must be 0..10 (1 = the manual's latencies), not {self.latency_scale}"
            )
        for name in ("baud_change", "packet_change"):
            if getattr(self, name) not in PARAMETER_CHANGES:
                raise ValueError(f"{name} must be one of {', '.join(PARAMETER_CHANGES)}")
        if not 0 <= self.password <= 0xFFFFFFFF:
            raise ValueError(f"password must fit 32 bits, not {self.password}")

    @classmethod
    def from_query(cls, query: dict[str, str]) -> SimSettings:
        """Settings from URL query values (numbers in decimal or 0x hex, booleans 0/1/true/false)."""
        known = {f.name for f in fields(cls)}
        unknown = set(query) - known
        if unknown:
            raise ValueError(
                f"unknown sim:// parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = dict(query)
        for name in ("seed", "password"):
            if name in values:
                values[name] = int(values[name], 0)
        for name in ("timing", "power_up_byte", "convert_clears_image"):
            if name in values:
                values[name] = _boolean(name, values[name])
        if "latency_scale" in values:
            try:
                values["latency_scale"] = float(values["latency_scale"])
            except ValueError:
                raise ValueError(f"latency_scale must be a number, not {values['latency_scale']!r}") from None
        return cls(**values)


def finger_source(spec: str, width: int, height: int) -> FingerSource:
    """``builtin`` (or ``synthetic:SEED``) for the synthetic population, otherwise a folder of images."""
    if spec == "builtin":
        return SyntheticSource(width, height)
    if spec.startswith("synthetic:"):
        return SyntheticSource(width, height, seed=int(spec.removeprefix("synthetic:")))
    return ImageFolderSource(spec, width, height)


class SimulatedDevice:
    """One simulated module on its line, with the controls of the simulation around it.

    ``condition`` guards everything; port readers wait on it and are woken by every change.
    """

    def __init__(
        self, name: str, settings: SimSettings | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.settings = settings or SimSettings()
        profile = model_profile(self.settings.model)
        flash = Flash.open(self.settings.flash, profile.capacity, password=self.settings.password)
        self.module = SimulatedModule(
            profile,
            flash=flash,
            seed=self.settings.seed,
            baud_change=self.settings.baud_change,
            packet_change=self.settings.packet_change,
            power_up_byte=self.settings.power_up_byte,
            convert_clears_image=self.settings.convert_clears_image,
        )
        self.line = Line(
            self.module,
            timing=self.settings.timing,
            latency_scale=self.settings.latency_scale,
            clock=clock,
            seed=self.settings.seed,
        )
        self.source = finger_source(self.settings.fingers, profile.image_width, profile.image_height)
        self.rng = np.random.default_rng(self.settings.seed)
        self.condition = threading.Condition()
        self.opened_by: int | None = None
        self.plug_generation = 0
        self.placed: dict[str, Any] | None = None

    # --- controls -----------------------------------------------------------------------------

    def finger(
        self, on: bool = True, subject: str | None = None, finger: int = 1, image: str | None = None
    ) -> dict[str, Any]:
        """Place a new impression of ``subject``'s ``finger`` (or the picture at ``image``), or lift it."""
        with self.condition:
            if not on:
                self.module.lift_finger()
                self.placed = None
            elif image is not None:
                self.module.place_finger(np.asarray(Image.open(image).convert("L")))
                self.placed = {"image": str(image)}
            else:
                subject = subject or self.source.subjects()[0]
                self.module.place_finger(self.source.impression(subject, finger, self.rng))
                self.placed = {"subject": subject, "finger": finger}
            self.condition.notify_all()
            return {"finger": self.placed}

    def fault(self, kind: str, count: int = 1) -> dict[str, Any]:
        """Inject ``kind`` into the next ``count`` replies, or act at once for unplug/plug/power_cycle."""
        actions = {
            "unplug": self.unplug,
            "disconnect": self.unplug,
            "plug": self.plug,
            "power_cycle": self.power_cycle,
        }
        if kind in actions:
            return actions[kind]()
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS + DEVICE_FAULTS)}")
        with self.condition:
            self.line.inject(kind, count)
            return {"faults": dict(self.line.faults)}

    def unplug(self) -> dict[str, Any]:
        with self.condition:
            if self.line.plugged:
                self.line.unplug()
                self.plug_generation += 1
            self.condition.notify_all()
            return {"plugged": False}

    def plug(self) -> dict[str, Any]:
        with self.condition:
            if not self.line.plugged:
                self.line.plug()
            self.condition.notify_all()
            return {"plugged": True}

    def power_cycle(self) -> dict[str, Any]:
        with self.condition:
            self.line.power_cycle()
            self.condition.notify_all()
            return {"power_cycled": True}

    def status(self) -> dict[str, Any]:
        with self.condition:
            module, flash = self.module, self.module.flash
            return {
                "name": self.name,
                "model": module.profile.name,
                "plugged": self.line.plugged,
                "open_by": self.opened_by,
                "finger": self.placed,
                "faults": dict(self.line.faults),
                "params": {
                    "address": flash.address,
                    "security_level": flash.security_level,
                    "capacity": flash.capacity,
                    "baud": module.active_baud,
                    "stored_baud": flash.baud_multiplier * 9600,
                    "packet_size": module.active_packet_size,
                    "stored_packet_size": PACKET_SIZES[flash.packet_size_code],
                    "password_set": flash.password != 0,
                    "password_verified": module.password_verified,
                    "status_register": module.status_register,
                },
                "templates": len(flash.library),
                "led": asdict(module.led),
                "host_baud": self.line.host_baud,
                "counters": asdict(self.line.counters) | {"commands": module.commands_executed},
            }


_registry: dict[str, SimulatedDevice] = {}
_registry_lock = threading.Lock()


def device(name: str) -> SimulatedDevice:
    """The simulated device called ``name`` (created by the first ``sim://name`` open)."""
    with _registry_lock:
        try:
            return _registry[name]
        except KeyError:
            raise KeyError(f"no simulated device {name!r}; open sim://{name} first") from None


def get_or_create_device(name: str, settings: SimSettings) -> SimulatedDevice:
    """The device ``name``, created with ``settings`` if it does not exist yet (else they are ignored)."""
    with _registry_lock:
        if name not in _registry:
            _registry[name] = SimulatedDevice(name, settings)
        return _registry[name]


def remove_device(name: str) -> None:
    """Forget a device, as if it were thrown away (its flash file stays)."""
    with _registry_lock:
        _registry.pop(name, None)
