"""Keeping a capture as a clip: audio muxed in, and clear errors on a full disk or an unwritable directory.

The disk-full and read-only cases run in a private mount namespace (``unshare``)
on a small tmpfs, so they are real ENOSPC / EROFS errors and nothing outside the
test ever sees the mounts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.capture.file import probe
from harness.recording import Recorder, RecordingError
from tests.conftest import textured_frames, tone_chunks

REPO = Path(__file__).resolve().parent.parent


def segment(seconds: float = 2.0, noise: bool = False):
    recorder = Recorder(0.0)
    rng = np.random.default_rng(0)
    for frame in textured_frames(int(seconds * 25), fps=25, size=(320, 240)):
        if noise:  # incompressible pictures: a clip far larger than the small disk
            frame.image = rng.integers(0, 256, frame.image.shape, dtype=np.uint8)
        recorder.on_frame(frame)
    for chunk in tone_chunks(seconds):
        recorder.on_audio(chunk)
    return recorder.finish(seconds, [])


def test_clip_keeps_video_with_audio_muxed(tmp_path):
    clip = segment().write_clip(tmp_path / "step" / "capture.mp4")
    info = probe(clip)
    assert (info.video.width, info.video.height) == (320, 240)
    assert info.audio is not None and info.duration_s == pytest.approx(2.0, abs=0.15)
    assert [p.name for p in clip.parent.iterdir()] == ["capture.mp4"]  # no temporary left


def test_unwritable_places_are_clear_errors(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(RecordingError, match=r"cannot create the directory for .*clip\.mp4"):
        segment(0.4).write_clip(blocker / "sub" / "clip.mp4")
    assert isinstance(RecordingError("x"), OSError)  # callers catching OSError still do


CHILD = """
import json, subprocess, sys
from pathlib import Path
from harness.recording import RecordingError
from tests.test_capture_recording import segment

report = {}
# 1 MiB: the audio fits, the video encoder hits the full disk; 256 KiB: the audio already does
for full, size in ((Path(sys.argv[1]), "1m"), (Path(sys.argv[2]), "256k")):
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(full)], check=True)
    (full / "results.json").write_text('{"kept": true}')
    try:
        segment(4.0, noise=True).write_clip(full / "clip.mp4")
    except RecordingError as exc:
        report[size] = {"error": str(exc), "left": sorted(p.name for p in full.iterdir()),
                        "results": (full / "results.json").read_text()}
readonly = Path(sys.argv[3])
subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(readonly)], check=True)
try:
    segment(0.4).write_clip(readonly / "clip.mp4")
except RecordingError as exc:
    report["readonly"] = str(exc)
print(json.dumps(report))
"""


def test_full_disk_and_read_only_directory(tmp_path):
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) for a private tmpfs")
    dirs = [tmp_path / name for name in ("video-full", "audio-full", "ro")]
    for directory in dirs:
        directory.mkdir()
    cmd = ["unshare", "--mount", "--propagation", "private"]
    probe_ns = subprocess.run(cmd + ["true"], capture_output=True)
    if probe_ns.returncode != 0:
        cmd = ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]
        if subprocess.run(cmd + ["true"], capture_output=True).returncode != 0:
            pytest.skip(f"no private mount namespace here: {probe_ns.stderr.decode().strip()}")
    proc = subprocess.run(cmd + [sys.executable, "-c", CHILD, *map(str, dirs)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for size, directory in (("1m", dirs[0]), ("256k", dirs[1])):
        assert report[size]["error"].startswith(f"disk full writing {directory / 'clip.mp4'} (")
        assert "clips and results written before are kept" in report[size]["error"]
        # nothing half-written is left, and what was there before is intact
        assert report[size]["left"] == ["results.json"]
        assert report[size]["results"] == '{"kept": true}'
    assert report["readonly"] == (f"cannot write {dirs[2] / 'clip.mp4'}: {dirs[2]} is not writable "
                                  f"(fix: record into a writable directory)")
    assert not any(any(d.iterdir()) for d in dirs)  # the mounts never left the namespace
