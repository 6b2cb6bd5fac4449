"""Serial controller against a simulated TV on the far end of a pty pair (or socket://)."""

from __future__ import annotations

import time

import pytest

from harness.control.serial_tv import SerialParams
from harness.control.transport import CommandRejected
from harness.errors import BadInput, ControllerLost, ProfileError
from harness.profile import DEVICES_DIR, load_profile
from peers.rig import closing_controllers, controller, shipped_controller  # noqa: F401 (autouse)
from peers.serial_tv import SerialTv

CONSOLE = {"press": "keyinject {code}", "ok": r"^OK$", "probe": "version"}


@pytest.fixture
def tv(request):
    peer = SerialTv(*request.param) if isinstance(request.param, tuple) else SerialTv(request.param)
    yield peer
    peer.close()


def make(tv, protocol, keymap, name="bench-tv", **spec):
    params = {"url": tv.url, "protocol": protocol, **spec.pop("params", {})}
    return controller("serial", params, keymap, name=name, **spec)


@pytest.mark.parametrize("tv", ["lg"], indirect=True)
def test_lg_keys_are_mc_commands_acked_ok(tv):
    remote = make(tv, "lg", {"OK": "44", "HOME": "7C"})
    remote.press("OK")
    remote.press("HOME")
    assert bytes(tv.received) == b"mc 01 44\rmc 01 7c\r"
    assert tv.keys == ["44", "7c"]
    assert remote.probe() == {"url": tv.url, "protocol": "lg", "power": "on"}
    assert bytes(tv.received).endswith(b"ka 01 ff\r")


@pytest.mark.parametrize("tv", [("lg", "reject")], indirect=True)
def test_lg_ng_is_a_rejection(tv):
    with pytest.raises(CommandRejected, match=r"NG01 \(illegal code\) to `mc 01 44`"):
        make(tv, "lg", {"OK": "44"}).press("OK")


@pytest.mark.parametrize("tv", [("lg", "busy")], indirect=True)
def test_lg_wait_more_time_is_retried(tv):
    make(tv, "lg", {"OK": "44"}).press("OK")
    assert bytes(tv.received) == b"mc 01 44\r" * 2 and tv.keys == ["44"]


@pytest.mark.parametrize("tv", ["samsung-mdc"], indirect=True)
def test_samsung_mdc_frames_and_checksums(tv):
    remote = make(tv, "samsung-mdc", {"OK": "68", "POWER": "02"})
    remote.press("OK")
    remote.press("POWER")
    assert bytes(tv.received) == bytes.fromhex("AA B0 01 01 68 1A  AA B0 01 01 02 B4")
    assert tv.keys == ["68", "02"]
    assert remote.probe() == {"url": tv.url, "protocol": "samsung-mdc", "power": "on",
                              "volume": 25, "mute": False, "input": "0x21"}
    assert bytes(tv.received).endswith(bytes.fromhex("AA 00 01 00 01"))


@pytest.mark.parametrize("tv", [("samsung-mdc", "reject")], indirect=True)
def test_samsung_mdc_nak_is_a_rejection(tv):
    with pytest.raises(CommandRejected, match=r"MDC NAK \(error 01\) to command B0 data 68"):
        make(tv, "samsung-mdc", {"OK": "68"}).press("OK")


@pytest.mark.parametrize("tv", ["samsung-exlink"], indirect=True)
def test_samsung_exlink_frames(tv):
    make(tv, "samsung-exlink", {"OK": "68"}).press("OK")
    assert bytes(tv.received) == bytes.fromhex("08 22 0D 00 00 68 61")
    assert tv.keys == ["68"]


@pytest.mark.parametrize("tv", [("lg", "ok", 1, True)], indirect=True)
def test_socket_url_reaches_the_same_tv(tv):
    assert tv.url.startswith("socket://")
    make(tv, "lg", {"OK": "44"}).press("OK")
    assert bytes(tv.received) == b"mc 01 44\r"


@pytest.mark.parametrize("tv", ["lg"], indirect=True)
def test_hold_repeats_the_key_until_released(tv):
    remote = make(tv, "lg", {"RIGHT": "06", "OK": "44"}, params={"repeat_interval_s": 0.05})
    remote.key_down("RIGHT")
    time.sleep(0.28)
    remote.key_up("RIGHT")
    remote.press("OK")
    repeats = tv.keys.count("06")
    assert 4 <= repeats <= 7 and tv.keys[-1] == "44" and set(tv.keys[:-1]) == {"06"}
    assert bytes(tv.received) == b"mc 01 06\r" * repeats + b"mc 01 44\r"


@pytest.mark.parametrize("tv", ["line"], indirect=True)
def test_console_lines_wait_for_ok_past_echo_and_log_noise(tv):
    remote = make(tv, "line", {"OK": "KEY_OK", "BAD": "KEY_OK; reboot", "NOPE": "KEY_NOPE"},
                  params={"line": CONSOLE})
    remote.press("OK")
    assert bytes(tv.received) == b"keyinject KEY_OK\r\n" and tv.keys == ["KEY_OK"]
    assert remote.probe()["reply"] == "STB-9000 firmware 3.4.1 (build 2024-11-02) / OK"
    with pytest.raises(BadInput, match=r"console key code 'KEY_OK; reboot' is not allowed"):
        remote.press("BAD")


@pytest.mark.parametrize("tv", ["line"], indirect=True)
def test_console_error_line_is_a_rejection(tv):
    remote = make(tv, "line", {"OK": "KEY_OK"}, params={"line": {**CONSOLE, "press": "press {code}"}})
    with pytest.raises(CommandRejected, match=r"rejected 'press KEY_OK': ERROR: unknown command"):
        remote.press("OK")


@pytest.mark.parametrize("tv", ["line"], indirect=True)
def test_bridge_with_down_and_up_holds_natively(tv):
    line = {"press": "keyinject {code}", "down": "key down {code}", "up": "key up {code}", "ok": "^OK$"}
    remote = make(tv, "line", {"OK": "KEY_OK"}, params={"line": line})
    remote.press("OK", hold_s=0.05)
    assert bytes(tv.received) == b"key down KEY_OK\r\nkey up KEY_OK\r\n"
    assert tv.keys == ["down:KEY_OK", "up:KEY_OK"] and tv.held == set()


@pytest.mark.parametrize("tv, protocol, error", [
    (("lg", "silent"), "lg", r"timed out after 0.3 s waiting for an answer"),
    (("lg", "garbage"), "lg", r"timed out after 0.3 s .*got b'\\x00\\x13garbage line noise"),
    (("samsung-mdc", "silent"), "samsung-mdc", r"timed out after 0.3 s"),
    (("samsung-mdc", "garbage"), "samsung-mdc", r"garbled reply: MDC answer header 00 13 67 61"),
    (("samsung-exlink", "garbage"), "samsung-exlink", r"garbled reply: Ex-Link answer 00 13 67"),
    (("line", "silent"), "line", r"timed out after 0.3 s"),
], indirect=["tv"])
def test_silence_and_garbage_are_retried_then_controller_lost(tv, protocol, error):
    params = {"line": CONSOLE} if protocol == "line" else {}
    remote = make(tv, protocol, {"OK": "44"}, params=params, io_timeout_s=0.3, retries=1)
    with pytest.raises(ControllerLost, match=rf"'bench-tv': press OK failed over serial after 2 "
                                             rf"attempts: .*{error}"):
        remote.press("OK")


@pytest.mark.parametrize("tv", ["lg"], indirect=True)
def test_tv_gone_is_controller_lost(tv):
    remote = make(tv, "lg", {"OK": "44"}, io_timeout_s=0.3, retries=1)
    remote.press("OK")
    tv.close()
    with pytest.raises(ControllerLost, match=rf"press OK failed over serial after 2 attempts: "
                                             rf".*{tv.url}"):
        remote.press("OK")


@pytest.mark.parametrize("line, error", [
    ({"press": "keyinject {code}; reboot"}, "console command template"),
    ({"press": "keyinject"}, "has no {code}"),
    ({"press": "key {code}", "down": "down {code}"}, "give both down and up"),
    ({"ok": "(unclosed"}, "not a regular expression"),
])
def test_console_templates_are_checked(line, error):
    with pytest.raises(ValueError, match=error):
        SerialParams.model_validate({"url": "/dev/ttyUSB0", "protocol": "line", "line": line})


def test_profile_params_are_checked_at_load(tmp_path):
    path = tmp_path / "tv.yaml"
    path.write_text((DEVICES_DIR / "lg-tv.yaml").read_text()
                    .replace("url: /dev/ttyUSB0", "url: bogus://nowhere"))
    with pytest.raises(ProfileError, match=r"controller.params.url: .*pyserial cannot use"):
        load_profile(str(path))


@pytest.mark.parametrize("tv, profile_name", [("lg", "lg-tv"), ("samsung-mdc", "samsung-tv")],
                         indirect=["tv"])
def test_shipped_tv_profiles_drive_the_tv(tv, profile_name):
    profile, remote = shipped_controller(profile_name, url=tv.url)
    for key in profile.controller.keymap:
        remote.press(key)
    assert [code.upper() for code in tv.keys] == [
        code.upper() for code in profile.controller.keymap.values()]
