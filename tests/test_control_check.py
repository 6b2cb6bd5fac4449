"""`harness devices check` probes a real-device profile's controller and prints what answered."""

from __future__ import annotations

import pytest
import yaml

from harness.cli import main
from harness.errors import ProfileError
from harness.profile import DEVICES_DIR, load_profile
from peers.roku import FakeRoku
from peers.stream import free_port


def roku_profile(tmp_path, port: int) -> str:
    data = yaml.safe_load((DEVICES_DIR / "roku.yaml").read_text())
    data["controller"]["params"].update(host="127.0.0.1", port=port)
    data["video"]["params"].update(device="/dev/video99", open_timeout_s=0.2)
    data.pop("audio")
    path = tmp_path / "roku-bench.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_check_prints_what_the_controller_answered_without_a_capture_card(tmp_path, capsys):
    roku = FakeRoku()
    try:
        status = main(["devices", "check", roku_profile(tmp_path, roku.port)])
    finally:
        roku.close()
    out = capsys.readouterr().out
    assert status == 1, out  # the capture card is missing
    assert "rig       FAIL" in out
    assert ("control   ok   roku (Roku ECP (HTTP)), 19 keys mapped; answered: vendor-name=Roku, "
            "model-name=Roku Ultra, model-number=4800X, software-version=12.5.0, "
            "software-build=4178, serial-number=X01900SUNSET, active_app=home screen, app=dev, "
            "app_name=Player Under Test, app_version=1.0.7") in out


def test_check_prints_a_controller_that_did_not_answer(tmp_path, capsys):
    status = main(["devices", "check", roku_profile(tmp_path, free_port())])
    out = capsys.readouterr().out
    assert status == 1
    assert "control   FAIL roku (Roku ECP (HTTP)), 19 keys mapped: device 'roku'" in out
    assert "Connection refused" in out


def test_unsafe_profile_values_are_field_errors(tmp_path):
    data = yaml.safe_load((DEVICES_DIR / "firetv.yaml").read_text())
    data["controller"]["params"].update(serial="1.2.3.4:5555;reboot", server="nowhere")
    path = tmp_path / "evil.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError) as info:
        load_profile(str(path))
    text = str(info.value)
    assert "controller.params.serial: Value error, adb serial '1.2.3.4:5555;reboot' is not allowed" in text
    assert "controller.params.server: Value error, bad address 'nowhere'" in text
