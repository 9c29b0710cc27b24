"""The sensor demonstration: a simulated R307 on a pty, found, sped up and used like a real one."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from drivers import Sensor, Timing
from hw_sim.process import SimProcess
from station import sensor_tools

Say = Callable[[str], None]
Progress = Callable[[int, int], None]


def run_sensor_demo(
    out: Path,
    *,
    say: Say = print,
    progress: Callable[[int], Progress] | None = None,
    subject: str = "S0001",
    finger: int = 2,
    timing: bool = True,
) -> sensor_tools.Capture:
    """Start the simulator, probe and negotiate, power-cycle into the new settings, capture to PNG.

    ``progress(total)`` returns the per-packet upload callback, if the caller shows one.
    """
    with tempfile.TemporaryDirectory(prefix="livescan-demo-") as workdir:
        options = ["--flash", str(Path(workdir) / "flash.json")] + ([] if timing else ["--no-timing"])
        with SimProcess(Path(workdir) / "control.sock", *options) as sim:
            say(f"simulated R307 on {sim.device} ({'real' if timing else 'no'} UART timing)")
            with Sensor.open(sim.device, timing=Timing() if timing else Timing(settle=0.0)) as sensor:
                _report(sensor, say)
                if sensor.negotiation.pending_baudrate or sensor.negotiation.pending_packet_size:
                    say("the module applies the new settings at power-up: power-cycling it")
                    sim.control.power_cycle()
                    sensor.reconnect()
                    say(f"found again at {sensor.baudrate} baud, {sensor.packet_size}-byte packets")
                say(f"placing subject {subject}'s finger {finger} on the glass")
                sim.control.finger(True, subject, finger)
                sensor_tools.wait_for_finger(sensor, timeout=10)
                callback = progress(sensor.profile.image_bytes) if progress else None
                capture = sensor_tools.capture_image(sensor, callback)
    sensor_tools.save_png(capture.image, out)
    ratio = capture.upload_seconds / capture.line_limit_seconds
    say(
        f"saved {out}: {capture.image.shape[1]}x{capture.image.shape[0]} pixels; upload "
        f"{capture.upload_seconds:.2f} s, line limit {capture.line_limit_seconds:.2f} s (ratio {ratio:.3f})"
    )
    return capture


def _report(sensor: Sensor, say: Say) -> None:
    info = sensor_tools.describe(sensor)
    say(
        f"found {info['model']} at {info['baudrate']} baud: capacity {info['capacity']}, "
        f"security level {info['security_level']}, {info['packet_size']}-byte packets, "
        f"{info['templates_stored']} templates stored"
    )
    negotiation = sensor.negotiation
    say(f"baud rate change: {negotiation.baud_behaviour}; packet size change: {negotiation.packet_behaviour}")
