"""CEC controller against tests/peers/cec_client.py, a cec-client with a simulated bus behind it.

(No CEC adapter exists in CI; the stand-in speaks cec-client's console protocol and records
the argv and every stdin line it gets.)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from harness.control.transport import CommandRejected
from harness.errors import BadInput, ControllerLost
from peers.rig import closing_controllers, controller, shipped_controller  # noqa: F401 (autouse)

PEER = Path(__file__).parent / "peers" / "cec_client.py"
KEYMAP = {"OK": "00", "RIGHT": "04", "BAD": "00:45"}


@pytest.fixture
def cec(tmp_path, monkeypatch):
    """A cec-client executable (the stand-in) and what it received."""
    binary = tmp_path / "cec-client"
    binary.write_text(f"#!/bin/sh\nexec {sys.executable} {PEER} \"$@\"\n")
    binary.chmod(0o755)
    log = tmp_path / "cec.jsonl"
    monkeypatch.setenv("FAKE_CEC_LOG", str(log))

    class Bus:
        path = str(binary)

        @staticmethod
        def received() -> list:
            if not log.exists():
                return []
            return [next(iter(json.loads(line).values())) for line in log.read_text().splitlines()]

        @staticmethod
        def mode(value: str) -> None:
            monkeypatch.setenv("FAKE_CEC_MODE", value)

    def make(keymap=KEYMAP, **spec):
        params = {"cec_client": Bus.path, "target": 4, "adapter": "/dev/ttyACM0",
                  **spec.pop("params", {})}
        return controller("cec", params, keymap, name="ps5", **spec)
    Bus.make = staticmethod(make)
    return Bus


def test_press_is_pressed_then_released_from_our_address(cec):
    remote = cec.make()
    remote.press("OK")
    remote.press("RIGHT")
    remote.close()
    assert cec.received() == [["-t", "r", "-o", "avharness", "-d", "11", "/dev/ttyACM0"],
                              "self", "tx 14:44:00", "tx 14:45", "tx 14:44:04", "tx 14:45", "q"]


def test_hold_repeats_pressed_until_released(cec):
    remote = cec.make(params={"repeat_interval_s": 0.05})
    remote.key_down("RIGHT")
    time.sleep(0.28)
    remote.key_up("RIGHT")
    sent = cec.received()[2:]
    assert sent[-1] == "tx 14:45" and set(sent[:-1]) == {"tx 14:44:04"} and len(sent) >= 5


def test_probe_reports_power_version_and_name(cec):
    assert cec.make().probe() == {"adapter": "/dev/ttyACM0", "target": 4, "our_address": 1,
                                  "power": "on", "cec_version": "1.4", "osd_name": "PS5"}
    cec.mode("standby")
    facts = cec.make().probe()
    assert facts["problems"] == ["logical address 4 did not answer a power status request"]


def test_ui_codes_are_validated(cec):
    with pytest.raises(BadInput, match="CEC UI command code '00:45' is not allowed"):
        cec.make().press("BAD")
    assert cec.received() == []


def test_frame_not_transmitted_is_rejected(cec):
    cec.mode("no-traffic")
    with pytest.raises(CommandRejected, match="libCEC did not transmit 14:44:00"):
        cec.make().press("OK")


def test_no_adapter_is_controller_lost(cec):
    cec.mode("no-adapter")
    with pytest.raises(ControllerLost, match=r"'ps5': press OK failed over HDMI-CEC \(cec-client\) "
                                             r"after 2 attempts: .*exited during 'opening the CEC "
                                             r"adapter'.*autodetect: FAILED"):
        cec.make(retries=1).press("OK")


def test_cec_client_dying_is_restarted(cec):
    cec.mode("exit-after-3")  # self, tx pressed, tx released: then the adapter goes away
    remote = cec.make()
    remote.press("OK")
    remote.press("OK")
    argv_count = sum(isinstance(entry, list) for entry in cec.received())
    assert argv_count == 2 and cec.received()[-3:] == ["self", "tx 14:44:00", "tx 14:45"]


def test_hung_cec_client_times_out(cec):
    cec.mode("hang")
    with pytest.raises(ControllerLost, match=r"no answer to 'self' within 0.3 s"):
        cec.make(io_timeout_s=0.3, retries=1).press("OK")


def test_missing_binary_is_named():
    with pytest.raises(ControllerLost, match=r"'/nonexistent/cec-client' not found: .*cec-utils"):
        controller("cec", {"cec_client": "/nonexistent/cec-client"}, KEYMAP)


def test_shipped_playstation_profile(cec):
    profile, remote = shipped_controller("playstation", cec_client=cec.path)
    for key in profile.controller.keymap:
        remote.press(key)
    pressed = [entry for entry in cec.received() if isinstance(entry, str) and ":44:" in entry]
    assert pressed == [f"tx 14:44:{code.lower()}" for code in profile.controller.keymap.values()]
