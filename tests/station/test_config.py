"""The station's TOML configuration: defaults, every problem reported at once, docs that cannot drift."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from station import config as config_module
from station.capture import CaptureSettings, InvalidCaptureSettings
from station.config import ConfigError, StationConfig, keys, load_config
from station.outbox_access import DEFAULT_DATABASE, DEFAULT_KEY_FILE

REPO = Path(__file__).resolve().parents[2]
DEFAULT_FILE = REPO / "config" / "station.toml"
README = REPO / "config" / "README.md"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_documented_default_file_loads_and_equals_the_defaults() -> None:
    loaded = load_config(DEFAULT_FILE)
    assert loaded == StationConfig()
    assert loaded.storage.outbox == DEFAULT_DATABASE and loaded.storage.key_file == DEFAULT_KEY_FILE
    assert loaded.kiosk.idle_lock_minutes == 30 and loaded.kiosk.max_pin_failures == 5


def test_every_key_is_in_the_default_file_with_a_comment() -> None:
    document = tomllib.loads(DEFAULT_FILE.read_text())
    in_file = [f"{section}.{name}" for section, values in document.items() for name in values]
    assert in_file == keys()  # every key, in the dataclasses' order, nothing else
    lines = DEFAULT_FILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^[a-z_]+ = ", line):
            assert lines[number - 1].startswith("#"), f"no comment above {line!r}"


def test_every_key_is_documented_in_the_readme_with_its_default() -> None:
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `([a-z_]+\.[a-z_]+)` \| `([^`]*)` \|", README.read_text(), re.M)
    }
    assert sorted(rows) == sorted(keys())
    document = tomllib.loads(DEFAULT_FILE.read_text())
    for dotted, shown in rows.items():
        section, name = dotted.split(".")
        assert tomllib.loads(f"v = {shown}")["v"] == document[section][name], dotted


def test_an_empty_file_gives_every_default_and_a_partial_one_only_changes_its_keys(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == StationConfig()
    loaded = load_config(
        write(tmp_path, '[sensor]\nurl = "sim://?seed=7"\nbaud = 115200\npassword = 0x1234ABCD\n')
    )
    assert (loaded.sensor.url, loaded.sensor.baud, loaded.sensor.password) == (
        "sim://?seed=7",
        115200,
        0x1234ABCD,
    )
    assert loaded.changed_keys(StationConfig()) == ["sensor.url", "sensor.baud", "sensor.password"]
    assert loaded.digest() != StationConfig().digest()
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.sensor.baud = 9600  # type: ignore[misc]


def test_every_problem_is_reported_at_once_with_file_key_and_allowed_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[sensor]
baud = 12345
model = "r999"
bud = 9600
finger_timeout_s = "60"

[kiosk]
host = "0.0.0.0"
idle_lock_minutes = true

[gpio]
enabled = true
touch = 17
led_busy = 14

[printer]
x = 1
""",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert error.source == str(path) and str(error).startswith(f"{path}: 9 problems")
    found = dict(error.problems)
    assert found["sensor.baud"] == "12345 is not allowed; allowed: 9600 x N for N = 1..12 (9600-115200)"
    assert "allowed: as608, r307, r503, zfm20" in found["sensor.model"]
    assert "unknown key; the keys of [sensor] are: url, model, baud" in found["sensor.bud"]
    assert found["sensor.finger_timeout_s"].startswith('"60" is a string; allowed: 1 to 3600 seconds')
    assert "loopback" in found["kiosk.host"]
    assert found["kiosk.idle_lock_minutes"].startswith("true is a boolean")
    assert found["gpio.touch"] == "GPIO 17 is already gpio.led_ready; each pin once"
    assert "other than 14 and 15" in found["gpio.led_busy"]
    assert "unknown section [printer]" in found["printer"]


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("[station]\nori = 'ny0303000'", "station.ori", "9 capital letters or digits"),
        ("[station]\nstation_id = 'K'", "station.station_id", "2-4 capital letters"),
        ("[sensor]\nbaud = 115200\nmax_baud = 57600", "sensor.max_baud", "below sensor.baud"),
        ("[sensor]\npassword = -1", "sensor.password", "0 to 0xFFFFFFFF"),
        ("[sensor]\npoll_interval_s = 0", "sensor.poll_interval_s", "0.01 to 5"),
        ("[sensor]\nfinger_timeout_s = 3601", "sensor.finger_timeout_s", "1 to 3600 seconds"),
        ("[capture]\nmax_attempts_before_up_hint = 0", "capture.max_attempts_before_up_hint", "1 to 20"),
        ("[capture]\nquality_threshold = 101", "capture.quality_threshold", "0 to 100"),
        ("[gpio]\npin_factory = 'wiringpi'", "gpio.pin_factory", "'lgpio'"),
        ("[storage]\noutbox = ''", "storage.outbox", "a file path"),
        ("[storage]\noutbox = 3", "storage.outbox", "is a integer"),
        ("[centre]\nurl = 'http://centre:80'", "centre.url", "https://"),
        ("[kiosk]\nport = 70000", "kiosk.port", "0 (any free port) to 65535"),
        ("[kiosk]\nhost = 'example.org'", "kiosk.host", "loopback"),
        ("[retention]\ndays = -1", "retention.days", "0 to 3650"),
        ("[logging]\nlevel = 'debug'", "logging.level", "DEBUG, INFO, WARNING, ERROR"),
        ("sensor = 3", "sensor", "must be a table [sensor]"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert key in dict(caught.value.problems) and words in dict(caught.value.problems)[key]


def test_loopback_hosts_and_any_port_are_accepted(tmp_path: Path) -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert load_config(write(tmp_path, f"[kiosk]\nhost = '{host}'\nport = 0")).kiosk.host == host


def test_shared_gpio_pins_are_allowed_while_gpio_is_off_and_0_means_not_wired(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "[gpio]\ntouch = 17")).gpio.touch == 17
    loaded = load_config(write(tmp_path, "[gpio]\nenabled = true\ntouch = 0\nbuzzer = 0"))
    assert loaded.gpio.pins()["touch"] == 0 and loaded.gpio.pins()["led_ready"] == 17


def test_a_missing_or_broken_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"(?s)nope.toml: 1 problem.*copy config/station.toml"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"(?s)not valid TOML.*line 2"):
        load_config(write(tmp_path, "[sensor]\nurl = \n"))


def test_relative_paths_are_resolved_from_the_file_and_the_data_dir(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    loaded = load_config(
        write(
            folder, "[storage]\ndata_dir = 'data'\nkey_file = 'keys/outbox.key'\n[centre]\nca = 'pki/ca.pem'"
        )
    )
    assert loaded.storage.data_dir == folder / "data"
    assert loaded.storage.outbox == Path("/var/lib/livescan/outbox.db")  # the default is absolute
    assert loaded.storage.key_file == folder / "data" / "keys" / "outbox.key"
    assert loaded.centre.ca == folder / "pki" / "ca.pem"


def test_as_dict_hides_the_password_and_the_digest_still_sees_it(tmp_path: Path) -> None:
    secret = load_config(write(tmp_path, "[sensor]\npassword = 0x5EC2E7"))
    assert secret.as_dict()["sensor"]["password"] == "(set)"
    assert (
        "6169319" not in str(secret.as_dict())
        and secret.as_dict(redact=False)["sensor"]["password"] == 0x5EC2E7
    )
    assert StationConfig().as_dict()["sensor"]["password"] == "(default)"
    assert secret.digest() != StationConfig().digest()
    assert StationConfig().as_dict()["storage"]["outbox"] == "/var/lib/livescan/outbox.db"


def test_updated_and_for_demo_check_their_values(tmp_path: Path) -> None:
    demo = StationConfig.for_demo(
        tmp_path,
        sensor_url="sim://?seed=3",
        centre_url="https://127.0.0.1:9443",
        ca=tmp_path / "ca.pem",
        cert=tmp_path / "st.pem",
        key=tmp_path / "st.key",
        capture__quality_threshold=20,
    )
    assert demo.storage.outbox == tmp_path / "outbox.db" and demo.kiosk.port == 0 and not demo.gpio.enabled
    assert demo.capture.quality_threshold == 20 and demo.centre.key == tmp_path / "st.key"
    with pytest.raises(ConfigError) as caught:
        demo.updated({"kiosk.host": "10.0.0.1", "sensor.speed": 3})
    assert set(dict(caught.value.problems)) == {"kiosk.host", "sensor.speed"}
    assert caught.value.source == "overrides"


def test_the_module_exports_what_the_daemon_needs() -> None:
    assert {"ConfigError", "StationConfig", "load_config"} <= set(dir(config_module))


# --- the capture workflow's keys: one range, CaptureSettings' own ---------------------------------

CAPTURE_KEYS = [
    item
    for kind in (config_module.SensorSection, config_module.CaptureSection)
    for item in dataclasses.fields(kind)
    if "capture" in item.metadata
]
_SECTION_OF = {config_module.SensorSection: "sensor", config_module.CaptureSection: "capture"}


def _range(text: str) -> tuple[float, float]:
    low, high = re.match(r"\s*([0-9.]+) to ([0-9.]+)", text).groups()  # type: ignore[union-attr]
    return float(low), float(high)


def _dotted(capture_name: str) -> str:
    for kind, section in _SECTION_OF.items():
        for item in dataclasses.fields(kind):
            if item.metadata.get("capture") == capture_name:
                return f"{section}.{item.name}"
    raise AssertionError(capture_name)


def test_the_capture_keys_are_the_ones_capture_settings_takes() -> None:
    names = {item.metadata["capture"] for item in CAPTURE_KEYS}
    assert names == {
        "poll_interval_s",
        "finger_timeout_s",
        "quality_threshold",
        "max_attempts_before_up_hint",
    }
    assert names <= {item.name for item in dataclasses.fields(CaptureSettings)}


@pytest.mark.parametrize("item", CAPTURE_KEYS, ids=lambda item: item.name)
def test_a_capture_key_is_accepted_exactly_where_capture_settings_accepts_it(
    tmp_path: Path, item: dataclasses.Field
) -> None:
    """The file, its documentation and the workflow agree on the limits: the ends of the documented
    range load and make valid CaptureSettings; just outside them the file is refused, naming the
    file, the key and the allowed values, exactly as CaptureSettings refuses the value."""
    dotted = _dotted(item.metadata["capture"])
    section, name = dotted.split(".")
    low, high = _range(item.metadata["allowed"])
    step = 1 if item.type in (int, "int") else 0.001
    number = int if item.type in (int, "int") else float
    for value in (number(low), number(high)):
        loaded = load_config(write(tmp_path, f"[{section}]\n{name} = {value}"))
        assert getattr(getattr(loaded, section), name) == value
        CaptureSettings(**{item.metadata["capture"]: value})
    for value in (number(low - step), number(high + step)):
        with pytest.raises(InvalidCaptureSettings):
            CaptureSettings(**{item.metadata["capture"]: value})
        path = write(tmp_path, f"[{section}]\n{name} = {value}")
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert str(caught.value).startswith(str(path))
        assert (
            dict(caught.value.problems)[dotted]
            == f"{value} is not allowed; allowed: {item.metadata['allowed']}"
        )


def test_the_readme_and_the_default_file_state_the_capture_keys_range() -> None:
    readme = README.read_text()
    default_file = DEFAULT_FILE.read_text().splitlines()
    for item in CAPTURE_KEYS:
        dotted = _dotted(item.metadata["capture"])
        expected = _range(item.metadata["allowed"])
        row = re.search(rf"^\| `{re.escape(dotted)}` \| `[^`]*` \| ([^|]+) \|", readme, re.M)
        assert row is not None and _range(row.group(1)) == expected, dotted
        name = dotted.split(".")[1]
        line = next(number for number, text in enumerate(default_file) if text.startswith(f"{name} = "))
        comment = re.search(r"\(([0-9.]+ to [0-9.]+)\)|([0-9]+-[0-9]+)", default_file[line - 1])
        assert comment is not None, dotted
        shown = comment.group(1) or comment.group(2).replace("-", " to ")
        assert _range(shown) == expected, dotted
