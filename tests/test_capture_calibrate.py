"""``harness calibrate``: the flash-and-beep pattern, the offset measurement and the profile update.

The capture chain here is the pattern file itself with its audio delayed by a
known amount (ffmpeg ``adelay``), read through the ``file`` capture backends by
the same Dut pump a live rig uses.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.capture.calibrate import CalibrationFailed, FlashBeepMeter, set_capture_av_offset
from harness.capture.file import probe
from harness.errors import BadInput
from harness.media import AudioChunk, Frame
from tests.conftest import make_clip

HARNESS = [str(Path(sys.executable).parent / "harness")]

PROFILE = """\
# a rig whose capture chain delays the audio
name: {name}
description: calibration fixture
controller: {{type: mock, keymap: {{OK: OK}}}}
video: {{type: file, params: {{path: {media}}}, width: 320, height: 240, fps: 30}}
audio:
  type: file
  params: {{path: {media}}}
latency:
  key_to_screen_ms: 100        # typical
  capture_av_offset_ms: 0      # written by harness calibrate
features: [playback]
"""


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(HARNESS + list(args), capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def pattern(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pattern")
    profile = folder / "rig.yaml"
    profile.write_text(PROFILE.format(name="rig", media=folder / "unused.mkv"))
    proc = run("calibrate", str(profile), "--pattern", str(folder / "pattern.mkv"), "--seconds", "7")
    assert proc.returncode == 0, proc.stderr
    assert "play it on a loop" in proc.stdout
    return folder / "pattern.mkv"


def delayed(pattern: Path, ffmpeg: str, folder: Path, delay_ms: int) -> Path:
    out = folder / f"chain-{delay_ms}.mkv"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(pattern), "-af", f"adelay={delay_ms}:all=1",
                    "-c:v", "copy", str(out)], check=True)
    return out


def test_pattern_has_the_profile_format(pattern):
    info = probe(pattern)
    assert (info.video.width, info.video.height, info.video.fps) == (320, 240, 30)
    assert (info.audio.sample_rate, info.audio.channels) == (48000, 2)
    assert info.duration_s == pytest.approx(7.0, abs=0.1)


def test_calibrate_measures_the_chain_offset_and_writes_only_that_line(pattern, ffmpeg, tmp_path):
    profile = tmp_path / "rig.yaml"
    original = PROFILE.format(name="rig", media=delayed(pattern, ffmpeg, tmp_path, 40))
    profile.write_text(original)
    proc = run("calibrate", str(profile), "--seconds", "5", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "audio +40.0 ms against video" in proc.stdout and profile.read_text() == original
    proc = run("calibrate", str(profile), "--seconds", "5")
    assert proc.returncode == 0, proc.stderr
    assert "written to" in proc.stdout
    assert profile.read_text() == original.replace(
        "capture_av_offset_ms: 0      # written", "capture_av_offset_ms: 40.0      # written")
    proc = run("devices", "--dir", str(tmp_path))
    assert proc.returncode == 0 and "ok       rig" in proc.stdout  # still a valid profile


def test_audio_ahead_of_video_is_a_negative_offset(pattern, ffmpeg, tmp_path):
    from harness.capture.calibrate import calibrate
    from harness.profile import load_profile

    ahead = tmp_path / "ahead.mkv"  # the picture delayed by 3 frames instead
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(pattern), "-vf", "tpad=start=3",
                    "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy", str(ahead)], check=True)
    profile = tmp_path / "ahead.yaml"
    profile.write_text(PROFILE.format(name="ahead", media=ahead))
    result = calibrate(load_profile(profile), seconds=5)
    assert result.offset_ms == pytest.approx(-100.0, abs=0.5) and len(result.pairs) >= 4


def test_no_pattern_in_the_capture_fails_clearly(ffmpeg, tmp_path):
    clip = make_clip(ffmpeg, tmp_path / "content.mp4", seconds=5.0, black=None)
    profile = tmp_path / "content.yaml"
    profile.write_text(PROFILE.format(name="content", media=clip))
    proc = run("calibrate", str(profile), "--seconds", "4")
    assert proc.returncode == 1
    assert "no flashes in the picture" in proc.stderr and "Traceback" not in proc.stderr
    assert "capture_av_offset_ms: 0 " in profile.read_text()


def test_meter_needs_enough_consistent_pairs():
    import numpy as np

    meter = FlashBeepMeter()
    for i in range(90):  # 3 s at 30 fps, a flash each second
        level = 255 if i % 30 < 3 else 0
        meter.on_frame(Frame(i / 30, i, np.full((24, 32, 3), level, np.uint8)))
    rate = 48000
    for k in range(0, 3 * rate, 960):
        n = np.arange(k, k + 960)
        beep = (n % rate) < 4800
        samples = np.where(beep, 0.5 * np.sin(2 * np.pi * 1000 * n / rate), 0).astype(np.float32)
        meter.on_audio(AudioChunk(k / rate + 0.025, np.stack([samples, samples], 1), rate))
    with pytest.raises(CalibrationFailed, match="only 2 flash/beep pairs"):
        meter.measure()  # the flash at 0 s has no quiet before it: 1 and 2 s pair


@pytest.mark.parametrize("before, after", [
    ("latency:\n  key_to_screen_ms: 120\n  capture_av_offset_ms: 3  # rig\nfeatures: []\n",
     "latency:\n  key_to_screen_ms: 120\n  capture_av_offset_ms: 12.5  # rig\nfeatures: []\n"),
    ("latency:\n    key_to_screen_ms: 120\n\n    # typical\nfeatures: []\n",
     "latency:\n    capture_av_offset_ms: 12.5\n    key_to_screen_ms: 120\n\n    # typical\nfeatures: []\n"),
    ("features: []", "features: []\nlatency:\n  capture_av_offset_ms: 12.5\n"),
    ("latency: {key_to_screen_ms: 120}  # flow\nfeatures: []\n",
     "latency: {key_to_screen_ms: 120, capture_av_offset_ms: 12.5}  # flow\nfeatures: []\n"),
])
def test_offset_is_written_into_any_layout(tmp_path, before, after):
    path = tmp_path / "p.yaml"
    head = "# my rig\nname: p\ncontroller: {type: mock}\nvideo: {type: mock}\n"
    path.write_text(head + before)
    path.chmod(0o644)
    set_capture_av_offset(path, 12.46)
    assert path.read_text() == head + after
    assert path.stat().st_mode & 0o777 == 0o644
    assert yaml.safe_load(path.read_text())["latency"]["capture_av_offset_ms"] == 12.5


def test_offset_in_an_unexpected_layout_is_left_to_the_user(tmp_path):
    path = tmp_path / "p.yaml"
    text = "name: p\nlatency: &lat\n  key_to_screen_ms: 1\n"  # an anchor: not a layout we rewrite
    path.write_text(text)
    with pytest.raises(BadInput, match="set it to 5.0 by hand"):
        set_capture_av_offset(path, 5.0)
    assert path.read_text() == text
