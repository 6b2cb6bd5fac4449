"""Global Caché controller against a loopback TCP iTach peer; Pronto hex conversion."""

from __future__ import annotations

import pytest

from harness.control.pronto import PRONTO_CLOCK_HZ, parse_pronto
from harness.control.transport import CommandRejected
from harness.errors import BadInput, ControllerLost
from peers.globalcache import FakeItach
from peers.rig import closing_controllers, controller, shipped_controller  # noqa: F401 (autouse)

SHORT = "0000 006D 0001 0001 0156 00AB 0015 0E4A"


@pytest.fixture
def itach():
    peer = FakeItach()
    yield peer
    peer.close()


def make(peer, keymap=None, **spec):
    params = {"host": "127.0.0.1", "port": peer.port, "codes": {"OK": SHORT, "UP": SHORT}}
    return controller("itach", params, keymap or {"OK": "OK"}, name="stb", **spec)


def nec(bursts) -> tuple[int, int]:
    """(address, command) of an NEC frame given in carrier cycles (38 kHz)."""
    assert (bursts[0], bursts[1]) == (0x156, 0xAB)
    bits = [1 if space > 2 * mark else 0 for mark, space in zip(bursts[2:66:2], bursts[3:67:2])]
    value = sum(bit << i for i, bit in enumerate(bits))
    address, address_inv, command, command_inv = (value >> s & 0xFF for s in (0, 8, 16, 24))
    assert address ^ address_inv == 0xFF and command ^ command_inv == 0xFF
    return address, command


def test_pronto_parse_keeps_cycles_and_converts_the_carrier():
    code = parse_pronto(SHORT)
    assert code.frequency_hz == round(PRONTO_CLOCK_HZ / 0x6D) == 38029
    assert code.once == (0x156, 0xAB) and code.repeat == (0x15, 0xE4A) and code.repeat_offset == 3
    assert parse_pronto("0000 0068 0000 0001 0010 0020").repeat_offset == 1


@pytest.mark.parametrize("text, error", [
    ("0100 006D 0001 0000 0010 0020", "only learned Pronto codes"),
    ("0000 006D 0002 0000 0010 0020", r"announces 2\+0 burst pairs"),
    ("0000 0000 0001 0000 0010 0020", "carrier frequency word is 0000"),
    ("0000 006D 0001 0000 0010 zz20", "not Pronto hex"),
    ("0000 6D 0001 0000 0010 0020", "4-digit words"),
])
def test_bad_pronto_is_named(text, error):
    with pytest.raises(BadInput, match=error):
        parse_pronto(text, "OK")


def test_press_sends_sendir_byte_for_byte(itach):
    remote = make(itach, {"OK": "OK", "UP": "UP"})
    remote.press("OK")
    remote.press("UP")
    assert bytes(itach.received) == (b"sendir,1:1,1,38029,1,3,342,171,21,3658\r"
                                     b"sendir,1:1,2,38029,1,3,342,171,21,3658\r")
    assert remote.probe() == {"address": f"127.0.0.1:{itach.port}", "version": "710-1005-05",
                              "connector": "1:1", "codes": 2}


def test_hold_repeats_until_stopir(itach):
    remote = make(itach)
    remote.press("OK", hold_s=0.05)
    remote.press("OK")
    assert bytes(itach.received) == (b"sendir,1:1,1,38029,50,3,342,171,21,3658\r"
                                     b"stopir,1:1\r"
                                     b"sendir,1:1,2,38029,1,3,342,171,21,3658\r")
    assert itach.stopped == ["1:1"]


def test_shipped_cablebox_profile_sends_its_nec_codes(itach):
    profile, remote = shipped_controller("cablebox-ir", host="127.0.0.1", port=itach.port)
    for key in profile.controller.keymap:
        remote.press(key)
    assert len(itach.sent) == len(profile.controller.keymap)
    sent = {key: nec(ir.bursts) for key, ir in zip(profile.controller.keymap, itach.sent)}
    assert sent["OK"] == (0x40, 0x16) and sent["POWER"] == (0x40, 0x12) and sent["0"] == (0x40, 0)
    assert all(ir.frequency == 38029 and ir.offset == 69 for ir in itach.sent)
    assert itach.sent[0].bursts[-4:] == [0x156, 0x56, 0x15, 0xE4A]  # the NEC repeat frame


def test_unit_errors_are_rejections_with_their_meaning():
    peer = FakeItach(connectors=("1:2",))
    try:
        with pytest.raises(CommandRejected, match=r"ERR_1:1,003 \(invalid connector address\)"):
            make(peer).press("OK")
    finally:
        peer.close()


def test_busy_emitter_is_retried(itach):
    remote = make(itach, retries=0)
    itach.transmitting["1:1"] = 99  # another client is sending
    with pytest.raises(ControllerLost, match=r"emitter busy \(busyIR,1:1,1\)"):
        remote.press("OK")


@pytest.mark.parametrize("mode, error", [
    ("garbage", "unexpected reply 'Hello there'"),
    ("silent", "timed out"),
    ("hangup", "connection closed by peer"),
])
def test_faults_are_retried_then_controller_lost(mode, error):
    peer = FakeItach(mode=mode)
    try:
        remote = make(peer, io_timeout_s=0.3, retries=1)
        with pytest.raises(ControllerLost, match=rf"'stb': press OK failed over Global Caché TCP "
                                                 rf"after 2 attempts: .*{error}"):
            remote.press("OK")
        assert peer.connections == 2
    finally:
        peer.close()


def test_unit_gone_is_controller_lost(itach):
    remote = make(itach, retries=1)
    remote.press("OK")
    itach.close()
    with pytest.raises(ControllerLost, match=rf"cannot connect to Global Caché unit at "
                                             rf"127.0.0.1:{itach.port}"):
        remote.press("OK")


def test_keymap_code_missing_from_the_code_set(itach):
    with pytest.raises(BadInput, match="keymap codes without an IR code: NETFLIX"):
        make(itach, {"OK": "OK", "NETFLIX": "NETFLIX"})
