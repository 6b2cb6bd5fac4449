"""The controller base every backend inherits: keymap, pacing, retries, lost devices, key log."""

from __future__ import annotations

import pytest

from harness.clock import VirtualClock
from harness.control.base import RemoteControl, TransientControlError
from harness.errors import ControllerLost, UnmappedKey
from harness.profile import ControllerSpec


class FakeRig:
    def __init__(self):
        self.clock = VirtualClock()
        self.profile = type("P", (), {"name": "bench-tv"})()


class Flaky(RemoteControl):
    transport = "test transport"

    def __init__(self, spec, rig, failures=0):
        super().__init__(spec, rig)
        self.failures = failures
        self.sent = []

    def _send_key(self, code, action):
        if self.failures:
            self.failures -= 1
            raise TransientControlError("link reset")
        self.sent.append((round(self.clock.now(), 3), code, action))


def make(failures=0, **spec):
    spec = ControllerSpec(type="x", keymap={"OK": "KEY_OK", "HOME": "KEY_HOME", "A": "KEY_A"}, **spec)
    return Flaky(spec, FakeRig(), failures)


def test_press_maps_keys_and_paces_on_the_clock():
    remote = make(inter_key_delay_s=0.25)
    remote.press("OK")
    remote.press("HOME")
    remote.press("OK", hold_s=1.0)
    assert remote.sent == [(0.0, "KEY_OK", "press"), (0.25, "KEY_HOME", "press"),
                           (0.5, "KEY_OK", "down"), (1.5, "KEY_OK", "up")]
    assert [(k.key, k.t_down, k.t_up, k.action) for k in remote.keylog] == [
        ("OK", 0.0, 0.0, "press"), ("HOME", 0.25, 0.25, "press"), ("OK", 0.5, 1.5, "hold")]


def test_key_down_up_is_one_log_entry():
    remote = make(inter_key_delay_s=0)
    remote.key_down("OK")
    remote.clock.sleep(0.7)
    remote.key_up("OK")
    assert len(remote.keylog) == 1 and remote.keylog[0].t_up == pytest.approx(0.7)


def test_unmapped_key_names_device_field_and_fix():
    with pytest.raises(UnmappedKey) as info:
        make().press("NETFLIX")
    text = str(info.value)
    assert "'NETFLIX'" in text and "bench-tv" in text and "controller.keymap" in text
    assert "A, HOME, OK" in text


def test_transient_faults_are_retried():
    remote = make(failures=2, retries=2)
    remote.press("OK")
    assert remote.sent[-1][1:] == ("KEY_OK", "press")


def test_a_device_that_stays_gone_is_an_infrastructure_error():
    remote = make(failures=10, retries=2)
    with pytest.raises(ControllerLost, match=r"bench-tv.*press OK.*test transport.*3 attempts"):
        remote.press("OK")
    assert remote.keylog == []
