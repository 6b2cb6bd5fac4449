"""ADB controller against the real adb server (Debian's `adb`) with a simulated device behind it.

The device is tests/peers/adbd.py: it speaks the adb transport protocol on a loopback
port and the real server attaches to it with `host:connect`, as to a Fire TV over Wi-Fi.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

from harness.control.transport import CommandRejected
from harness.errors import BadInput, ControllerLost
from peers.adbd import FakeAdbd
from peers.rig import closing_controllers, controller, shipped_controller  # noqa: F401 (autouse)
from peers.stream import StreamPeer, free_port

RC = b"; echo __adb_rc=$?"
KEYMAP = {"HOME": "KEYCODE_HOME", "OK": "KEYCODE_DPAD_CENTER", "EVIL": "KEYCODE_HOME; reboot"}


@pytest.fixture(scope="module")
def adb_server(tmp_path_factory):
    adb = shutil.which("adb")
    if adb is None:
        pytest.fail("the adb binary is required (scripts/setup.sh installs Debian's adb)")
    port = free_port()
    env = dict(os.environ, HOME=str(tmp_path_factory.mktemp("adbhome")))
    server = subprocess.Popen([adb, "-L", f"tcp:{port}", "server", "nodaemon"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "adb server did not start"
            time.sleep(0.02)
    yield f"127.0.0.1:{port}"
    server.terminate()
    server.wait(10)


@pytest.fixture
def device():
    dev = FakeAdbd(packages={"com.example.player": "4.2.0"})
    yield dev
    dev.close()


def make(device, adb_server, **spec):
    params = {"serial": device.serial, "server": adb_server, "app": "com.example.player",
              "adb": "/nonexistent/adb"}
    return controller("adb", params, KEYMAP, name="firestick", **spec)


def test_keys_reach_the_device_as_input_keyevent(device, adb_server):
    remote = make(device, adb_server)
    remote.press("HOME")
    remote.press("OK", hold_s=0.05)
    assert device.services == [b"shell:input keyevent KEYCODE_HOME" + RC,
                               b"shell:input keyevent --longpress KEYCODE_DPAD_CENTER" + RC]
    assert device.events == [("key", "KEYCODE_HOME"), ("longpress", "KEYCODE_DPAD_CENTER")]
    assert [k.action for k in remote.keylog] == ["press", "hold"]


def test_text_is_quoted_for_the_device_shell(device, adb_server):
    remote = make(device, adb_server)
    remote.text("it's $HOME; reboot")
    assert device.services == [
        b"shell:input text 'it'\"'\"'s%s$HOME;%sreboot'" + RC]
    assert device.events == [("text", "it's%s$HOME;%sreboot")]
    with pytest.raises(BadInput, match="printable ASCII"):
        remote.text("caf\u00e9")


def test_key_codes_are_validated_before_anything_is_sent(device, adb_server):
    with pytest.raises(BadInput, match=r"Android key code 'KEYCODE_HOME; reboot' is not allowed"):
        make(device, adb_server).press("EVIL")
    assert device.services == []


def test_launch_stop_and_probe(device, adb_server, tmp_path):
    remote = make(device, adb_server)
    remote.launch("com.example.player")
    assert device.foreground == "com.example.player"
    remote.stop_app("com.example.player")
    facts = remote.probe()
    assert device.services[:3] == [
        b"shell:cmd package resolve-activity --brief -c android.intent.category.LEANBACK_LAUNCHER "
        b"com.example.player" + RC,
        b"shell:am start -n com.example.player/.MainActivity" + RC,
        b"shell:am force-stop com.example.player" + RC]
    assert facts == {"serial": device.serial, "manufacturer": "Amazon", "model": "AFTMM",
                     "os": "Android 9 (SDK 28)", "build": "PS7624/3337",
                     "os_name": "Fire OS 7.6.2.4 (PS7624/3337)",
                     "app": "com.example.player", "app_version": "4.2.0"}
    with pytest.raises(CommandRejected, match="no android.intent.category.LEANBACK_LAUNCHER "
                                              "activity in 'com.missing'"):
        remote.launch("com.missing")
    with pytest.raises(CommandRejected, match=r"(?s)exit status 1.*does not exist"):
        remote.launch("com.missing", activity=".Main")


def test_logcat_streams_into_a_file(device, adb_server, tmp_path):
    remote = make(device, adb_server)
    stream = remote.logcat(tmp_path / "logcat.txt")
    for i in range(3):
        device.log(f"11-27 10:00:0{i}.000  123  123 I Player: frame {i}")
    deadline = time.monotonic() + 5
    while (tmp_path / "logcat.txt").read_text().count("\n") < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    path = stream.stop()
    assert path.read_text().splitlines() == [
        f"11-27 10:00:0{i}.000  123  123 I Player: frame {i}" for i in range(3)]
    assert device.services == [b"shell:logcat -v threadtime -T 1"] and stream.error is None


def test_reconnects_after_the_tcp_link_drops(device, adb_server):
    remote = make(device, adb_server, io_timeout_s=5, retries=2)
    remote.press("HOME")
    device.drop()
    remote.press("OK")
    assert device.connections >= 2
    assert device.events == [("key", "KEYCODE_HOME"), ("key", "KEYCODE_DPAD_CENTER")]


def test_rides_out_a_reboot(device, adb_server):
    remote = make(device, adb_server, io_timeout_s=4, retries=3)
    remote.press("HOME")
    device.reboot(down_s=0.5)
    remote.press("HOME")
    assert device.events == [("key", "KEYCODE_HOME")] * 2


def test_a_device_that_stays_gone_is_controller_lost(device, adb_server):
    remote = make(device, adb_server, io_timeout_s=0.5, retries=1)
    remote.press("HOME")
    device.close()
    started = time.monotonic()
    with pytest.raises(ControllerLost, match=rf"'firestick': press HOME failed over adb after 2 "
                                             rf"attempts: .*{device.serial}"):
        remote.press("HOME")
    assert time.monotonic() - started < 5


def test_starts_a_local_adb_server_that_is_not_running(device, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # the server's keys go here
    port = free_port()
    remote = controller("adb", {"serial": device.serial, "server": f"127.0.0.1:{port}"}, KEYMAP)
    try:
        remote.press("HOME")
    finally:
        subprocess.run(["adb", "-P", str(port), "kill-server"], capture_output=True, timeout=10)
    assert device.events == [("key", "KEYCODE_HOME")]


def test_no_server_is_controller_lost():
    remote = controller("adb", {"serial": "G070VM1234", "server": f"127.0.0.1:{free_port()}",
                                "adb": "/nonexistent/adb"}, KEYMAP, retries=1)
    with pytest.raises(ControllerLost, match=r"after 2 attempts: cannot connect to adb server"):
        remote.press("HOME")


def _scripted_server(replies):
    """An adb-server peer: reads each length-prefixed request and answers ``replies(service)``.

    Like the real server it closes the connection after answering anything but
    ``host:transport:``; an empty answer closes at once, None answers nothing.
    """
    def read(conn, buffer, n):
        while len(buffer) < n:
            chunk = conn.recv(4096)
            if not chunk:
                return False
            peer.received += chunk
            buffer += chunk
        return True

    def handler(_, conn):
        buffer = bytearray()
        while read(conn, buffer, 4) and read(conn, buffer, 4 + int(bytes(buffer[:4]), 16)):
            service = bytes(buffer[4:]).decode()
            buffer.clear()
            reply = replies(service)
            if reply is None:
                time.sleep(1.0)
                return
            conn.sendall(reply)
            if not reply or not service.startswith("host:transport:"):
                return
    peer = StreamPeer(handler)
    return peer


def test_usb_serial_protocol_bytes_and_device_side_quoting():
    """A USB device is addressed by serial (no host:connect); requests are length-prefixed."""
    def replies(service):
        if service.endswith(":wait-for-any-device"):
            return b"OKAYOKAY"
        if service.startswith("shell:"):
            return b"OKAY__adb_rc=0\n"
        return b"OKAY"
    peer = _scripted_server(replies)
    try:
        remote = controller("adb", {"serial": "G070VM1234", "server": peer.address},
                            {"HOME": "KEYCODE_HOME"})
        remote.press("HOME")
    finally:
        peer.close()
    assert bytes(peer.received) == (b"002ahost-serial:G070VM1234:wait-for-any-device"
                                    b"0019host:transport:G070VM1234"
                                    b"0033shell:input keyevent KEYCODE_HOME; echo __adb_rc=$?")


NOT_FOUND = b"device 'G070VM1234' not found"


@pytest.mark.parametrize("reply, error", [
    (b"HELLO", "garbage reply b'HELL'"),
    (b"FAIL%04x" % len(NOT_FOUND) + NOT_FOUND, NOT_FOUND.decode()),
    (b"FAILzzzz", "garbage length"),
    (b"", "connection closed by peer"),
    (None, "timed out"),
])
def test_server_faults_are_retried_then_controller_lost(reply, error):
    peer = _scripted_server(lambda service: reply)
    try:
        remote = controller("adb", {"serial": "G070VM1234", "server": peer.address},
                            {"HOME": "KEYCODE_HOME"}, io_timeout_s=0.3, retries=2)
        with pytest.raises(ControllerLost, match=error):
            remote.press("HOME")
        assert peer.connections == 3
    finally:
        peer.close()


@pytest.mark.parametrize("profile_name", ["firetv", "androidtv"])
def test_shipped_profile_drives_the_device(profile_name, device, adb_server):
    profile, remote = shipped_controller(profile_name, serial=device.serial, server=adb_server,
                                         adb="/nonexistent/adb")
    for key in profile.controller.keymap:
        remote.press(key)
    assert [code for _, code in device.events] == list(profile.controller.keymap.values())
