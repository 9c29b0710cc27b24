"""The station's configuration: one TOML file (``config/station.toml`` documents every key).

    config = load_config(Path("/etc/livescan/station.toml"))   # ConfigError lists every problem
    config.sensor.url, config.kiosk.port, config.storage.outbox ...

Every key has a default, so a file need only hold what differs. Unknown sections and keys, wrong
types and values out of range are refused all at once, each problem as ``section.key``, what was
found and what is allowed, and the file named. Relative paths: in ``[storage]``, relative to
``storage.data_dir``; elsewhere (and ``data_dir`` itself), relative to the config file's folder.
``config.digest()`` identifies a configuration (for the audit log's "configuration changed");
``as_dict()`` hides the sensor password.

The keys the capture workflow uses (``sensor.poll_interval_s``, ``sensor.finger_timeout_s``,
``capture.quality_threshold``, ``capture.max_attempts_before_up_hint``) are checked by
the limits of ``station.capture_settings``, the table ``CaptureSettings`` checks itself against,
so a file is refused exactly when the workflow would refuse the value.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import re
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers import PROFILES
from station.capture_settings import LIMITS

Check = Callable[[Any], bool]
_CODE = re.compile(r"[A-Z0-9]+")
_BAUDS = tuple(9600 * n for n in range(1, 13))
PIN_FACTORIES = ("", "lgpio", "rpigpio", "pigpio", "native", "mock")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
GPIO_PINS = tuple(pin for pin in range(2, 28) if pin not in (14, 15))  # BCM; 14/15 are the UART
SECRETS = frozenset({"sensor.password"})


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` are ``(dotted key, message)`` pairs, all of them."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"  {key}: {message}" if key else f"  {message}" for key, message in problems]
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{source}: {count}; fix the file and start again:\n" + "\n".join(lines))


def _meta(allowed: str, check: Check | None = None) -> dict[str, Any]:
    return {"allowed": allowed, "check": check}


def _key(default: Any, allowed: str, check: Check | None = None) -> Any:
    return field(default=default, metadata=_meta(allowed, check))


def _code(low: int, high: int) -> Check:
    return lambda value: low <= len(value) <= high and bool(_CODE.fullmatch(value))


def _between(low: float, high: float) -> Check:
    return lambda value: low <= value <= high


def _one_of(choices: tuple[Any, ...]) -> Check:
    return lambda value: value in choices


def _capture_key(default: Any, name: str) -> Any:
    """A key whose value becomes ``CaptureSettings.<name>``, with that setting's limits."""
    limit = LIMITS[name]
    return field(default=default, metadata={**_meta(limit.allowed, limit.admits), "capture": name})


def _pin(value: int) -> bool:
    return value == 0 or value in GPIO_PINS


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _nonempty(value: str) -> bool:
    return bool(value.strip())


_PIN_ALLOWED = "0 (not wired) or a BCM GPIO number 2-27 other than 14 and 15 (the UART)"


@dataclass(frozen=True)
class StationSection:
    ori: str = _key("NY0303000", "9 capital letters or digits (the agency's NCIC ORI)", _code(9, 9))
    station_id: str = _key("K01", "2-4 capital letters or digits, unique in the agency", _code(2, 4))
    destination: str = _key("NYCENTRE0", "9 capital letters or digits (the centre's ORI)", _code(9, 9))
    name: str = _key("", "up to 40 characters shown on the kiosk", lambda value: len(value) <= 40)


@dataclass(frozen=True)
class SensorSection:
    url: str = _key(
        "/dev/livescan-sensor", "a serial device or pyserial URL (sim://, socket://, spy://)", _nonempty
    )
    model: str = _key("r307", ", ".join(sorted(PROFILES)), _one_of(tuple(PROFILES)))
    baud: int = _key(57600, "9600 x N for N = 1..12 (9600-115200)", _one_of(_BAUDS))
    max_baud: int = _key(115200, "9600 x N for N = 1..12, not below sensor.baud", _one_of(_BAUDS))
    negotiate: bool = _key(True, "true or false")
    password: int = _key(0, "0 to 0xFFFFFFFF (the module's 32-bit password)", _between(0, 0xFFFFFFFF))
    poll_interval_s: float = _capture_key(0.1, "poll_interval_s")
    finger_timeout_s: float = _capture_key(60.0, "finger_timeout_s")


@dataclass(frozen=True)
class CaptureSection:
    quality_threshold: int = _capture_key(30, "quality_threshold")
    auto_advance: bool = _key(True, "true or false")
    max_attempts_before_up_hint: int = _capture_key(3, "max_attempts_before_up_hint")


@dataclass(frozen=True)
class GpioSection:
    enabled: bool = _key(False, "true or false")
    pin_factory: str = _key(
        "", "one of: " + ", ".join(repr(f) for f in PIN_FACTORIES), _one_of(PIN_FACTORIES)
    )
    led_ready: int = _key(17, _PIN_ALLOWED, _pin)
    led_busy: int = _key(27, _PIN_ALLOWED, _pin)
    led_good: int = _key(22, _PIN_ALLOWED, _pin)
    led_error: int = _key(23, _PIN_ALLOWED, _pin)
    buzzer: int = _key(24, _PIN_ALLOWED, _pin)
    touch: int = _key(25, _PIN_ALLOWED, _pin)
    touch_active_low: bool = _key(True, "true or false")

    def pins(self) -> dict[str, int]:
        """The wired outputs and input by name (``led_ready`` ... ``touch``); 0 = not wired."""
        return {name: getattr(self, name) for name in _GPIO_PINS}


_GPIO_PINS = ("led_ready", "led_busy", "led_good", "led_error", "buzzer", "touch")


@dataclass(frozen=True)
class StorageSection:
    data_dir: Path = field(
        default=Path("/var/lib/livescan"), metadata=_meta("a folder path (created 0700 if missing)")
    )
    outbox: Path = field(default=Path("/var/lib/livescan/outbox.db"), metadata=_meta("a file path"))
    key_file: Path = field(
        default=Path("/etc/livescan/outbox.key"), metadata=_meta("a file path (mode 0600)")
    )
    operators: Path = field(default=Path("/var/lib/livescan/operators.json"), metadata=_meta("a file path"))


@dataclass(frozen=True)
class CentreSection:
    url: str = _key(
        "https://centre.example:8443", "an https:// URL", lambda value: value.startswith("https://")
    )
    ca: Path = field(default=Path("/etc/livescan/pki/ca.pem"), metadata=_meta("a file path (PEM)"))
    cert: Path = field(default=Path("/etc/livescan/pki/station.pem"), metadata=_meta("a file path (PEM)"))
    key: Path = field(
        default=Path("/etc/livescan/pki/station.key"), metadata=_meta("a file path (PEM, mode 0600)")
    )
    connect_timeout_s: float = _key(5.0, "0.5 to 120 seconds", _between(0.5, 120.0))
    read_timeout_s: float = _key(30.0, "1 to 600 seconds", _between(1.0, 600.0))


@dataclass(frozen=True)
class KioskSection:
    host: str = _key("127.0.0.1", "a loopback address (127.0.0.1, ::1 or localhost)", _loopback)
    port: int = _key(8080, "0 (any free port) to 65535", _between(0, 65535))
    idle_lock_minutes: int = _key(30, "1 to 480", _between(1, 480))
    max_pin_failures: int = _key(5, "1 to 20", _between(1, 20))
    lockout_minutes: int = _key(15, "1 to 1440", _between(1, 1440))


@dataclass(frozen=True)
class RetentionSection:
    days: int = _key(30, "0 to 3650 (0: destroy payloads as soon as answered)", _between(0, 3650))


@dataclass(frozen=True)
class LoggingSection:
    level: str = _key("INFO", ", ".join(LOG_LEVELS), _one_of(LOG_LEVELS))


@dataclass(frozen=True)
class StationConfig:
    """The whole configuration, one frozen dataclass per TOML section."""

    station: StationSection = field(default_factory=StationSection)
    sensor: SensorSection = field(default_factory=SensorSection)
    capture: CaptureSection = field(default_factory=CaptureSection)
    gpio: GpioSection = field(default_factory=GpioSection)
    storage: StorageSection = field(default_factory=StorageSection)
    centre: CentreSection = field(default_factory=CentreSection)
    kiosk: KioskSection = field(default_factory=KioskSection)
    retention: RetentionSection = field(default_factory=RetentionSection)
    logging: LoggingSection = field(default_factory=LoggingSection)

    def as_dict(self, *, redact: bool = True) -> dict[str, dict[str, Any]]:
        """Sections of keys, TOML-like values (paths as text); the sensor password hidden."""
        document: dict[str, dict[str, Any]] = {}
        for section, values in _sections(self):
            document[section] = {}
            for name, value in values.items():
                if redact and f"{section}.{name}" in SECRETS:
                    value = "(set)" if value else "(default)"
                document[section][name] = str(value) if isinstance(value, Path) else value
        return document

    def digest(self) -> str:
        """SHA-256 of the whole configuration (password included), to tell when it changed."""
        encoded = json.dumps(self.as_dict(redact=False), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()

    def changed_keys(self, other: StationConfig) -> list[str]:
        """The dotted keys whose values differ (names only: values may be secret)."""
        mine, theirs = self.as_dict(redact=False), other.as_dict(redact=False)
        return [
            f"{section}.{name}"
            for section, values in mine.items()
            for name, value in values.items()
            if theirs[section][name] != value
        ]

    def updated(self, changes: Mapping[str, Any], *, source: str = "overrides") -> StationConfig:
        """A copy with ``{"section.key": value}`` changes, checked like a file (``ConfigError``)."""
        document = self.as_dict(redact=False)
        problems: list[tuple[str, str]] = []
        for dotted, value in changes.items():
            section, _, name = dotted.partition(".")
            if section not in document or name not in document[section]:
                problems.append((dotted, "unknown key"))
                continue
            document[section][name] = str(value) if isinstance(value, Path) else value
        try:
            updated = _build(document, source, Path.cwd())
        except ConfigError as exc:
            problems.extend(exc.problems)
        if problems:
            raise ConfigError(source, problems)
        return updated

    @classmethod
    def for_demo(
        cls,
        work: Path,
        *,
        sensor_url: str,
        centre_url: str,
        ca: Path,
        cert: Path,
        key: Path,
        port: int = 0,
        **changes: Any,
    ) -> StationConfig:
        """Everything under ``work``, GPIO off, the simulator and a local centre; more as
        ``section__key=value`` (e.g. ``capture__quality_threshold=20``)."""
        values = {
            "storage.data_dir": work,
            "storage.outbox": work / "outbox.db",
            "storage.key_file": work / "outbox.key",
            "storage.operators": work / "operators.json",
            "sensor.url": sensor_url,
            "centre.url": centre_url,
            "centre.ca": ca,
            "centre.cert": cert,
            "centre.key": key,
            "kiosk.port": port,
            **{name.replace("__", "."): value for name, value in changes.items()},
        }
        return cls().updated(values, source="demo settings")


SECTIONS: dict[str, type] = {
    item.name: typing.get_type_hints(StationConfig)[item.name] for item in dataclasses.fields(StationConfig)
}


def keys() -> list[str]:
    """Every dotted key, in file order (for documentation checks)."""
    return [
        f"{section}.{item.name}" for section, kind in SECTIONS.items() for item in dataclasses.fields(kind)
    ]


def load_config(path: Path) -> StationConfig:
    """Read and check ``path``; ``ConfigError`` naming the file and every problem in it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            str(path), [("", "no such file; copy config/station.toml there and edit it")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [("", f"cannot be read: {exc}")]) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [("", f"not valid TOML: {exc}")]) from None
    return _build(document, str(path), path.resolve().parent)


def _build(document: Mapping[str, Any], source: str, base: Path) -> StationConfig:
    problems: list[tuple[str, str]] = []
    sections: dict[str, Any] = {}
    for section in document:
        if section not in SECTIONS:
            problems.append(
                (section, f"unknown section [{section}]; the sections are: {', '.join(SECTIONS)}")
            )
    for section, kind in SECTIONS.items():
        raw = document.get(section, {})
        if not isinstance(raw, Mapping):
            problems.append((section, f"must be a table [{section}], got {type(raw).__name__}"))
            raw = {}
        sections[section] = _section(kind, section, raw, problems)
    config = StationConfig(**sections)
    config = _resolve_paths(config, base)
    _cross_checks(config, problems)
    if problems:
        raise ConfigError(source, problems)
    return config


def _section(kind: type, section: str, raw: Mapping[str, Any], problems: list[tuple[str, str]]) -> Any:
    hints = typing.get_type_hints(kind)
    names = [item.name for item in dataclasses.fields(kind)]
    for name in raw:
        if name not in names:
            problems.append(
                (f"{section}.{name}", f"unknown key; the keys of [{section}] are: {', '.join(names)}")
            )
    values: dict[str, Any] = {}
    for item in dataclasses.fields(kind):
        if item.name not in raw:
            continue
        dotted, value, expected = f"{section}.{item.name}", raw[item.name], hints[item.name]
        allowed = item.metadata["allowed"]
        converted = _convert(value, expected)
        if converted is None:
            problems.append((dotted, f"{_show(value)} is a {_toml_type(value)}; allowed: {allowed}"))
            continue
        check = item.metadata["check"]
        if check is not None and not check(converted):
            problems.append((dotted, f"{_show(value)} is not allowed; allowed: {allowed}"))
            continue
        values[item.name] = converted
    return kind(**values)


def _convert(value: Any, expected: type) -> Any:
    """``value`` as ``expected``, or None if TOML gave another type (an int will do for a float)."""
    if expected is bool:
        return value if isinstance(value, bool) else None
    if expected is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if expected is float:
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if expected is str:
        return value if isinstance(value, str) else None
    if expected is Path:
        return Path(value).expanduser() if isinstance(value, str) and value.strip() else None
    raise AssertionError(f"no conversion to {expected}")


def _resolve_paths(config: StationConfig, base: Path) -> StationConfig:
    data_dir = base / config.storage.data_dir
    storage = dataclasses.replace(
        config.storage,
        data_dir=data_dir,
        **{name: data_dir / getattr(config.storage, name) for name in ("outbox", "key_file", "operators")},
    )
    centre = dataclasses.replace(
        config.centre, **{name: base / getattr(config.centre, name) for name in ("ca", "cert", "key")}
    )
    return dataclasses.replace(config, storage=storage, centre=centre)


def _cross_checks(config: StationConfig, problems: list[tuple[str, str]]) -> None:
    if config.sensor.max_baud < config.sensor.baud:
        problems.append(
            ("sensor.max_baud", f"{config.sensor.max_baud} is below sensor.baud ({config.sensor.baud})")
        )
    if config.gpio.enabled:
        seen: dict[int, str] = {}
        for name, pin in config.gpio.pins().items():
            if pin and pin in seen:
                problems.append((f"gpio.{name}", f"GPIO {pin} is already gpio.{seen[pin]}; each pin once"))
            seen.setdefault(pin, name)


def _sections(config: StationConfig) -> list[tuple[str, dict[str, Any]]]:
    return [(section, dataclasses.asdict(getattr(config, section))) for section in SECTIONS]


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str | int | float | bool) else _toml_type(value)


def _toml_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", dict: "table", list: "array"}
    return names.get(type(value), type(value).__name__)
