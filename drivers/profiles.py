"""What differs between module models that speak the same protocol.

The values are the documented ones (see ``shared/reference/zfm-protocol.md``); what a module can
report about itself (capacity, packet size, baud) is always read from it, never taken from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.codec import Instruction

_CORE = frozenset(
    {
        Instruction.GEN_IMG,
        Instruction.IMG2TZ,
        Instruction.MATCH,
        Instruction.SEARCH,
        Instruction.REG_MODEL,
        Instruction.STORE,
        Instruction.LOAD_CHAR,
        Instruction.UP_CHAR,
        Instruction.DOWN_CHAR,
        Instruction.UP_IMAGE,
        Instruction.DOWN_IMAGE,
        Instruction.DELETE_CHAR,
        Instruction.EMPTY,
        Instruction.SET_SYS_PARA,
        Instruction.READ_SYS_PARA,
        Instruction.SET_PWD,
        Instruction.VFY_PWD,
        Instruction.GET_RANDOM_CODE,
        Instruction.SET_ADDER,
        Instruction.WRITE_NOTEPAD,
        Instruction.READ_NOTEPAD,
        Instruction.TEMPLATE_NUM,
        Instruction.READ_INDEX_TABLE,
        Instruction.HIGH_SPEED_SEARCH,
    }
)


@dataclass(frozen=True)
class ModelProfile:
    name: str
    image_width: int
    image_height: int
    capacity: int
    template_size: int
    baud_multipliers: tuple[int, ...]
    char_buffers: int
    instructions: frozenset[Instruction]
    handshake: Instruction | None = None
    unsupported_code: int = 0x01
    power_up_seconds: float = 0.5
    #: The instruction latency ceilings the manual gives, in seconds.
    capture_seconds: float = 0.5
    convert_seconds: float = 0.5
    search_seconds: float = 1.0
    flash_write_seconds: float = 1.0
    #: Img2Tz overwrites the image buffer, so an UpImage after it returns a black frame
    #: (reported for the R503: zfm-protocol.md sections 5.1 and 7).
    convert_clears_image: bool = False

    @property
    def has_aura_led(self) -> bool:
        return Instruction.AURA_LED_CONFIG in self.instructions

    @property
    def image_bytes(self) -> int:
        """Bytes of an uploaded image: two 4-bit pixels per byte."""
        return self.image_width * self.image_height // 2

    def supports(self, instruction: Instruction) -> bool:
        return instruction in self.instructions


R307 = ModelProfile(
    name="r307",
    image_width=256,
    image_height=288,
    capacity=1000,
    template_size=512,
    baud_multipliers=tuple(range(1, 13)),
    char_buffers=2,
    instructions=_CORE | {Instruction.PORT_CONTROL},
    capture_seconds=0.5,
    search_seconds=1.0,
    power_up_seconds=0.5,
)

ZFM20 = ModelProfile(
    name="zfm20",
    image_width=256,
    image_height=288,
    capacity=880,
    template_size=512,
    baud_multipliers=tuple(range(1, 13)),
    char_buffers=2,
    instructions=_CORE | {Instruction.PORT_CONTROL},
    capture_seconds=1.0,
    search_seconds=1.0,
    power_up_seconds=0.5,
)

AS608 = ModelProfile(
    name="as608",
    image_width=256,
    image_height=288,
    capacity=300,
    template_size=768,
    baud_multipliers=tuple(range(1, 13)),
    char_buffers=2,
    instructions=_CORE | {Instruction.READ_INF_PAGE, Instruction.PORT_CONTROL},
    capture_seconds=0.5,
    search_seconds=1.0,
    power_up_seconds=0.2,
)

R503 = ModelProfile(
    name="r503",
    image_width=192,
    image_height=192,
    capacity=200,
    template_size=1536,
    baud_multipliers=(1, 2, 4, 6, 12),
    char_buffers=6,
    instructions=_CORE | {Instruction.READ_INF_PAGE, Instruction.AURA_LED_CONFIG, Instruction.HANDSHAKE},
    handshake=Instruction.HANDSHAKE,
    unsupported_code=0xFC,
    capture_seconds=0.2,
    search_seconds=0.5,
    power_up_seconds=0.05,
    convert_clears_image=True,
)

PROFILES: dict[str, ModelProfile] = {p.name: p for p in (R307, ZFM20, AS608, R503)}


def profile(name: str) -> ModelProfile:
    """The profile called ``name`` (case-insensitive)."""
    try:
        return PROFILES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown sensor model {name!r}; known models: {', '.join(PROFILES)}") from None
