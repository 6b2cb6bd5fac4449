"""Device profiles: the shipped ones validate; bad ones fail naming file, field and fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.errors import BadInput, ProfileError
from harness.profile import DEVICES_DIR, load_profile, profile_names

MOCK = yaml.safe_load((DEVICES_DIR / "mock.yaml").read_text())


def write(tmp_path: Path, data, name="dev.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("name", profile_names())
def test_every_shipped_profile_validates(name):
    profile = load_profile(name)
    assert profile.name == name
    assert profile.controller.keymap, "a profile without keys cannot drive anything"


def test_mock_profile_contents():
    profile = load_profile("mock")
    assert (profile.video.width, profile.video.height, profile.video.fps) == (1280, 720, 30)
    assert profile.audio.sample_rate == 48000 and profile.has("playback")
    assert profile.detector_config("freeze", change_threshold=9) == {"min_duration_s": 0.5,
                                                                      "change_threshold": 9}


def test_profile_by_path(tmp_path):
    assert load_profile(str(write(tmp_path, MOCK))).source.endswith("dev.yaml")


def test_unknown_device_lists_known_ones():
    with pytest.raises(BadInput, match=r"unknown device 'nope'.*mock"):
        load_profile("nope")


def test_missing_path_is_named():
    with pytest.raises(BadInput, match="does not exist"):
        load_profile("/no/such/profile.yaml")


@pytest.mark.parametrize("mutate, field, reason", [
    (lambda d: d["video"].update(fps=-5), "video.fps", "greater than 0"),
    (lambda d: d["video"].update(framerate=30), "video.framerate", "unknown field"),
    (lambda d: d.pop("controller"), "controller", "Field required"),
    (lambda d: d["controller"].update(type="telepathy"), "controller.type", "unknown controller type 'telepathy'"),
    (lambda d: d["video"].update(type="vhs"), "video.type", "unknown video source type 'vhs'"),
    (lambda d: d["controller"].update(params={"host": "x"}), "controller.params.host", "unknown field"),
    (lambda d: d["thresholds"].update(freeze={"min_durration_s": 1}), "thresholds.freeze.min_durration_s", "unknown field"),
    (lambda d: d["thresholds"].update(black={"ratio": 2}), "thresholds.black.ratio", "less than or equal to 1"),
    (lambda d: d["thresholds"].update(nope={}), "thresholds.nope", "unknown detector 'nope'"),
    (lambda d: d["sim"].update(key_latency_ms="fast"), "sim.key_latency_ms", "valid number"),
    (lambda d: d["sim"].update(inject=[{"kind": "gremlins", "at": 1}]), "sim.inject[0].kind", "gremlins"),
])
def test_bad_profile_names_file_field_and_reason(tmp_path, mutate, field, reason):
    data = yaml.safe_load(yaml.safe_dump(MOCK))
    mutate(data)
    path = write(tmp_path, data)
    with pytest.raises(ProfileError) as info:
        load_profile(str(path))
    text = str(info.value)
    assert str(path) in text
    assert f"  {field}: " in text, text
    assert reason in text, text


def test_yaml_syntax_error_gives_line(tmp_path):
    path = write(tmp_path, "name: x\ncontroller: [unclosed\n")
    with pytest.raises(ProfileError, match=r"line \d+, column \d+: not valid YAML"):
        load_profile(str(path))


def test_profile_must_be_a_mapping(tmp_path):
    with pytest.raises(ProfileError, match="a profile is a YAML mapping"):
        load_profile(str(write(tmp_path, "- just\n- a list\n")))
