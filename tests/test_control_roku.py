"""Roku ECP controller against a loopback HTTP Roku peer."""

from __future__ import annotations

import pytest

from harness.control.transport import CommandRejected
from harness.errors import BadInput, ControllerLost
from peers.rig import closing_controllers, controller, shipped_controller  # noqa: F401 (autouse)
from peers.roku import FakeRoku
from peers.stream import free_port


@pytest.fixture
def roku():
    peer = FakeRoku()
    yield peer
    peer.close()


def make(peer, **spec):
    return controller("roku", {"host": "127.0.0.1", "port": peer.port, "app": "dev"},
                      {"OK": "Select", "RIGHT": "Right", "BAD": "Home/../launch/12"},
                      name="roku-ultra", **spec)


def test_keys_holds_and_text_are_ecp_posts(roku):
    remote = make(roku)
    remote.press("OK")
    remote.press("RIGHT", hold_s=0.05)
    remote.text("a b/é")
    assert roku.requests == [
        ("POST", "/keypress/Select", b""), ("POST", "/keydown/Right", b""),
        ("POST", "/keyup/Right", b""), ("POST", "/keypress/Lit_a", b""),
        ("POST", "/keypress/Lit_%20", b""), ("POST", "/keypress/Lit_b", b""),
        ("POST", "/keypress/Lit_%2F", b""), ("POST", "/keypress/Lit_%C3%A9", b"")]
    assert roku.held == set()


def test_launch_active_app_and_probe(roku):
    remote = make(roku)
    assert remote.active_app() == {"id": "", "name": "Roku", "version": ""}
    remote.launch("dev", contentId="tt0111161", mediaType="movie")
    assert roku.requests[-1] == ("POST", "/launch/dev?contentId=tt0111161&mediaType=movie", b"")
    assert remote.active_app() == {"id": "dev", "name": "Player Under Test", "version": "1.0.7"}
    assert remote.probe() == {
        "vendor-name": "Roku", "model-name": "Roku Ultra", "model-number": "4800X",
        "software-version": "12.5.0", "software-build": "4178", "serial-number": "X01900SUNSET",
        "active_app": "Player Under Test", "app": "dev", "app_name": "Player Under Test",
        "app_version": "1.0.7"}
    with pytest.raises(CommandRejected, match=r"launch/nope: HTTP 404"):
        remote.launch("nope")


def test_key_names_cannot_reach_other_endpoints(roku):
    with pytest.raises(BadInput, match="Roku key name 'Home/../launch/12' is not allowed"):
        make(roku).press("BAD")
    assert roku.requests == []


def test_ecp_limited_is_rejected_with_the_setting_to_change():
    peer = FakeRoku(mode="forbidden")
    try:
        with pytest.raises(CommandRejected, match=r"HTTP 403 Forbidden \(ECP is limited: .*"
                                                  r"Network access to Permissive\)"):
            make(peer).press("OK")
    finally:
        peer.close()


@pytest.mark.parametrize("mode, action, error", [
    ("error", "press", "HTTP 503 Service Unavailable"),
    ("slow", "press", "timed out"),
    ("hangup", "press", "RemoteDisconnected|closed connection"),
    ("garbage", "probe", "not XML"),
])
def test_faults_are_retried_then_controller_lost(mode, action, error):
    peer = FakeRoku(mode=mode, slow_s=0.6)
    try:
        remote = make(peer, io_timeout_s=0.3, retries=1)
        with pytest.raises(ControllerLost, match=rf"'roku-ultra': .* failed over Roku ECP \(HTTP\) "
                                                 rf"after 2 attempts: .*({error})"):
            remote.press("OK") if action == "press" else remote.probe()
        assert len(peer.requests) == 2
    finally:
        peer.close()


def test_roku_gone_is_controller_lost():
    remote = controller("roku", {"host": "127.0.0.1", "port": free_port()}, {"OK": "Select"},
                        retries=1)
    with pytest.raises(ControllerLost, match=r"POST http://127.0.0.1:\d+/keypress/Select: "
                                             r"Connection refused"):
        remote.press("OK")


def test_shipped_roku_profile(roku):
    profile, remote = shipped_controller("roku", host="127.0.0.1", port=roku.port)
    for key in profile.controller.keymap:
        remote.press(key)
    assert [path for _, path, _ in roku.requests] == [
        f"/keypress/{code}" for code in profile.controller.keymap.values()]
    assert remote.probe()["app_version"] == "1.0.7"
