from __future__ import annotations

import numpy as np
import pytest

from drivers import codec
from drivers.codec import PACKET_SIZES, Instruction, PacketType, Register, pack_image, unpack_image
from drivers.profiles import R307, R503
from hw_sim.features import SECURITY_THRESHOLDS
from hw_sim.fingers import SyntheticSource
from hw_sim.flash import Flash
from hw_sim.module import SimulatedModule

Op = Instruction


def golden(text: str) -> bytes:
    return bytes.fromhex(text)


# --- reference section 1.4 ----------------------------------------------------------------------


def test_worked_examples_get_the_documented_replies(module, place):
    ok = golden("EF 01 FF FF FF FF 07 00 03 00 00 0A")
    no_finger = golden("EF 01 FF FF FF FF 07 00 03 02 00 0C")
    assert module.receive(golden("EF 01 FF FF FF FF 01 00 07 13 00 00 00 00 00 1B"))[0].data == ok
    assert module.receive(golden("EF 01 FF FF FF FF 01 00 03 01 00 05"))[0].data == no_finger
    place()
    assert module.receive(golden("EF 01 FF FF FF FF 01 00 03 01 00 05"))[0].data == ok
    assert module.receive(golden("EF 01 FF FF FF FF 01 00 04 02 01 00 08"))[0].data == ok
    upload = module.receive(golden("EF 01 FF FF FF FF 01 00 03 0A 00 0E"))[0]
    assert upload.packets[0] == ok
    assert len(upload.data) == 12 + 288 * 139 + 0


def test_read_sys_para_block(module):
    reply = module.receive(golden("EF 01 FF FF FF FF 01 00 03 0F 00 13"))[0].data
    assert len(reply) == 28
    assert reply[:10] == golden("EF 01 FF FF FF FF 07 00 13 00")
    status, system_id, capacity, level = (int.from_bytes(reply[i : i + 2], "big") for i in (10, 12, 14, 16))
    assert (status, system_id, capacity, level) == (0, 0, 1000, 3)
    assert reply[18:22] == b"\xff\xff\xff\xff"
    assert reply[22:26] == golden("00 02 00 06")


# --- ack layouts --------------------------------------------------------------------------------

ACK_LENGTHS = [
    (Op.GEN_IMG, b"", 3),
    (Op.MATCH, b"", 5),
    (Op.SEARCH, b"\x01\x00\x00\x03\xe8", 7),
    (Op.HIGH_SPEED_SEARCH, b"\x01\x00\x00\x03\xe8", 7),
    (Op.REG_MODEL, b"", 3),
    (Op.STORE, b"\x01\x00\x01", 3),
    (Op.LOAD_CHAR, b"\x01\x00\x01", 3),
    (Op.DELETE_CHAR, b"\x00\x00\x00\x01", 3),
    (Op.EMPTY, b"", 3),
    (Op.SET_SYS_PARA, b"\x05\x03", 3),
    (Op.READ_SYS_PARA, b"", 0x13),
    (Op.SET_PWD, b"\x00\x00\x00\x00", 3),
    (Op.VFY_PWD, b"\x00\x00\x00\x00", 3),
    (Op.GET_RANDOM_CODE, b"", 7),
    (Op.SET_ADDER, b"\xff\xff\xff\xff", 3),
    (Op.PORT_CONTROL, b"\x01", 3),
    (Op.WRITE_NOTEPAD, b"\x00" + bytes(32), 3),
    (Op.READ_NOTEPAD, b"\x00", 0x23),
    (Op.TEMPLATE_NUM, b"", 5),
    (Op.READ_INDEX_TABLE, b"\x00", 0x23),
]


@pytest.mark.parametrize(
    ("instruction", "params", "length"), ACK_LENGTHS, ids=lambda v: getattr(v, "name", "")
)
def test_ack_length(module, instruction, params, length):
    replies = module.receive(codec.command(instruction, params))
    ack = replies[0].packets[0]
    assert ack[6] == PacketType.ACK
    assert int.from_bytes(ack[7:9], "big") == length


# --- error answers -----------------------------------------------------------------------------


def code_of(packets) -> int:
    return packets[0].payload[0]


def test_no_image_answers(ask):
    assert code_of(ask(Op.IMG2TZ, b"\x01")) == 0x15
    assert code_of(ask(Op.UP_IMAGE)) == 0x0F


def test_blank_and_noisy_images(module, ask):
    module.place_finger(np.full((288, 256), 255, np.uint8))
    ask(Op.GEN_IMG)
    assert code_of(ask(Op.IMG2TZ, b"\x01")) == 0x07
    module.place_finger(np.random.default_rng(0).integers(0, 256, (288, 256), dtype=np.uint8))
    ask(Op.GEN_IMG)
    assert code_of(ask(Op.IMG2TZ, b"\x01")) == 0x06


@pytest.mark.parametrize(
    ("instruction", "params", "code"),
    [
        (Op.STORE, b"\x01\x03\xe8", 0x0B),
        (Op.LOAD_CHAR, b"\x01\x03\xe8", 0x0B),
        (Op.LOAD_CHAR, b"\x01\x00\x07", 0x0C),
        (Op.DELETE_CHAR, b"\x03\xe7\x00\x02", 0x10),
        (Op.SET_SYS_PARA, b"\x07\x01", 0x1A),
        (Op.SET_SYS_PARA, b"\x04\x0d", 0x1B),
        (Op.SET_SYS_PARA, b"\x04\x00", 0x1B),
        (Op.SET_SYS_PARA, b"\x05\x06", 0x1B),
        (Op.SET_SYS_PARA, b"\x06\x04", 0x1B),
        (Op.WRITE_NOTEPAD, b"\x10" + bytes(32), 0x1C),
        (Op.READ_NOTEPAD, b"\x10", 0x1C),
        (Op.VFY_PWD, b"\x00\x00\x00\x01", 0x13),
        (Op.PORT_CONTROL, b"\x02", 0x1D),
        (Op.MATCH, b"", 0x08),
        (Op.REG_MODEL, b"", 0x0A),
        (Op.IMG2TZ, b"", 0x01),
        (Op.GET_ECHO, b"", 0x01),
        (0x77, b"", 0x01),
    ],
)
def test_error_codes(ask, instruction, params, code):
    assert code_of(ask(instruction, params)) == code


def test_search_not_found_has_zero_page_and_score(ask):
    packets = ask(Op.SEARCH, b"\x01\x00\x00\x03\xe8")
    assert packets[0].payload == b"\x09\x00\x00\x00\x00"


def test_unsupported_instruction_on_r503_answers_fc(unpack):
    module = SimulatedModule(R503)
    assert unpack(module.receive(codec.command(Op.PORT_CONTROL, b"\x01")))[0].payload == b"\xfc"


def test_bad_checksum_gets_0x01_and_garbage_or_other_address_is_ignored(module, unpack):
    corrupt = bytearray(codec.command(Op.TEMPLATE_NUM))
    corrupt[-1] ^= 0x40
    assert unpack(module.receive(bytes(corrupt)))[0].payload == b"\x01"
    assert module.receive(b"\x00\x55garbage\xef\x02") == []
    assert module.receive(codec.command(Op.TEMPLATE_NUM, address=0x12345678)) == []
    assert unpack(module.receive(codec.command(Op.TEMPLATE_NUM)))[0].payload == b"\x00\x00\x00"


def test_command_split_across_writes(module, unpack):
    raw = codec.command(Op.TEMPLATE_NUM)
    assert [module.receive(raw[i : i + 1]) for i in range(len(raw) - 1)] == [[]] * (len(raw) - 1)
    assert unpack(module.receive(raw[-1:]))[0].payload == b"\x00\x00\x00"


# --- capture, templates, library ---------------------------------------------------------------


def test_enrol_store_search_flow(module, ask, place):
    place("S0003", 4)
    assert code_of(ask(Op.GEN_IMG)) == 0
    assert module.status_register & 0x08
    assert code_of(ask(Op.IMG2TZ, b"\x01")) == 0
    place("S0003", 4)
    ask(Op.GEN_IMG)
    assert code_of(ask(Op.IMG2TZ, b"\x02")) == 0
    match = ask(Op.MATCH)[0].payload
    assert match[0] == 0 and int.from_bytes(match[1:], "big") >= 50
    assert code_of(ask(Op.REG_MODEL)) == 0
    assert code_of(ask(Op.STORE, b"\x01\x00\x05")) == 0
    assert ask(Op.TEMPLATE_NUM)[0].payload == b"\x00\x00\x01"
    assert ask(Op.READ_INDEX_TABLE, b"\x00")[0].payload[1:] == b"\x20" + bytes(31)
    place("S0003", 4)
    ask(Op.GEN_IMG)
    ask(Op.IMG2TZ, b"\x01")
    for search in (Op.SEARCH, Op.HIGH_SPEED_SEARCH):
        found = ask(search, b"\x01\x00\x00\x03\xe8")[0].payload
        assert found[:3] == b"\x00\x00\x05" and int.from_bytes(found[3:], "big") >= 50
    place("S0004", 4)
    ask(Op.GEN_IMG)
    ask(Op.IMG2TZ, b"\x01")
    assert code_of(ask(Op.SEARCH, b"\x01\x00\x00\x03\xe8")) == 0x09
    assert code_of(ask(Op.LOAD_CHAR, b"\x02\x00\x05")) == 0
    assert code_of(ask(Op.DELETE_CHAR, b"\x00\x05\x00\x01")) == 0
    assert ask(Op.TEMPLATE_NUM)[0].payload == b"\x00\x00\x00"


def test_img2tz_works_after_upimage(module, ask, place):
    place()
    ask(Op.GEN_IMG)
    assert len(ask(Op.UP_IMAGE)) == 1 + 288
    assert code_of(ask(Op.IMG2TZ, b"\x01")) == 0


@pytest.mark.parametrize("code", range(4))
def test_upimage_packets_and_nibble_packing(module, ask, code):
    image = (np.arange(288 * 256).reshape(288, 256) % 256).astype(np.uint8)
    image[0, :2] = (0xA0, 0x5F)
    module.flash.packet_size_code = code
    module.power_cycle()
    module.place_finger(image)
    ask(Op.GEN_IMG)
    packets = ask(Op.UP_IMAGE)[1:]
    size = PACKET_SIZES[code]
    assert len(packets) == 36864 // size
    assert all(p.kind == PacketType.DATA and len(p.payload) == size for p in packets[:-1])
    assert packets[-1].kind == PacketType.END_DATA
    data = b"".join(p.payload for p in packets)
    assert data[0] == 0xA5  # high nibble = left pixel
    assert data == pack_image(image)


@pytest.mark.parametrize("code", range(4))
def test_downchar_upchar_round_trip(module, ask, code):
    module.flash.packet_size_code = code
    module.power_cycle()
    template = bytes(np.random.default_rng(code).integers(0, 256, 512, dtype=np.uint8))
    assert code_of(ask(Op.DOWN_CHAR, b"\x02")) == 0
    for packet in codec.data_packets(template, PACKET_SIZES[code]):
        assert module.receive(packet) == []
    packets = ask(Op.UP_CHAR, b"\x02")
    assert code_of(packets) == 0
    assert all(len(p.payload) == PACKET_SIZES[code] for p in packets[1:])
    assert b"".join(p.payload for p in packets[1:]) == template


def test_download_of_wrong_length_is_discarded(module, ask):
    ask(Op.DOWN_CHAR, b"\x01")
    for packet in codec.data_packets(b"\x07" * 300, 128):
        module.receive(packet)
    assert module.char_buffers[0] == bytes(512)


def test_downimage_then_upimage(module, ask):
    image = np.random.default_rng(3).integers(0, 16, (288, 256), dtype=np.uint8) * 17
    assert code_of(ask(Op.DOWN_IMAGE)) == 0
    for packet in codec.data_packets(pack_image(image), 128):
        module.receive(packet)
    assert np.array_equal(module.image, image)
    assert b"".join(p.payload for p in ask(Op.UP_IMAGE)[1:]) == pack_image(image)


def test_notepad_and_random_code(ask):
    page = bytes(range(32))
    assert code_of(ask(Op.WRITE_NOTEPAD, b"\x0f" + page)) == 0
    assert ask(Op.READ_NOTEPAD, b"\x0f")[0].payload == b"\x00" + page
    first, second = (ask(Op.GET_RANDOM_CODE)[0].payload for _ in range(2))
    assert first != second and first[0] == 0


# --- password, address, parameters, power ------------------------------------------------------


def test_password_lock(ask, module):
    assert code_of(ask(Op.SET_PWD, b"\x00\x00\x12\x34")) == 0
    module.power_cycle()
    assert code_of(ask(Op.TEMPLATE_NUM)) == 0x21
    assert code_of(ask(Op.GEN_IMG)) == 0x21
    assert code_of(ask(Op.VFY_PWD, b"\x00\x00\x00\x00")) == 0x13
    assert code_of(ask(Op.VFY_PWD, b"\x00\x00\x12\x34")) == 0
    assert module.status_register & 0x04
    assert code_of(ask(Op.TEMPLATE_NUM)) == 0


def test_set_adder_replies_from_the_new_address(module, ask):
    packets = ask(Op.SET_ADDER, b"\x12\x34\x56\x78")
    assert packets[0].address == 0x12345678 and code_of(packets) == 0
    assert ask(Op.TEMPLATE_NUM) == []
    module.power_cycle()
    reply = ask(Op.TEMPLATE_NUM, address=0x12345678)
    assert reply[0].address == 0x12345678 and code_of(reply) == 0


def test_power_cycle_keeps_flash_and_loses_ram(module, ask, place):
    place()
    ask(Op.GEN_IMG)
    ask(Op.IMG2TZ, b"\x01")
    ask(Op.STORE, b"\x01\x00\x02")
    ask(Op.SET_SYS_PARA, b"\x05\x05")
    ask(Op.WRITE_NOTEPAD, b"\x01" + b"n" * 32)
    assert module.power_cycle() == []
    assert module.image is None and module.char_buffers[0] == bytes(512)
    assert ask(Op.TEMPLATE_NUM)[0].payload == b"\x00\x00\x01"
    assert ask(Op.READ_NOTEPAD, b"\x01")[0].payload[1:] == b"n" * 32
    assert ask(Op.READ_SYS_PARA)[0].payload[7:9] == b"\x00\x05"


def test_flash_file_persists_across_modules(tmp_path, place):
    path = tmp_path / "flash" / "r307.json"
    first = SimulatedModule(R307, flash=Flash.open(path, R307.capacity, password=0x42))
    first.receive(codec.command(Op.VFY_PWD, b"\x00\x00\x00\x42"))
    first.receive(codec.command(Op.DOWN_CHAR, b"\x01"))
    for packet in codec.data_packets(b"\x05" * 512, 128):
        first.receive(packet)
    first.receive(codec.command(Op.STORE, b"\x01\x00\x09"))
    first.receive(codec.command(Op.SET_ADDER, b"\x00\x00\x00\x01"))
    assert sorted(p.name for p in path.parent.iterdir()) == ["r307.json"]
    second = SimulatedModule(R307, flash=Flash.open(path, R307.capacity))
    assert second.flash.library == {9: b"\x05" * 512}
    assert second.flash.address == 1 and second.flash.password == 0x42
    assert second.locked


@pytest.mark.parametrize("mode", ["next_boot", "immediate", "ignored"])
@pytest.mark.parametrize(("register", "value"), [(Register.BAUD, 12), (Register.PACKET_SIZE, 3)])
def test_set_sys_para_modes(mode, register, value):
    kwargs = {"baud_change" if register == Register.BAUD else "packet_change": mode}
    module = SimulatedModule(R307, **kwargs)

    def active() -> tuple[int, int]:
        return module.active_baud, module.active_packet_size

    before = active()
    reply = module.receive(codec.command(Op.SET_SYS_PARA, bytes((register, value))))[0]
    assert reply.baud == 57600 and reply.packets[0] == codec.ack(0)
    changed = (115200, 128) if register == Register.BAUD else (57600, 256)
    assert active() == {"next_boot": before, "immediate": changed, "ignored": before}[mode]
    offset = 16 if register == Register.BAUD else 14
    reported = module.receive(codec.command(Op.READ_SYS_PARA))[0].packets[0][9 + offset]
    default = 6 if register == Register.BAUD else 2
    assert reported == (default if mode == "ignored" else value)
    module.power_cycle()
    assert active() == (before if mode == "ignored" else changed)


def test_security_level_takes_effect_at_once(module, ask, place):
    place("S0001", 2)
    ask(Op.GEN_IMG)
    ask(Op.IMG2TZ, b"\x01")
    place("S0001", 2)
    ask(Op.GEN_IMG)
    ask(Op.IMG2TZ, b"\x02")
    score = int.from_bytes(ask(Op.MATCH)[0].payload[1:], "big")
    assert SECURITY_THRESHOLDS[1] <= score < SECURITY_THRESHOLDS[5]  # a genuine pair, not a copy
    ask(Op.SET_SYS_PARA, b"\x05\x05")
    assert code_of(ask(Op.MATCH)) == 0x08
    ask(Op.SET_SYS_PARA, b"\x05\x01")
    assert code_of(ask(Op.MATCH)) == 0
    assert module.flash.security_level == 1


def test_port_control_off_makes_the_module_deaf_until_power_cycle(module, ask):
    assert code_of(ask(Op.PORT_CONTROL, b"\x00")) == 0
    assert ask(Op.TEMPLATE_NUM) == []
    module.power_cycle()
    assert code_of(ask(Op.TEMPLATE_NUM)) == 0


def test_r503_extras(unpack):
    module = SimulatedModule(R503)
    assert [r.data for r in module.power_cycle()] == [b"\x55"]
    info = unpack(module.receive(codec.command(Op.READ_INF_PAGE)))
    assert info[0].payload == b"\x00" and sum(len(p.payload) for p in info[1:]) == 512
    assert (
        unpack(module.receive(codec.command(Op.AURA_LED_CONFIG, b"\x01\x80\x02\x03")))[0].payload == b"\x00"
    )
    assert (module.led.mode, module.led.speed, module.led.colour, module.led.count) == (1, 0x80, 2, 3)
    assert unpack(module.receive(codec.command(Op.HANDSHAKE)))[0].payload == b"\x00"
    assert len(module.char_buffers) == 6


def test_instruction_latencies(module, place):
    assert module.receive(codec.command(Op.GEN_IMG))[0].latency < R307.capture_seconds
    place()
    assert module.receive(codec.command(Op.GEN_IMG))[0].latency == R307.capture_seconds
    assert module.receive(codec.command(Op.IMG2TZ, b"\x01"))[0].latency == R307.convert_seconds
    assert module.receive(codec.command(Op.SEARCH, b"\x01\x00\x00\x00\x10"))[0].latency == R307.search_seconds
    assert module.receive(codec.command(Op.STORE, b"\x01\x00\x00"))[0].latency == R307.flash_write_seconds


@pytest.mark.parametrize(("clears", "expected_black"), [(None, False), (True, True), (False, False)])
def test_upimage_after_img2tz_is_black_only_on_a_module_that_clears_its_image(clears, expected_black, place):
    module = SimulatedModule(R307, seed=1, convert_clears_image=clears)
    module.place_finger(SyntheticSource(256, 288).impression("S0001", 1, np.random.default_rng(3)))
    parser = codec.PacketParser(address=None)
    for instruction, params in ((Op.GEN_IMG, b""), (Op.IMG2TZ, b"\x01"), (Op.UP_IMAGE, b"")):
        for reply in module.receive(codec.command(instruction, params)):
            parser.feed(reply.data)
    packets = []
    while (packet := parser.next_packet()) is not None:
        packets.append(packet)
    assert [p.payload[0] for p in packets[:3]] == [0, 0, 0]  # GenImg, Img2Tz and UpImage all OK
    uploaded = unpack_image(b"".join(p.payload for p in packets[3:]), 256, 288)
    assert bool(uploaded.max() == 0) is expected_black


def test_the_r503_profile_clears_its_image_in_img2tz():
    assert R503.convert_clears_image and SimulatedModule(R503).convert_clears_image
    assert not R307.convert_clears_image
