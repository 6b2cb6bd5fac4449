"""LIRC controller against a real lircd (Debian's lirc, file driver) and scripted socket peers.

lircd's file driver writes the pulse/space timings it would send to an emitter; the tests
decode them (RC6) and check each key came out as the code the profile names.
"""

from __future__ import annotations

import time

import pytest

from harness.control.transport import CommandRejected
from harness.errors import ControllerLost
from harness.profile import DEVICES_DIR
from peers.lircd import Lircd, decode_rc6
from peers.rig import closing_controllers, controller, shipped_controller  # noqa: F401 (autouse)
from peers.stream import StreamPeer

XBOX_CONF = DEVICES_DIR / "ir" / "xbox-mce.lircd.conf"
MCE = 0x800F0400  # Media Center remote: RC6 mode 6A, customer 0x800F
TOGGLE = 0x8000


@pytest.fixture
def lircd(tmp_path):
    daemon = Lircd(XBOX_CONF, tmp_path, listen=True)
    yield daemon
    daemon.stop()


def mce_command(frame) -> int:
    bits = decode_rc6(frame)
    assert bits >> 32 == 0b11100, "start bit 1, mode 6 (110), trailer 0"
    data = bits & 0xFFFFFFFF & ~TOGGLE
    assert data & ~0xFF == MCE, hex(data)
    return data & 0xFF


def test_shipped_xbox_profile_drives_lircd(lircd):
    """Every keymap code is in the shipped lircd.conf (probe); a sample is sent and decoded."""
    profile, remote = shipped_controller("xbox", socket=lircd.socket)
    assert remote.probe() == {"lircd": "0.10.1", "socket": lircd.socket, "remote": "xbox_mce",
                              "codes": 33}
    expected = {"OK": 0x22, "UP": 0x1E, "HOME": 0x0D, "BACK": 0x23, "POWER": 0x0C, "0": 0x00,
                "9": 0x09, "GUIDE": 0x26}
    for key in expected:
        remote.press(key)
    assert [mce_command(frame) for frame in lircd.frames()] == list(expected.values())


def test_hold_repeats_until_released_over_tcp(lircd):
    remote = controller("lirc", {"remote": "xbox_mce", "socket": f"127.0.0.1:{lircd.port}"},
                        {"RIGHT": "KEY_RIGHT", "OK": "KEY_OK"})
    remote.press("RIGHT", hold_s=0.4)
    remote.press("OK")
    deadline = time.monotonic() + 2
    while len(lircd.frames()) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    commands = [mce_command(frame) for frame in lircd.frames()]
    assert commands[-1] == 0x22 and set(commands[:-1]) == {0x21} and len(commands) >= 3
    assert [k.action for k in remote.keylog] == ["hold", "press"]


def test_unknown_code_is_rejected_with_lircds_reason(lircd):
    remote = controller("lirc", {"remote": "xbox_mce", "socket": lircd.socket},
                        {"NETFLIX": "KEY_NETFLIX"})
    with pytest.raises(CommandRejected, match=r'refused `SEND_ONCE xbox_mce KEY_NETFLIX`: '
                                              r'unknown command: "KEY_NETFLIX"'):
        remote.press("NETFLIX")
    assert remote.probe()["problems"] == ["keymap codes not in lircd's remote 'xbox_mce': "
                                          "KEY_NETFLIX"]


def test_lircd_gone_is_controller_lost(lircd):
    remote = controller("lirc", {"remote": "xbox_mce", "socket": lircd.socket},
                        {"OK": "KEY_OK"}, name="xbox", retries=1)
    remote.press("OK")
    lircd.stop()
    with pytest.raises(ControllerLost, match=rf"'xbox': press OK failed over lircd socket after "
                                             rf"2 attempts: .*lircd at {lircd.socket}"):
        remote.press("OK")


def scripted(tmp_path, replies):
    """A Unix-socket peer that answers each command line with ``replies(line)``."""
    def handler(peer, conn):
        buffer = bytearray()
        while (line := peer.recv_until(conn, b"\n", buffer)) is not None:
            reply = replies(line.decode().strip())
            if reply is None:
                time.sleep(1)
                return
            conn.sendall(reply.encode())
    return StreamPeer(handler, unix_path=str(tmp_path / "fake-lircd.sock"))


def test_broadcasts_between_replies_are_skipped(tmp_path):
    peer = scripted(tmp_path, lambda line: f"BEGIN\nSIGHUP\nEND\nBEGIN\n{line}\nSUCCESS\nEND\n")
    remote = controller("lirc", {"remote": "tv", "socket": peer.address}, {"OK": "KEY_OK"})
    remote.press("OK", hold_s=0.01)
    peer.close()
    assert bytes(peer.received) == b"SEND_START tv KEY_OK\nSEND_STOP tv KEY_OK\n"


@pytest.mark.parametrize("reply, error", [
    ("HTTP/1.1 400 Bad Request\n", "garbled reply: 'HTTP/1.1 400 Bad Request' where BEGIN belongs"),
    ("BEGIN\n{line}\nSUCCESS\nDATA\nmany\n", "garbled reply: DATA count 'many'"),
    ("BEGIN\n{line}\nMAYBE\nEND\n", "garbled reply: status 'MAYBE'"),
    ("", "connection closed by peer"),
    (None, "timed out"),
])
def test_garbage_and_silence_are_retried_then_controller_lost(tmp_path, reply, error):
    def replies(line):
        if reply == "":
            raise OSError("hang up")
        return None if reply is None else reply.format(line=line)
    peer = scripted(tmp_path, replies)
    remote = controller("lirc", {"remote": "tv", "socket": peer.address}, {"OK": "KEY_OK"},
                        io_timeout_s=0.3, retries=1)
    with pytest.raises(ControllerLost, match=error):
        remote.press("OK")
    peer.close()
    assert peer.connections == 2 and bytes(peer.received) == b"SEND_ONCE tv KEY_OK\n" * 2
