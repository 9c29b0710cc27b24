"""The module's state and instruction execution, byte for byte, without I/O or sleeping.

``SimulatedModule.receive`` takes whatever bytes the host sent and returns the module's
``Reply``s: the packets it sends, the latency before they start and the baud rate they go out
at. Timing and the wire are the ``Line``'s job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from drivers.codec import (
    BAUD_UNIT,
    NOTEPAD_PAGE_SIZE,
    NOTEPAD_PAGES,
    PACKET_SIZES,
    POWER_UP_BYTE,
    Instruction,
    Packet,
    PacketParser,
    PacketType,
    Register,
    ack,
    data_packets,
    pack_image,
    unpack_image,
)
from drivers.errors import ChecksumError, ProtocolError
from drivers.profiles import R307, ModelProfile
from hw_sim.features import (
    SECURITY_THRESHOLDS,
    FeatureExtractionError,
    FeatureExtractor,
    NbisModuleMatcher,
)
from hw_sim.flash import Flash

ParameterChange = Literal["next_boot", "immediate", "ignored"]
PARAMETER_CHANGES: tuple[ParameterChange, ...] = ("next_boot", "immediate", "ignored")

COMMAND_SECONDS = 0.005  # register and RAM operations
NO_FINGER_SECONDS = 0.1  # one dark frame is enough to see an empty glass
MATCH_SECONDS = 0.05  # Match and RegModel
INFO_PAGE_SIZE = 512
SYSTEM_ID = 0x0000

OK = 0x00
RECEIVE_ERROR = 0x01
NO_FINGER = 0x02
NO_MATCH = 0x08
NOT_FOUND = 0x09
MERGE_FAILED = 0x0A
BAD_PAGE = 0x0B
EMPTY_PAGE = 0x0C
UPLOAD_IMAGE_FAILED = 0x0F
DELETE_FAILED = 0x10
WRONG_PASSWORD = 0x13
NO_VALID_IMAGE = 0x15
INVALID_REGISTER = 0x1A
BAD_REGISTER_VALUE = 0x1B
BAD_NOTEPAD_PAGE = 0x1C
PORT_FAILED = 0x1D
PASSWORD_NOT_VERIFIED = 0x21

STATUS_PASS = 1 << 1
STATUS_PASSWORD = 1 << 2
STATUS_IMAGE = 1 << 3


@dataclass(frozen=True)
class Reply:
    """Packets the module sends back to back, ``latency`` seconds after the command arrived."""

    packets: tuple[bytes, ...]
    latency: float
    baud: int

    @property
    def data(self) -> bytes:
        return b"".join(self.packets)


@dataclass
class _Download:
    """A DownChar/DownImage in progress: where the data goes and how much must arrive."""

    size: int
    store: Callable[[bytes], None]
    received: bytearray = field(default_factory=bytearray)


@dataclass
class AuraLed:
    mode: int = 4
    speed: int = 0
    colour: int = 0
    count: int = 0


@dataclass(frozen=True)
class _Spec:
    params: int
    run: Callable[[bytes], list[Reply]]


class SimulatedModule:
    """An R307-class module: RAM (image and char buffers) plus a ``Flash`` that outlives power cycles."""

    def __init__(
        self,
        profile: ModelProfile = R307,
        *,
        flash: Flash | None = None,
        extractor: FeatureExtractor | None = None,
        seed: int = 0,
        baud_change: ParameterChange = "next_boot",
        packet_change: ParameterChange = "next_boot",
        power_up_byte: bool | None = None,
        convert_clears_image: bool | None = None,
    ) -> None:
        for name, mode in (("baud_change", baud_change), ("packet_change", packet_change)):
            if mode not in PARAMETER_CHANGES:
                raise ValueError(f"{name} must be one of {PARAMETER_CHANGES}, not {mode!r}")
        self.profile = profile
        self.flash = flash if flash is not None else Flash(capacity=profile.capacity)
        self.extractor = extractor or NbisModuleMatcher(profile.template_size)
        self.baud_change = baud_change
        self.packet_change = packet_change
        self.power_up_byte = profile.name == "r503" if power_up_byte is None else power_up_byte
        self.convert_clears_image = (
            profile.convert_clears_image if convert_clears_image is None else convert_clears_image
        )
        self.rng = np.random.default_rng(seed)
        self.finger: np.ndarray | None = None
        self.led = AuraLed()
        self.commands_executed = 0
        self._specs = self._instruction_table()
        self._reset_ram()

    # --- physical world -----------------------------------------------------------------------

    def place_finger(self, image: np.ndarray) -> None:
        """Put a finger on the glass; ``image`` is what the next GenImg captures."""
        expected = (self.profile.image_height, self.profile.image_width)
        if image.shape != expected or image.dtype != np.uint8:
            raise ValueError(
                f"finger image must be uint8 of shape {expected}, not {image.dtype} {image.shape}"
            )
        self.finger = image

    def lift_finger(self) -> None:
        self.finger = None

    def power_cycle(self) -> list[Reply]:
        """RAM is lost, parameters stored in flash take effect; the power-up byte if this model sends one."""
        self._reset_ram()
        if not self.power_up_byte:
            return []
        return [Reply((bytes((POWER_UP_BYTE,)),), self.profile.power_up_seconds, self.active_baud)]

    def _reset_ram(self) -> None:
        self.image: np.ndarray | None = None
        self.char_buffers = [bytes(self.profile.template_size) for _ in range(self.profile.char_buffers)]
        self.password_verified = False
        self.matched = False
        self.port_enabled = True
        self.active_baud_multiplier = self.flash.baud_multiplier
        self.active_packet_size = PACKET_SIZES[self.flash.packet_size_code]
        self._download: _Download | None = None
        self._parser = PacketParser(address=None)

    @property
    def active_baud(self) -> int:
        return self.active_baud_multiplier * BAUD_UNIT

    @property
    def status_register(self) -> int:
        return (
            (STATUS_PASS if self.matched else 0)
            | (STATUS_PASSWORD if self.password_verified else 0)
            | (STATUS_IMAGE if self.image is not None else 0)
        )

    @property
    def locked(self) -> bool:
        return self.flash.password != 0 and not self.password_verified

    # --- the UART -----------------------------------------------------------------------------

    def receive(self, data: bytes) -> list[Reply]:
        """Everything the module answers to ``data`` from the host."""
        if not self.port_enabled:
            return []
        self._parser.feed(data)
        replies: list[Reply] = []
        while True:
            try:
                packet = self._parser.next_packet()
            except ChecksumError:
                if self._download is not None:
                    self._download = None
                else:
                    replies += self._answer(RECEIVE_ERROR)
                continue
            except ProtocolError:
                continue
            if packet is None:
                return replies
            if packet.address == self.flash.address:
                replies += self._handle(packet)

    def _handle(self, packet: Packet) -> list[Reply]:
        if packet.kind in (PacketType.DATA, PacketType.END_DATA):
            self._take_data(packet)
            return []
        if packet.kind != PacketType.COMMAND:
            return []
        self._download = None
        self.commands_executed += 1
        code, params = packet.payload[0], packet.payload[1:]
        spec = self._specs.get(code)
        if spec is None:
            return self._answer(self.profile.unsupported_code)
        if len(params) != spec.params:
            return self._answer(RECEIVE_ERROR)
        if self.locked and code != Instruction.VFY_PWD:
            return self._answer(PASSWORD_NOT_VERIFIED)
        return spec.run(params)

    def _take_data(self, packet: Packet) -> None:
        download = self._download
        if download is None:
            return
        download.received += packet.payload
        if packet.kind == PacketType.END_DATA:
            self._download = None
            if len(download.received) == download.size:
                download.store(bytes(download.received))

    def _answer(
        self, code: int, results: bytes = b"", *, latency: float = COMMAND_SECONDS, data: bytes | None = None
    ) -> list[Reply]:
        packets = [ack(code, results, self.flash.address)]
        if data is not None:
            packets += data_packets(data, self.active_packet_size, self.flash.address)
        return [Reply(tuple(packets), latency, self.active_baud)]

    def _instruction_table(self) -> dict[int, _Spec]:
        table = {
            Instruction.GEN_IMG: _Spec(0, self._gen_img),
            Instruction.IMG2TZ: _Spec(1, self._img2tz),
            Instruction.MATCH: _Spec(0, self._match),
            Instruction.SEARCH: _Spec(5, lambda p: self._search(p, first_hit=False)),
            Instruction.HIGH_SPEED_SEARCH: _Spec(5, lambda p: self._search(p, first_hit=True)),
            Instruction.REG_MODEL: _Spec(0, self._reg_model),
            Instruction.STORE: _Spec(3, self._store),
            Instruction.LOAD_CHAR: _Spec(3, self._load_char),
            Instruction.UP_CHAR: _Spec(1, self._up_char),
            Instruction.DOWN_CHAR: _Spec(1, self._down_char),
            Instruction.UP_IMAGE: _Spec(0, self._up_image),
            Instruction.DOWN_IMAGE: _Spec(0, self._down_image),
            Instruction.DELETE_CHAR: _Spec(4, self._delete_char),
            Instruction.EMPTY: _Spec(0, self._empty),
            Instruction.SET_SYS_PARA: _Spec(2, self._set_sys_para),
            Instruction.READ_SYS_PARA: _Spec(0, self._read_sys_para),
            Instruction.SET_PWD: _Spec(4, self._set_pwd),
            Instruction.VFY_PWD: _Spec(4, self._vfy_pwd),
            Instruction.GET_RANDOM_CODE: _Spec(0, self._get_random_code),
            Instruction.SET_ADDER: _Spec(4, self._set_adder),
            Instruction.READ_INF_PAGE: _Spec(0, self._read_inf_page),
            Instruction.PORT_CONTROL: _Spec(1, self._port_control),
            Instruction.WRITE_NOTEPAD: _Spec(1 + NOTEPAD_PAGE_SIZE, self._write_notepad),
            Instruction.READ_NOTEPAD: _Spec(1, self._read_notepad),
            Instruction.TEMPLATE_NUM: _Spec(0, self._template_num),
            Instruction.READ_INDEX_TABLE: _Spec(1, self._read_index_table),
            Instruction.AURA_LED_CONFIG: _Spec(4, self._aura_led_config),
            Instruction.HANDSHAKE: _Spec(0, lambda _: self._answer(OK)),
        }
        return {int(code): spec for code, spec in table.items() if self.profile.supports(code)}

    # --- helpers ------------------------------------------------------------------------------

    def _buffer_index(self, buffer_id: int) -> int:
        """CharBuffer index for ``buffer_id``; out-of-range IDs mean the last buffer, as on the ZFM."""
        return buffer_id - 1 if 1 <= buffer_id <= self.profile.char_buffers else self.profile.char_buffers - 1

    def _threshold(self) -> int:
        return SECURITY_THRESHOLDS[self.flash.security_level]

    def _flash_written(self) -> float:
        self.flash.commit()
        return self.profile.flash_write_seconds

    # --- instructions -------------------------------------------------------------------------

    def _gen_img(self, _: bytes) -> list[Reply]:
        if self.finger is None:
            return self._answer(NO_FINGER, latency=NO_FINGER_SECONDS)
        self.image = self.finger.copy()
        return self._answer(OK, latency=self.profile.capture_seconds)

    def _img2tz(self, params: bytes) -> list[Reply]:
        if self.image is None:
            return self._answer(NO_VALID_IMAGE)
        try:
            features = self.extractor.extract(self.image)
        except FeatureExtractionError as error:
            return self._answer(error.code, latency=self.profile.convert_seconds)
        finally:
            if self.convert_clears_image:
                self.image = np.zeros_like(self.image)
        self.char_buffers[self._buffer_index(params[0])] = features
        return self._answer(OK, latency=self.profile.convert_seconds)

    def _match(self, _: bytes) -> list[Reply]:
        score = self.extractor.compare(self.char_buffers[0], self.char_buffers[1])
        self.matched = score >= self._threshold()
        return self._answer(OK if self.matched else NO_MATCH, score.to_bytes(2, "big"), latency=MATCH_SECONDS)

    def _search(self, params: bytes, *, first_hit: bool) -> list[Reply]:
        probe = self.char_buffers[self._buffer_index(params[0])]
        start, count = int.from_bytes(params[1:3], "big"), int.from_bytes(params[3:5], "big")
        best_page, best_score = 0, -1
        for page in range(start, min(start + count, self.flash.capacity)):
            template = self.flash.library.get(page)
            if template is None:
                continue
            score = self.extractor.compare(probe, template)
            if score >= self._threshold() and score > best_score:
                best_page, best_score = page, score
                if first_hit:
                    break
        self.matched = best_score >= 0
        latency = self.profile.search_seconds
        if not self.matched:
            return self._answer(NOT_FOUND, bytes(4), latency=latency)
        return self._answer(OK, best_page.to_bytes(2, "big") + best_score.to_bytes(2, "big"), latency=latency)

    def _reg_model(self, _: bytes) -> list[Reply]:
        first, second = self.char_buffers[0], self.char_buffers[1]
        if self.extractor.compare(first, second) < self._threshold():
            return self._answer(MERGE_FAILED, latency=MATCH_SECONDS)
        self.char_buffers[0] = self.char_buffers[1] = self.extractor.merge(first, second)
        return self._answer(OK, latency=MATCH_SECONDS)

    def _store(self, params: bytes) -> list[Reply]:
        page = int.from_bytes(params[1:3], "big")
        if page >= self.flash.capacity:
            return self._answer(BAD_PAGE)
        self.flash.library[page] = self.char_buffers[self._buffer_index(params[0])]
        return self._answer(OK, latency=self._flash_written())

    def _load_char(self, params: bytes) -> list[Reply]:
        page = int.from_bytes(params[1:3], "big")
        if page >= self.flash.capacity:
            return self._answer(BAD_PAGE)
        template = self.flash.library.get(page)
        if template is None:
            return self._answer(EMPTY_PAGE)
        self.char_buffers[self._buffer_index(params[0])] = template
        return self._answer(OK)

    def _up_char(self, params: bytes) -> list[Reply]:
        return self._answer(OK, data=self.char_buffers[self._buffer_index(params[0])])

    def _down_char(self, params: bytes) -> list[Reply]:
        index = self._buffer_index(params[0])

        def store(data: bytes) -> None:
            self.char_buffers[index] = data

        self._download = _Download(self.profile.template_size, store)
        return self._answer(OK)

    def _up_image(self, _: bytes) -> list[Reply]:
        if self.image is None:
            return self._answer(UPLOAD_IMAGE_FAILED)
        return self._answer(OK, data=pack_image(self.image))

    def _down_image(self, _: bytes) -> list[Reply]:
        def store(data: bytes) -> None:
            self.image = unpack_image(data, self.profile.image_width, self.profile.image_height)

        self._download = _Download(self.profile.image_bytes, store)
        return self._answer(OK)

    def _delete_char(self, params: bytes) -> list[Reply]:
        page, count = int.from_bytes(params[0:2], "big"), int.from_bytes(params[2:4], "big")
        if count == 0 or page + count > self.flash.capacity:
            return self._answer(DELETE_FAILED)
        for number in range(page, page + count):
            self.flash.library.pop(number, None)
        return self._answer(OK, latency=self._flash_written())

    def _empty(self, _: bytes) -> list[Reply]:
        self.flash.library.clear()
        return self._answer(OK, latency=self._flash_written())

    def _set_sys_para(self, params: bytes) -> list[Reply]:
        register, value = params
        if register == Register.SECURITY_LEVEL:
            if value not in SECURITY_THRESHOLDS:
                return self._answer(BAD_REGISTER_VALUE)
            self.flash.security_level = value
            return self._answer(OK, latency=self._flash_written())
        if register == Register.BAUD:
            if value not in self.profile.baud_multipliers:
                return self._answer(BAD_REGISTER_VALUE)
            return self._change_parameter(self.baud_change, "baud_multiplier", value)
        if register == Register.PACKET_SIZE:
            if value >= len(PACKET_SIZES):
                return self._answer(BAD_REGISTER_VALUE)
            return self._change_parameter(self.packet_change, "packet_size_code", value)
        return self._answer(INVALID_REGISTER)

    def _change_parameter(self, mode: ParameterChange, name: str, value: int) -> list[Reply]:
        """Acknowledge at the old settings; store and/or apply the new value as ``mode`` says."""
        if mode == "ignored":
            return self._answer(OK, latency=self.profile.flash_write_seconds)
        setattr(self.flash, name, value)
        reply = self._answer(OK, latency=self._flash_written())
        if mode == "immediate":
            self.active_baud_multiplier = self.flash.baud_multiplier
            self.active_packet_size = PACKET_SIZES[self.flash.packet_size_code]
        return reply

    def _read_sys_para(self, _: bytes) -> list[Reply]:
        flash = self.flash
        block = b"".join(
            (
                self.status_register.to_bytes(2, "big"),
                SYSTEM_ID.to_bytes(2, "big"),
                flash.capacity.to_bytes(2, "big"),
                flash.security_level.to_bytes(2, "big"),
                flash.address.to_bytes(4, "big"),
                flash.packet_size_code.to_bytes(2, "big"),
                flash.baud_multiplier.to_bytes(2, "big"),
            )
        )
        return self._answer(OK, block)

    def _set_pwd(self, params: bytes) -> list[Reply]:
        self.flash.password = int.from_bytes(params, "big")
        return self._answer(OK, latency=self._flash_written())

    def _vfy_pwd(self, params: bytes) -> list[Reply]:
        if int.from_bytes(params, "big") != self.flash.password:
            return self._answer(WRONG_PASSWORD)
        self.password_verified = True
        return self._answer(OK)

    def _get_random_code(self, _: bytes) -> list[Reply]:
        return self._answer(OK, self.rng.bytes(4))

    def _set_adder(self, params: bytes) -> list[Reply]:
        self.flash.address = int.from_bytes(params, "big")
        return self._answer(OK, latency=self._flash_written())

    def _read_inf_page(self, _: bytes) -> list[Reply]:
        info = f"livescan hw_sim {self.profile.name}".encode().ljust(INFO_PAGE_SIZE, b"\0")
        return self._answer(OK, data=info)

    def _port_control(self, params: bytes) -> list[Reply]:
        if params[0] not in (0, 1):
            return self._answer(PORT_FAILED)
        reply = self._answer(OK)
        self.port_enabled = params[0] == 1
        return reply

    def _write_notepad(self, params: bytes) -> list[Reply]:
        if params[0] >= NOTEPAD_PAGES:
            return self._answer(BAD_NOTEPAD_PAGE)
        self.flash.notepad[params[0]] = params[1:]
        return self._answer(OK, latency=self._flash_written())

    def _read_notepad(self, params: bytes) -> list[Reply]:
        if params[0] >= NOTEPAD_PAGES:
            return self._answer(BAD_NOTEPAD_PAGE)
        return self._answer(OK, self.flash.notepad[params[0]])

    def _template_num(self, _: bytes) -> list[Reply]:
        return self._answer(OK, len(self.flash.library).to_bytes(2, "big"))

    def _read_index_table(self, params: bytes) -> list[Reply]:
        bitmap = bytearray(32)
        first = params[0] * 256
        for page in self.flash.library:
            if first <= page < first + 256:
                bitmap[(page - first) // 8] |= 1 << (page % 8)
        return self._answer(OK, bytes(bitmap))

    def _aura_led_config(self, params: bytes) -> list[Reply]:
        self.led = AuraLed(*params)
        return self._answer(OK)
