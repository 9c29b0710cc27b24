"""``Sensor``: the ZFM instruction set over a ``Link``, plus opening, probing and negotiation.

Open a module by URL::

    with Sensor.open("/dev/ttyAMA0") as sensor:          # or "sim://bench", "socket://...", "spy://..."
        sensor.gen_img()
        image = sensor.up_image(progress=print)

``open`` finds the module at its configured baud rate or any other 9600 x N rate, verifies the
password, reads the system parameters and moves to the fastest baud rate and largest data packet
the module accepts (see ``negotiate``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from types import TracebackType

import numpy as np
import serial
from serial.urlhandler.protocol_socket import Serial as NetworkPort

from drivers import codec
from drivers.codec import (
    DEFAULT_ADDRESS,
    DEFAULT_PASSWORD,
    NOTEPAD_PAGE_SIZE,
    NOTEPAD_PAGES,
    PACKET_SIZES,
    AuraColour,
    AuraMode,
    Instruction,
    Packet,
    Register,
)
from drivers.errors import (
    ConfirmationError,
    CorruptTransfer,
    DeviceDisconnected,
    PasswordNotVerified,
    PortInUse,
    SensorError,
    SensorNotFound,
    SensorTimeout,
    TransportError,
    UnsupportedInstruction,
    confirmation_error,
)
from drivers.profiles import R307, ModelProfile
from drivers.profiles import profile as profile_named
from drivers.transport import Link, ProgressCallback, open_port

#: Ceiling on a character file or template read "whatever its length" (R503 templates are 1536 B).
MAX_TEMPLATE_BYTES = 4096

#: Probe order: the configured rate first, then the factory default, then the rest (reference §8.2).
_PREFERRED_MULTIPLIERS = (6, 12, 1, 2, 4)


@dataclass(frozen=True)
class Timing:
    """How long the driver waits, beyond what the line and the instruction need.

    ``ack_slack`` covers the host's scheduling and USB adapters; ``inactivity`` is the longest
    silence tolerated inside a packet or data phase; ``settle`` is the wait after SetSysPara before
    the module is asked again (it writes flash); ``probe`` is how long each baud rate is tried.
    """

    ack_slack: float = 0.5
    inactivity: float = 1.0
    settle: float = 1.0
    probe: float = 0.3


#: For tests against a simulator with its timing switched off.
FAST_TIMING = Timing(ack_slack=0.5, inactivity=0.5, settle=0.0, probe=0.15)


@dataclass(frozen=True)
class SystemParameters:
    """The 16-byte ReadSysPara block."""

    status: int
    system_id: int
    capacity: int
    security_level: int
    address: int
    packet_size: int
    baudrate: int

    @classmethod
    def from_payload(cls, block: bytes) -> SystemParameters:
        if len(block) != codec.SYS_PARA_SIZE:
            raise CorruptTransfer(f"system parameter block of {len(block)} bytes, expected 16")
        words = [int.from_bytes(block[i : i + 2], "big") for i in range(0, 16, 2)]
        size_code, baud_n = words[6], words[7]
        if size_code >= len(PACKET_SIZES) or baud_n == 0:
            raise CorruptTransfer(
                f"implausible system parameters: packet size code {size_code}, baud N {baud_n}"
            )
        return cls(
            status=words[0],
            system_id=words[1],
            capacity=words[2],
            security_level=words[3],
            address=int.from_bytes(block[8:12], "big"),
            packet_size=PACKET_SIZES[size_code],
            baudrate=codec.BAUD_UNIT * baud_n,
        )

    @property
    def busy(self) -> bool:
        return bool(self.status & 0x1)

    @property
    def finger_matched(self) -> bool:
        return bool(self.status & 0x2)

    @property
    def password_verified(self) -> bool:
        return bool(self.status & 0x4)

    @property
    def image_valid(self) -> bool:
        return bool(self.status & 0x8)


@dataclass(frozen=True)
class MatchResult:
    matched: bool
    score: int


@dataclass(frozen=True)
class SearchResult:
    page: int
    score: int


@dataclass
class Negotiation:
    """What ``negotiate`` found out and did; kept on the sensor for diagnostics."""

    baud_behaviour: str = "unchanged"  # unchanged | immediate | next_boot | ignored
    packet_behaviour: str = "unchanged"
    pending_baudrate: int | None = None
    pending_packet_size: int | None = None
    notes: list[str] = field(default_factory=list)


# Instructions that may be sent again after a transport error without changing the outcome.
_RETRYABLE = frozenset({
    Instruction.GEN_IMG, Instruction.IMG2TZ, Instruction.MATCH, Instruction.SEARCH,
    Instruction.HIGH_SPEED_SEARCH, Instruction.UP_CHAR, Instruction.UP_IMAGE, Instruction.LOAD_CHAR,
    Instruction.READ_SYS_PARA, Instruction.VFY_PWD, Instruction.READ_NOTEPAD,
    Instruction.TEMPLATE_NUM, Instruction.READ_INDEX_TABLE, Instruction.HANDSHAKE,
    Instruction.READ_INF_PAGE,
})  # fmt: skip


class Sensor:
    """One fingerprint module on one port. Not thread-safe: give it one owner."""

    def __init__(
        self,
        port: serial.SerialBase,
        *,
        profile: ModelProfile = R307,
        address: int = DEFAULT_ADDRESS,
        password: int = DEFAULT_PASSWORD,
        timing: Timing = Timing(),
        retries: int = 1,
    ) -> None:
        self.profile = profile
        self.password = password
        self.timing = timing
        self.retries = retries
        self.link = Link(port, address, inactivity=timing.inactivity)
        self.parameters: SystemParameters | None = None
        self.negotiation = Negotiation()
        #: Whether an UpImage after Img2Tz gives a black frame: the profile's word, or learned
        #: by a caller that saw it happen (some modules of every model are reported to do it).
        self.convert_clears_image = profile.convert_clears_image
        self._packet_size: int | None = None  # the size the module really uses, once seen

    # --- opening ------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        url: str,
        *,
        profile: ModelProfile | str = R307,
        baudrate: int = 57600,
        password: int = DEFAULT_PASSWORD,
        address: int = DEFAULT_ADDRESS,
        negotiate: bool = True,
        max_baudrate: int = 115200,
        packet_size: int = 256,
        timing: Timing = Timing(),
        retries: int = 1,
    ) -> Sensor:
        """Open, find, unlock and (by default) speed up the module at ``url``."""
        model = profile_named(profile) if isinstance(profile, str) else profile
        port = open_port(url, baudrate)
        sensor = cls(port, profile=model, address=address, password=password, timing=timing, retries=retries)
        try:
            try:
                sensor.probe(baudrate)
            except DeviceDisconnected as exc:
                if not sensor.sets_line_rate:
                    raise PortInUse(f"{url} hung up at once: another client probably holds it") from exc
                raise
            sensor.verify_password()
            sensor.read_sys_para()
            if negotiate:
                sensor.negotiate(max_baudrate=max_baudrate, packet_size=packet_size)
        except BaseException:
            port.close()
            raise
        return sensor

    def close(self) -> None:
        self.link.port.close()

    def __enter__(self) -> Sensor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def baudrate(self) -> int:
        return self.link.baudrate

    @property
    def address(self) -> int:
        return self.link.address

    @property
    def sets_line_rate(self) -> bool:
        """False on a network port (socket://), where the serial server sets the line's baud rate.

        There every rate "answers", so the driver neither probes nor changes the rate, and its time
        bounds assume the ``baudrate`` the sensor was opened with.
        """
        return not isinstance(self.link.port, NetworkPort)

    @property
    def packet_size(self) -> int:
        """The data packet size the module uses now."""
        if self._packet_size is not None:
            return self._packet_size
        return self.parameters.packet_size if self.parameters else 128

    def reconnect(self) -> None:
        """Find the module again after it restarted (its baud rate may have changed) and unlock it.

        Waits out the model's power-up time first: a starting module ignores commands.
        """
        time.sleep(self.profile.power_up_seconds)
        self.link.drain(limit=self.timing.inactivity)
        self.probe(self.baudrate)
        self.verify_password()
        self.read_sys_para()
        self._packet_size = None

    def probe(self, baudrate: int = 57600) -> int:
        """Find the baud rate the module answers at, starting with ``baudrate``; returns it."""
        for rate in self._candidate_rates(baudrate):
            if self._answers_at(rate):
                return rate
        raise SensorNotFound(
            f"no module answered on {self.link.port.port} at any of "
            f"{', '.join(str(r) for r in self._candidate_rates(baudrate))} baud"
        )

    def _candidate_rates(self, first: int) -> Iterator[int]:
        if not self.sets_line_rate:
            return iter([first])
        multipliers = self.profile.baud_multipliers
        ordered = [m for m in _PREFERRED_MULTIPLIERS if m in multipliers]
        ordered += [m for m in multipliers if m not in ordered]
        rates = [first] + [codec.BAUD_UNIT * m for m in ordered]
        return iter(dict.fromkeys(rates))

    def _answers_at(self, rate: int) -> bool:
        """Whether any well-formed acknowledge comes back at ``rate`` (a wrong password counts)."""
        try:
            self.link.port.baudrate = rate
        except (ValueError, serial.SerialException):
            return False  # the host's UART cannot do this rate
        try:
            self._exchange(
                Instruction.VFY_PWD, self.password.to_bytes(4, "big"),
                latency=0.0, slack=self.timing.probe, retries=0, check=False,
            )  # fmt: skip
        except TransportError:
            return False
        return True

    def negotiate(self, *, max_baudrate: int = 115200, packet_size: int = 256) -> Negotiation:
        """Move to the largest data packet and the fastest baud rate the module accepts.

        The manuals say both settings take effect at the next start-up; modules in the field also
        switch at once, or keep the old value for ever. After each change the driver waits for the
        flash write, then finds out which happened: it asks at the new rate, then at the old one,
        then at every rate. It only chooses rates the host's port can be set to, so a module that
        switches at its next start-up is found there by ``probe``.
        """
        result = self.negotiation
        if packet_size not in PACKET_SIZES:
            raise ValueError(f"packet size must be one of {PACKET_SIZES}")
        params = self.parameters or self.read_sys_para()
        if params.packet_size < packet_size:
            result.packet_behaviour = self._change_packet_size(packet_size)
        if not self.sets_line_rate:
            result.baud_behaviour = "set_by_serial_server"
            return result
        if params.baudrate != self.baudrate:
            result.pending_baudrate = params.baudrate  # stored earlier; applies at the next power-up
            result.baud_behaviour = "next_boot"
        target = self._fastest_rate(max_baudrate)
        if target and params.baudrate < target:
            result.baud_behaviour = self._change_baudrate(target)
        return result

    def _fastest_rate(self, max_baudrate: int) -> int | None:
        current = self.baudrate
        for m in sorted(self.profile.baud_multipliers, reverse=True):
            rate = codec.BAUD_UNIT * m
            if rate > max_baudrate:
                continue
            try:
                self.link.port.baudrate = rate
            except (ValueError, serial.SerialException):
                continue
            finally:
                self.link.port.baudrate = current
            return rate
        return None

    def _change_packet_size(self, size: int) -> str:
        before = self.packet_size
        self.set_sys_para(Register.PACKET_SIZE, PACKET_SIZES.index(size))
        time.sleep(self.timing.settle)
        self._packet_size = None
        stored = self.read_sys_para().packet_size
        active = self._observe_packet_size()
        if active == size:
            return "immediate"
        if stored == size:
            self.negotiation.pending_packet_size = size
            self._packet_size = before
            return "next_boot"
        self._packet_size = before
        return "ignored"

    def _observe_packet_size(self) -> int:
        """The data packet size the module streams with, seen on a character-file upload."""
        self._packet_size = None
        self.up_char(1)
        return self.packet_size

    def _change_baudrate(self, rate: int) -> str:
        old = self.baudrate
        self.set_sys_para(Register.BAUD, rate // codec.BAUD_UNIT)
        time.sleep(self.timing.settle)
        if self._answers_at(rate):
            self.read_sys_para()
            return "immediate"
        if self._answers_at(old):
            if self.read_sys_para().baudrate == rate:
                self.negotiation.pending_baudrate = rate
                self.negotiation.notes.append(f"the module will use {rate} baud from its next power-up")
                return "next_boot"
            return "ignored"
        found = self.probe(old)
        self.read_sys_para()
        self.negotiation.notes.append(f"after the baud change the module answered at {found} baud")
        return "immediate" if found == rate else "unexpected"

    # --- the exchange ---------------------------------------------------------------------

    def _deadline(self, latency: float, n_bytes: int, slack: float | None = None) -> float:
        slack = self.timing.ack_slack if slack is None else slack
        return time.monotonic() + latency + self.link.wire_seconds(n_bytes) + slack

    def _exchange(
        self,
        instruction: Instruction,
        params: bytes = b"",
        *,
        latency: float = 0.1,
        retries: int | None = None,
        check: bool = True,
        reply_address: int | None = None,
        reverify: bool = True,
        slack: float | None = None,
    ) -> Packet:
        """Send one command and return its acknowledge.

        With ``check`` a non-zero confirmation code raises its ``ConfirmationError``. A transport
        error drains the line and, for instructions that are safe to repeat, retries.
        """
        if instruction not in self.profile.instructions:
            raise UnsupportedInstruction(f"{self.profile.name} does not implement {instruction.name}")
        attempts = 1 + (self.retries if retries is None else retries) * (instruction in _RETRYABLE)
        frame = codec.command(instruction, params, self.address)
        for attempt in range(attempts):
            try:
                self.link.send(frame)
                ack = self.link.read_ack(
                    self._deadline(latency, len(frame) + 48, slack), address=reply_address
                )
                break
            except TransportError:
                self.link.drain(limit=self.timing.inactivity)
                if attempt + 1 == attempts:
                    raise
        code = ack.payload[0]
        if code == PasswordNotVerified.code and check and reverify and instruction != Instruction.VFY_PWD:
            self.verify_password()  # the module has restarted since the password was verified
            return self._exchange(instruction, params, latency=latency, retries=retries, reverify=False)
        if check and code != 0:
            raise confirmation_error(code)
        return ack

    def _upload(
        self,
        instruction: Instruction,
        params: bytes = b"",
        *,
        expected: int | None,
        progress: ProgressCallback | None = None,
    ) -> bytes:
        """A command whose OK acknowledge is followed by data packets from the module."""
        max_bytes = expected or MAX_TEMPLATE_BYTES
        packets = -(-max_bytes // codec.PACKET_SIZES[0])
        budget = max_bytes + packets * (codec.HEADER_SIZE + codec.CHECKSUM_SIZE)
        attempts = 1 + self.retries
        for attempt in range(attempts):
            self._exchange(instruction, params, retries=0)
            try:
                data, size = self.link.read_data(
                    self._deadline(0.1, budget), expected=expected, progress=progress
                )
            except TransportError:
                self.link.drain(limit=self.link.wire_seconds(budget) + self.timing.inactivity)
                if attempt + 1 == attempts:
                    raise
                continue
            if size:
                self._packet_size = size
            return data
        raise AssertionError("unreachable")

    def _download(self, instruction: Instruction, params: bytes, data: bytes) -> None:
        """A command whose OK acknowledge is followed by data packets from the host."""
        if self._packet_size is None:
            self._observe_packet_size()
        self._exchange(instruction, params)
        self.link.write_frames(codec.data_packets(data, self.packet_size, self.address))

    # --- images ---------------------------------------------------------------------------

    def gen_img(self) -> None:
        """Capture an image into the image buffer (GenImg); ``NoFinger`` when the glass is empty."""
        self._exchange(Instruction.GEN_IMG, latency=self.profile.capture_seconds)

    def capture(self) -> bool:
        """Capture if a finger is there: True with a new image in the buffer, False without one."""
        try:
            self.gen_img()
        except ConfirmationError as exc:
            if exc.code == 0x02:
                return False
            raise
        return True

    def up_image(self, progress: ProgressCallback | None = None) -> np.ndarray:
        """The image buffer as an 8-bit array of the profile's size (UpImage).

        The module sends 4-bit pixels, two per byte, the left one in the high nibble; they are
        scaled by 17 to span 0..255. ``progress(received, total)`` is called after every packet.
        """
        packed = self._upload(Instruction.UP_IMAGE, expected=self.profile.image_bytes, progress=progress)
        return codec.unpack_image(packed, self.profile.image_width, self.profile.image_height)

    def down_image(self, image: np.ndarray) -> None:
        """Load an 8-bit image of the profile's size into the image buffer (DownImage)."""
        shape = (self.profile.image_height, self.profile.image_width)
        if image.shape != shape:
            raise ValueError(
                f"{self.profile.name} images are {shape[0]} rows x {shape[1]} columns, not {image.shape}"
            )
        self._download(Instruction.DOWN_IMAGE, b"", codec.pack_image(image))

    # --- character files and templates ----------------------------------------------------

    def img2tz(self, buffer: int = 1) -> None:
        """Extract features from the image buffer into a character buffer (Img2Tz / GenChar)."""
        self._exchange(
            Instruction.IMG2TZ, bytes((self._buffer_id(buffer),)), latency=self.profile.convert_seconds
        )

    def match(self) -> MatchResult:
        """Compare character buffers 1 and 2 (Match)."""
        ack = self._exchange(Instruction.MATCH, check=False, latency=self.profile.convert_seconds)
        code, score = ack.payload[0], _word(ack.payload, 1)
        if code not in (0x00, 0x08):
            raise confirmation_error(code)
        return MatchResult(matched=code == 0x00, score=score)

    def search(
        self, buffer: int = 1, start: int = 0, count: int | None = None, *, high_speed: bool = False
    ) -> SearchResult | None:
        """Search the library for the character buffer (Search / HighSpeedSearch); None if absent."""
        if count is None:
            count = (self.parameters.capacity if self.parameters else self.profile.capacity) - start
        instruction = Instruction.HIGH_SPEED_SEARCH if high_speed else Instruction.SEARCH
        params = bytes((self._buffer_id(buffer),)) + start.to_bytes(2, "big") + count.to_bytes(2, "big")
        ack = self._exchange(instruction, params, check=False, latency=self.profile.search_seconds)
        code = ack.payload[0]
        if code == 0x09:
            return None  # only the code counts: some modules send a non-zero page with it
        if code != 0x00:
            raise confirmation_error(code)
        return SearchResult(page=_word(ack.payload, 1), score=_word(ack.payload, 3))

    def high_speed_search(
        self, buffer: int = 1, start: int = 0, count: int | None = None
    ) -> SearchResult | None:
        return self.search(buffer, start, count, high_speed=True)

    def reg_model(self) -> None:
        """Merge character buffers 1 and 2 into a template, written back to both (RegModel)."""
        self._exchange(Instruction.REG_MODEL, latency=self.profile.convert_seconds)

    def store(self, page: int, buffer: int = 1) -> None:
        """Write a character buffer to library page ``page`` (Store)."""
        params = bytes((self._buffer_id(buffer),)) + page.to_bytes(2, "big")
        self._exchange(Instruction.STORE, params, latency=self.profile.flash_write_seconds)

    def load_char(self, page: int, buffer: int = 1) -> None:
        """Read library page ``page`` into a character buffer (LoadChar)."""
        params = bytes((self._buffer_id(buffer),)) + page.to_bytes(2, "big")
        self._exchange(Instruction.LOAD_CHAR, params)

    def up_char(self, buffer: int = 1) -> bytes:
        """The contents of a character buffer, however long (UpChar)."""
        return self._upload(Instruction.UP_CHAR, bytes((self._buffer_id(buffer),)), expected=None)

    def down_char(self, data: bytes, buffer: int = 1) -> None:
        """Load a character file or template into a character buffer (DownChar)."""
        if not data or len(data) > MAX_TEMPLATE_BYTES:
            raise ValueError(f"a character file has 1..{MAX_TEMPLATE_BYTES} bytes, not {len(data)}")
        self._download(Instruction.DOWN_CHAR, bytes((self._buffer_id(buffer),)), data)

    def delete_char(self, page: int, count: int = 1) -> None:
        """Delete ``count`` templates from ``page`` on (DeletChar)."""
        params = page.to_bytes(2, "big") + count.to_bytes(2, "big")
        self._exchange(Instruction.DELETE_CHAR, params, latency=self.profile.flash_write_seconds)

    def empty(self) -> None:
        """Delete every template in the library (Empty)."""
        self._exchange(Instruction.EMPTY, latency=self.profile.flash_write_seconds * 2)

    def template_num(self) -> int:
        """How many templates the library holds (TemplateNum)."""
        return _word(self._exchange(Instruction.TEMPLATE_NUM).payload, 1)

    def read_index_table(self, page: int = 0) -> set[int]:
        """Occupied template numbers in index page ``page`` (256 templates a page; ReadIndexTable).

        Bits beyond the library capacity are ignored: some modules leave garbage there.
        """
        if not 0 <= page <= 3:
            raise ValueError("index table pages are 0..3")
        bitmap = self._exchange(Instruction.READ_INDEX_TABLE, bytes((page,))).payload[1:]
        capacity = self.parameters.capacity if self.parameters else self.profile.capacity
        bits = np.unpackbits(np.frombuffer(bitmap, np.uint8), bitorder="little")
        return {256 * page + int(i) for i in np.flatnonzero(bits) if 256 * page + i < capacity}

    def stored_templates(self) -> list[int]:
        """Every occupied template number, from as many index pages as the capacity needs."""
        capacity = self.parameters.capacity if self.parameters else self.profile.capacity
        pages = range(min(4, -(-capacity // 256)))
        return sorted(set().union(*(self.read_index_table(p) for p in pages)))

    # --- system ---------------------------------------------------------------------------

    def read_sys_para(self) -> SystemParameters:
        """Read the system parameters (ReadSysPara); also kept in ``parameters``."""
        ack = self._exchange(Instruction.READ_SYS_PARA)
        self.parameters = SystemParameters.from_payload(ack.payload[1:])
        return self.parameters

    def set_sys_para(self, register: Register | int, value: int) -> None:
        """Write a system register (SetSysPara). See ``negotiate`` for baud and packet size."""
        self._exchange(
            Instruction.SET_SYS_PARA, bytes((register, value)), latency=self.profile.flash_write_seconds
        )

    def set_security_level(self, level: int) -> None:
        if not 1 <= level <= 5:
            raise ValueError("security level is 1 (most permissive) to 5 (strictest)")
        self.set_sys_para(Register.SECURITY_LEVEL, level)
        if self.parameters:
            self.parameters = replace(self.parameters, security_level=level)

    def verify_password(self, password: int | None = None) -> None:
        """Unlock the module (VfyPwd); ``WrongPassword`` if the password is not its own."""
        if password is not None:
            self.password = password
        self._exchange(Instruction.VFY_PWD, self.password.to_bytes(4, "big"))

    def set_password(self, password: int) -> None:
        """Change the module's password (SetPwd). A forgotten password makes the module unusable."""
        self._exchange(
            Instruction.SET_PWD, password.to_bytes(4, "big"), latency=self.profile.flash_write_seconds
        )
        self.password = password

    def set_address(self, address: int) -> None:
        """Change the module's address (SetAdder); its reply already comes from the new address."""
        self._exchange(
            Instruction.SET_ADDER, address.to_bytes(4, "big"),
            latency=self.profile.flash_write_seconds, reply_address=address,
        )  # fmt: skip
        self.link.address = address

    def get_random_code(self) -> int:
        """A 32-bit number from the module's hardware generator (GetRandomCode)."""
        return int.from_bytes(self._exchange(Instruction.GET_RANDOM_CODE).payload[1:5], "big")

    def write_notepad(self, page: int, data: bytes) -> None:
        """Replace notepad page ``page`` (0..15) with up to 32 bytes, zero-padded (WriteNotepad)."""
        self._check_notepad_page(page)
        if len(data) > NOTEPAD_PAGE_SIZE:
            raise ValueError(f"a notepad page holds {NOTEPAD_PAGE_SIZE} bytes")
        params = bytes((page,)) + data.ljust(NOTEPAD_PAGE_SIZE, b"\0")
        self._exchange(Instruction.WRITE_NOTEPAD, params, latency=self.profile.flash_write_seconds)

    def read_notepad(self, page: int) -> bytes:
        """The 32 bytes of notepad page ``page`` (ReadNotepad)."""
        self._check_notepad_page(page)
        return self._exchange(Instruction.READ_NOTEPAD, bytes((page,))).payload[1:]

    def handshake(self) -> bool:
        """Whether the module is there and ready (its HandShake, or VfyPwd where it has none)."""
        try:
            if self.profile.handshake is not None:
                self._exchange(self.profile.handshake)
            else:
                self.verify_password()
        except (TransportError, ConfirmationError):
            return False
        return True

    def port_control(self, enable: bool) -> None:
        """Switch the module's UART/USB port on or off (Control, 0x17).

        Switching off the port you are talking over leaves the module deaf until its next power-up.
        """
        self._exchange(Instruction.PORT_CONTROL, bytes((int(enable),)))

    def read_inf_page(self) -> bytes:
        """The 512-byte information page (ReadInfPage; R503 and AS608)."""
        return self._upload(Instruction.READ_INF_PAGE, expected=512)

    def aura_led(
        self, mode: AuraMode, colour: AuraColour = AuraColour.BLUE, speed: int = 0x80, count: int = 0
    ) -> None:
        """Set the LED ring (AuraLedConfig) on models that have one."""
        if not self.profile.has_aura_led:
            raise UnsupportedInstruction(f"{self.profile.name} has no LED ring")
        self._exchange(Instruction.AURA_LED_CONFIG, bytes((mode, speed & 0xFF, colour, count & 0xFF)))

    # --- helpers --------------------------------------------------------------------------

    def _buffer_id(self, buffer: int) -> int:
        if not 1 <= buffer <= self.profile.char_buffers:
            raise ValueError(f"{self.profile.name} has character buffers 1..{self.profile.char_buffers}")
        return buffer

    @staticmethod
    def _check_notepad_page(page: int) -> None:
        if not 0 <= page < NOTEPAD_PAGES:
            raise ValueError(f"notepad pages are 0..{NOTEPAD_PAGES - 1}")


def _word(payload: bytes, offset: int) -> int:
    return int.from_bytes(payload[offset : offset + 2], "big")


__all__ = [
    "FAST_TIMING",
    "MatchResult",
    "Negotiation",
    "SearchResult",
    "Sensor",
    "SensorError",
    "SensorTimeout",
    "SystemParameters",
    "Timing",
]
