"""``livescan diag sensor``: find the port, check nothing else holds it, probe every baud rate and
the password, and name the likely cause in plain words.

What the line shows at each rate, after a VfyPwd command:

==================  =========================================================================
outcome             what it means
==================  =========================================================================
``silent``          no bytes at all: wiring (TX/RX crossed), no power, or a console on the port
``garbage``         bytes, but none starting with the EF 01 start code: a baud rate mismatch
``damaged``         the start code, then a bad checksum or a cut-short packet: adapter or cable
``wrong_password``  a well-formed answer 0x13: the module has a password other than the one given
``answered``        the module is there and unlocked
==================  =========================================================================

With the station daemon running the port is never opened here: the daemon's sensor worker is
asked instead (``station.diag.daemon``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import serial

from drivers import codec
from drivers.codec import DEFAULT_PASSWORD, Instruction, PacketParser, PacketType, Register
from drivers.errors import ChecksumError, PortError, PortInUse, ProtocolError, SensorError
from drivers.profiles import ModelProfile
from drivers.profiles import profile as profile_named
from drivers.sensor import Sensor, Timing
from drivers.transport import open_port
from station import sensor_tools
from station.diag.report import FAIL, OK, SKIP, WARN, Finding
from station.diag.system import (
    BOOT_CMDLINES,
    SystemRoot,
    boot_cmdline,
    candidate_ports,
    device_names,
    getty_units,
    port_holders,
    serial_consoles,
)

CHECK = "sensor"
SILENT, GARBAGE, DAMAGED, WRONG_PASSWORD, ANSWERED, NO_RATE = (
    "silent",
    "garbage",
    "damaged",
    "wrong_password",
    "answered",
    "unsupported_rate",
)
_RANK = {ANSWERED: 5, WRONG_PASSWORD: 4, DAMAGED: 3, GARBAGE: 2, SILENT: 1, NO_RATE: 0}
WRONG_PASSWORD_CODE = 0x13
#: Passwords worth trying when the configured one is refused: the factory default and the one an
#: Arduino example sketch leaves behind (reference section 8.2).
KNOWN_PASSWORDS = {
    DEFAULT_PASSWORD: "the factory default 0",
    0x12345678: "0x12345678 (left by an example sketch)",
}
DEFAULT_WINDOW_S = 0.3
DEFAULT_TIMING = Timing()
NETWORK_SCHEMES = ("socket://", "rfc2217://")

CAUSES = {
    SILENT: (
        "no bytes at all at any baud rate",
        "check the wiring (module TX to GPIO 15/RXD pin 10, RX to GPIO 14/TXD pin 8, GND to GND), "
        "the module's power (5 V for an R307, 3.3 V for an R503) and that no serial console or getty "
        "uses the port",
    ),
    GARBAGE: (
        "bytes arrive but with a bad start code (never EF 01): a baud rate mismatch",
        "the module talks at a baud rate this port did not match; on a Pi 3/4 the mini-UART's rate "
        "drifts with the core clock (use the PL011: dtoverlay=disable-bt); also check for a console "
        "writing to the line",
    ),
    DAMAGED: (
        "packets arrive with bad checksums (or cut short): the adapter or cable corrupts bytes",
        "try another USB-serial adapter or a shorter cable, check the ground wire, and lower "
        "sensor.max_baud (e.g. 57600)",
    ),
    WRONG_PASSWORD: (
        "wrong password: the module answers but refuses the password",
        "set sensor.password to the module's password; without it the module cannot be used "
        "(there is no documented reset)",
    ),
}


@dataclass(frozen=True)
class Attempt:
    """What one baud rate showed: the outcome, bytes received, a detail for the technician."""

    baudrate: int
    outcome: str
    received: int = 0
    detail: str = ""
    address: int | None = None


@dataclass
class ProbeResult:
    url: str
    attempts: list[Attempt] = field(default_factory=list)
    password: int | None = None  # the password that unlocked the module
    password_label: str = ""  # how to name it without showing it

    @property
    def best(self) -> Attempt | None:
        return max(self.attempts, key=lambda a: _RANK[a.outcome], default=None)

    @property
    def found(self) -> Attempt | None:
        best = self.best
        return best if best is not None and best.outcome in (ANSWERED, WRONG_PASSWORD) else None


def candidate_rates(url: str, profile: ModelProfile, first: int) -> list[int]:
    """``first``, the factory default 57600, then every 9600 x N the model allows (one rate on a
    network port, where the serial server sets the line rate)."""
    if url.startswith(NETWORK_SCHEMES):
        return [first]
    rates = [first, 57600] + [codec.BAUD_UNIT * n for n in (12, 1, 2, 4, *profile.baud_multipliers)]
    return [rate for rate in dict.fromkeys(rates) if rate // codec.BAUD_UNIT in profile.baud_multipliers]


def listen(
    port: serial.SerialBase,
    baudrate: int,
    password: int,
    window: float,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> Attempt:
    """Send VfyPwd(``password``) at ``baudrate`` and sort what comes back within ``window`` seconds."""
    try:
        port.baudrate = baudrate
    except (ValueError, serial.SerialException):
        return Attempt(baudrate, NO_RATE, detail="this port cannot be set to the rate")
    port.reset_input_buffer()
    port.write(codec.command(Instruction.VFY_PWD, password.to_bytes(4, "big")))
    parser = PacketParser(address=None)
    received = damaged = 0
    deadline = clock() + window
    for _ in range(10_000):
        remaining = deadline - clock()
        if remaining <= 0:
            break
        port.timeout = min(0.05, remaining)
        chunk = port.read(max(1, port.in_waiting))
        received += len(chunk)
        parser.feed(chunk)
        while True:
            try:
                packet = parser.next_packet()
            except ChecksumError:
                damaged += 1
                continue
            except ProtocolError:
                damaged += 1
                continue
            if packet is None:
                break
            if packet.kind != PacketType.ACK or not packet.payload:
                damaged += 1
                continue
            code = packet.payload[0]
            outcome = WRONG_PASSWORD if code == WRONG_PASSWORD_CODE else ANSWERED
            detail = "" if code in (0, WRONG_PASSWORD_CODE) else f"confirmation code 0x{code:02X}"
            return Attempt(baudrate, outcome, received, detail, packet.address)
    if damaged or parser.buffered:
        detail = f"{damaged} damaged packet(s)" if damaged else "a packet was cut short"
        return Attempt(baudrate, DAMAGED, received, detail)
    if received and parser.skipped:
        return Attempt(baudrate, GARBAGE, received, f"{parser.skipped} byte(s) without a start code")
    detail = f"only {parser.power_up_bytes} power-up byte(s) 0x55" if parser.power_up_bytes else ""
    return Attempt(baudrate, SILENT, received, detail)


def probe(
    url: str,
    *,
    profile: ModelProfile,
    first_baud: int = 57600,
    password: int = DEFAULT_PASSWORD,
    candidates: Sequence[int] = (),
    window: float = DEFAULT_WINDOW_S,
) -> ProbeResult:
    """Open ``url`` once (exclusively; ``PortError`` when that fails) and listen at every rate;
    when the module refuses ``password``, try ``candidates`` and the known passwords there."""
    result = ProbeResult(url)
    port = open_port(url, first_baud)
    try:
        for rate in candidate_rates(url, profile, first_baud):
            attempt = listen(port, rate, password, window)
            result.attempts.append(attempt)
            if attempt.outcome == ANSWERED:
                result.password, result.password_label = password, "the configured password"
                break
            if attempt.outcome == WRONG_PASSWORD:
                _try_passwords(port, result, rate, password, candidates, window)
                break
    finally:
        port.close()
    return result


def _try_passwords(
    port: serial.SerialBase,
    result: ProbeResult,
    rate: int,
    refused: int,
    candidates: Sequence[int],
    window: float,
) -> None:
    labelled = [(value, f"candidate #{n}") for n, value in enumerate(candidates, 1)]
    labelled += list(KNOWN_PASSWORDS.items())
    for value, label in labelled:
        if value == refused:
            continue
        if listen(port, rate, value, window).outcome == ANSWERED:
            result.password, result.password_label = value, label
            return


# --- findings -------------------------------------------------------------------------------


def diagnose(result: ProbeResult, configured_baud: int) -> Finding:
    """The probe's verdict in plain words."""
    best = result.best
    rates = [a.baudrate for a in result.attempts if a.outcome != NO_RATE]
    data: dict[str, Any] = {
        "url": result.url,
        "rates_tried": ", ".join(map(str, rates)),
        "attempts": [a.__dict__ for a in result.attempts],
    }
    if best is None:
        return Finding(CHECK, "probe", FAIL, f"{result.url}: no baud rate could be set", data=data)
    if best.outcome in (ANSWERED, WRONG_PASSWORD) and result.password is not None:
        data["baudrate"] = best.baudrate
        notes = []
        if result.password_label != "the configured password":
            notes.append(
                f"the configured password is wrong; {result.password_label} works: set sensor.password"
            )
        if best.baudrate != configured_baud:
            notes.append(
                f"the module answers at {best.baudrate} baud, not at sensor.baud = {configured_baud} "
                f"(an earlier baud change); set sensor.baud = {best.baudrate}"
            )
        summary = f"the module answers on {result.url} at {best.baudrate} baud"
        return Finding(CHECK, "probe", WARN if notes else OK, summary, "; ".join(notes), data)
    cause, advice = CAUSES[best.outcome]
    if best.outcome == WRONG_PASSWORD:
        cause = f"{cause} (at {best.baudrate} baud)"
    elif best.outcome in (GARBAGE, DAMAGED):
        seen = ", ".join(str(a.baudrate) for a in result.attempts if a.outcome == best.outcome)
        cause = f"{cause} (seen at {seen} baud)"
    return Finding(CHECK, "probe", FAIL, f"{result.url}: {cause}", advice, data)


def console_findings(host: SystemRoot, device: str) -> list[Finding]:
    """Serial consoles on the kernel command line, getty units and processes holding ``device``."""
    findings = []
    names = device_names(host, device)
    running = serial_consoles(host.read("/proc/cmdline") or "")
    on_port = sorted(name for name in running if name in names or host.resolve(f"/dev/{name}") == device)
    next_boot = boot_cmdline(host)
    if on_port:
        pending = next_boot is not None and not (set(serial_consoles(next_boot[1])) & set(on_port))
        advice = (
            f"already removed from {next_boot[0]}: reboot"
            if pending and next_boot
            else "remove console=serial0,115200 from the kernel command line "
            f"({next_boot[0] if next_boot else BOOT_CMDLINES[0]}; install.sh --system does it) and reboot"
        )
        findings.append(
            Finding(
                CHECK,
                "console",
                FAIL,
                f"the kernel's serial console is on {device} ({', '.join(on_port)})",
                advice,
                {"device": device, "consoles": on_port},
            )
        )
    else:
        findings.append(Finding(CHECK, "console", OK, f"no serial console on {device}"))
    units = getty_units(host, device)
    holders = port_holders(host, device)
    if units or holders:
        who = ", ".join(f"PID {h.pid} ({h.name})" for h in holders)
        parts = ([f"held by {who}"] if holders else []) + ([f"enabled: {', '.join(units)}"] if units else [])
        disable = " ".join(f"systemctl disable --now {unit};" for unit in units)
        advice = (disable + " " if disable else "") + "stop the program holding the port"
        findings.append(
            Finding(
                CHECK,
                "holders",
                FAIL,
                f"{device} is in use: {'; '.join(parts)}",
                advice.strip(),
                {"pids": [h.pid for h in holders], "units": units},
            )
        )
    else:
        findings.append(Finding(CHECK, "holders", OK, f"no getty or other process holds {device}"))
    return findings


def module_finding(url: str, profile: ModelProfile, baudrate: int, password: int, timing: Timing) -> Finding:
    """Open the module where the probe found it and show its model profile and parameters."""
    try:
        with Sensor.open(
            url, profile=profile, baudrate=baudrate, password=password, negotiate=False, timing=timing
        ) as found:
            info = sensor_tools.describe(found)
    except SensorError as exc:
        return Finding(CHECK, "module", FAIL, f"the module answered the probe but not what followed: {exc}")
    info |= {
        "image": f"{profile.image_width}x{profile.image_height}",
        "template_size": profile.template_size,
        "upload_line_limit_s": round(_line_limit(profile, baudrate, info["packet_size"]), 2),
    }
    status, advice = OK, ""
    if info["capacity"] != profile.capacity:
        status = WARN
        advice = (
            f"the module reports capacity {info['capacity']}, the {profile.name} profile {profile.capacity}: "
            "check sensor.model"
        )
    summary = (
        f"{profile.name}: capacity {info['capacity']}, {info['templates_stored']} template(s) stored, "
        f"{info['packet_size']}-byte packets, security level {info['security_level']}"
    )
    return Finding(CHECK, "module", status, summary, advice, info)


def _line_limit(profile: ModelProfile, baudrate: int, packet_size: int) -> float:
    data = profile.image_bytes
    frame = codec.HEADER_SIZE + codec.CHECKSUM_SIZE
    return codec.wire_seconds(data + -(-data // packet_size) * frame + 2 * (frame + 1), baudrate)


def check_sensor(
    host: SystemRoot,
    *,
    url: str,
    model: str,
    baudrate: int = 57600,
    password: int = DEFAULT_PASSWORD,
    candidates: Sequence[int] = (),
    window: float = DEFAULT_WINDOW_S,
    timing: Timing = DEFAULT_TIMING,
) -> list[Finding]:
    """The whole sensor check without a daemon: platform, candidates, consoles, probe, module."""
    profile = profile_named(model)
    search = candidate_ports(host, url)
    findings = [
        Finding(
            CHECK,
            "platform",
            OK,
            search.model or "not a Raspberry Pi (no /proc/device-tree/model)",
            data={"excluded": search.excluded, "candidates": [c.__dict__ for c in search.candidates]},
        )
    ]
    findings += [Finding(CHECK, "excluded", OK, sentence) for sentence in search.excluded]
    results: list[ProbeResult] = []
    for candidate in search.candidates:
        if candidate.device is not None:
            findings += console_findings(host, candidate.device)
        try:
            result = probe(
                candidate.url,
                profile=profile,
                first_baud=baudrate,
                password=password,
                candidates=candidates,
                window=window,
            )
        except PortError as exc:
            findings.append(_port_finding(candidate.url, candidate.why, exc))
            continue
        results.append(result)
        findings.append(diagnose(result, baudrate))
        if result.found is not None:
            break
    found = next((r for r in results if r.found is not None and r.password is not None), None)
    if found is None:
        return findings
    if found.url != url:
        findings.append(
            Finding(
                CHECK,
                "location",
                WARN,
                f"the module is at {found.url}, not at the configured {url}",
                f'set sensor.url = "{found.url}"',
            )
        )
    assert found.found is not None and found.password is not None
    findings.append(module_finding(found.url, profile, found.found.baudrate, found.password, timing))
    return findings


def _port_finding(url: str, why: str, exc: PortError) -> Finding:
    if isinstance(exc, PortInUse):
        return Finding(CHECK, "open", FAIL, f"{url} ({why}): {exc.message}", exc.hint, {"pid": exc.pid})
    return Finding(CHECK, "open", FAIL, f"{url} ({why}): {exc.message}", exc.hint)


def daemon_findings(answer: dict[str, Any]) -> list[Finding]:
    """The daemon's view of its sensor (``GET /api/diag/sensor``) as findings."""
    status = answer.get("status") or {}
    module = answer.get("module")
    state = status.get("state", "unknown")
    data = {key: value for key, value in status.items() if not isinstance(value, dict)}
    if state in ("ready", "busy"):
        finding = Finding(
            CHECK,
            "daemon",
            OK,
            f"the station daemon's sensor is {state}: {status.get('message', '')}",
            data=data,
        )
    else:
        finding = Finding(
            CHECK,
            "daemon",
            FAIL,
            f"the station daemon's sensor is {state}: {status.get('message', '')}",
            "stop the daemon (systemctl stop livescan-station), then `livescan diag sensor` probes fully",
            data,
        )
    findings = [finding]
    if module:
        summary = (
            f"{module.get('model')}: capacity {module.get('capacity')}, {module.get('templates_stored')} "
            f"template(s) stored, {module.get('packet_size')}-byte packets, security level "
            f"{module.get('security_level')}"
        )
        findings.append(Finding(CHECK, "module", OK, summary, data=module))
    elif answer.get("module_error"):
        findings.append(Finding(CHECK, "module", SKIP, str(answer["module_error"])))
    return findings


# --- changes to the module ------------------------------------------------------------------

CHANGE_WARNING = (
    "The module writes this to its flash. Many modules apply it only after a power cycle, some at "
    "once, some never; a wrong baud rate or a forgotten password can make the module unreachable."
)


def set_baud(sensor: Sensor, rate: int) -> str:
    """Store ``rate`` (9600 x N) in the module; what to do next, in words."""
    if rate % codec.BAUD_UNIT or rate // codec.BAUD_UNIT not in sensor.profile.baud_multipliers:
        raise ValueError(
            f"{rate} is not a rate the {sensor.profile.name} takes; use 9600 x N for N in "
            f"{', '.join(map(str, sensor.profile.baud_multipliers))}"
        )
    sensor.set_sys_para(Register.BAUD, rate // codec.BAUD_UNIT)
    return (
        f"stored {rate} baud; power-cycle the module, then set sensor.baud = {rate} "
        "(`livescan diag sensor` probes every rate if it is not found)"
    )


def set_password(sensor: Sensor, password: int) -> str:
    if not 0 <= password <= 0xFFFFFFFF:
        raise ValueError("a module password is 0 to 0xFFFFFFFF")
    sensor.set_password(password)
    return "password changed; set sensor.password to it now - a forgotten password makes the module unusable"


def clear_library(sensor: Sensor) -> str:
    before = sensor.template_num()
    sensor.empty()
    return f"library emptied ({before} template(s) deleted)"
