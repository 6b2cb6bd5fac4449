"""`harness analyze` and `harness devices` through the real console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from detectors import base as registry
from tests.conftest import make_clip

HARNESS = [str(Path(sys.executable).parent / "harness")]


def run(*args, cwd=None):
    return subprocess.run(HARNESS + list(args), capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def clip(tmp_path_factory, ffmpeg):
    return make_clip(ffmpeg, tmp_path_factory.mktemp("clips") / "clip.mp4", seconds=5.0,
                     black=(1.0, 1.8), freeze=(3.0, 4.0), silence=(2.0, 2.6))


def test_analyze_json_contract(clip):
    proc = run("analyze", str(clip), "--json", "-")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result) == {"source", "duration_s", "video", "audio", "detectors", "events", "measurements"}
    assert result["video"] == {"width": 320, "height": 240, "fps": 25.0, "frames": 125}
    assert result["audio"] == {"sample_rate": 48000, "channels": 1}
    assert result["duration_s"] == pytest.approx(5.0, abs=0.1)
    by_kind = {}
    for e in result["events"]:
        assert set(e) == {"kind", "start_s", "end_s", "score", "detector", "region", "details"}
        by_kind.setdefault(e["kind"], []).append(e)
    (black,) = by_kind["black"]
    assert black["start_s"] == pytest.approx(1.0, abs=0.05) and black["end_s"] == pytest.approx(1.8, abs=0.05)
    (freeze,) = by_kind["freeze"]
    assert freeze["start_s"] == pytest.approx(3.04, abs=0.1) and freeze["end_s"] == pytest.approx(4.04, abs=0.1)
    (silence,) = by_kind["silence"]
    assert silence["start_s"] == pytest.approx(2.0, abs=0.05) and silence["end_s"] == pytest.approx(2.6, abs=0.05)


def test_analyze_several_files_and_detector_choice(clip, tmp_path):
    out = tmp_path / "r.json"
    proc = run("analyze", str(clip), str(clip), "--detectors", "black", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    assert isinstance(results, list) and len(results) == 2
    assert all(r["detectors"] == ["black"] for r in results)
    assert {e["kind"] for r in results for e in r["events"]} == {"black"}


def test_analyze_audio_only_file(tmp_path, ffmpeg):
    wav = tmp_path / "a.wav"
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=frequency=300:duration=3",
                    "-af", "volume=enable='between(t,1,1.5)':volume=0", str(wav)], check=True)
    result = json.loads(run("analyze", str(wav), "--json").stdout)
    assert result["video"] is None and "silence" in result["detectors"]
    assert result["detectors"] == registry.resolve_names("all", media="audio")
    (silence,) = [e for e in result["events"] if e["kind"] == "silence"]
    assert silence["start_s"] == pytest.approx(1.0, abs=0.05)
    assert silence["end_s"] == pytest.approx(1.5, abs=0.05)


def test_analyze_a_truncated_file_says_what_was_not_analysed(tmp_path, ffmpeg):
    """A recording cut short (a copy interrupted, a capture that died) keeps the header of the
    whole: the part that cannot be decoded is reported, and the exit status is 1, not a clean 0."""
    whole = tmp_path / "whole.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc=d=20:s=320x240:r=25",
                    "-f", "lavfi", "-i", "sine=f=440:d=20", "-c:v", "libx264", "-c:a", "aac",
                    "-shortest", "-movflags", "+faststart", str(whole)], check=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[:whole.stat().st_size // 2])
    proc = run("analyze", str(cut), "--detectors", "black,silence", "--json", "-")
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result["incomplete"]) == {"video", "audio"}
    video = result["incomplete"]["video"]
    assert video["expected_s"] == pytest.approx(20.0, abs=0.1) and 2.0 < video["decoded_s"] < 18.0
    assert "truncated or damaged" in proc.stderr and "Traceback" not in proc.stderr
    complete = run("analyze", str(whole), "--detectors", "black,silence", "--json", "-")
    assert complete.returncode == 0 and "incomplete" not in json.loads(complete.stdout)


@pytest.mark.parametrize("args, message", [
    (["analyze", "/no/such.mp4"], "no such file"),
    (["analyze", "{clip}", "--detectors", "black,nope"], "unknown detector 'nope'"),
    (["analyze", "{notmedia}"], "cannot read media"),
    (["analyze", "{clip}", "--detectors", ""], "no detector named in ''"),
    (["analyze", "{clip}", "--json", "/no/such/folder/r.json"], "folder /no/such/folder does not exist"),
    (["eval", "{clip}", "--markdown", "/no/such/folder/a.md"], "folder /no/such/folder does not exist"),
    (["corpus", "build", "/proc/no-corpus-here", "--size", "tiny"], "cannot create the corpus folder"),
])
def test_analyze_bad_input_exits_2_with_one_line(clip, tmp_path, args, message):
    notmedia = tmp_path / "x.mp4"
    notmedia.write_text("hello")
    proc = run(*[a.format(clip=clip, notmedia=notmedia) for a in args])
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_devices_lists_and_validates(tmp_path):
    proc = run("devices")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok       mock" in proc.stdout
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: broken\ncontroller: {type: mock}\nvideo: {type: mock, fps: 0}\n")
    (tmp_path / "mock.yaml").write_text(Path("devices/mock.yaml").read_text() if Path("devices/mock.yaml").exists()
                                        else "")
    proc = run("devices", "--dir", str(tmp_path))
    assert proc.returncode == 1
    assert "INVALID  broken" in proc.stdout and "video.fps" in proc.stdout


def test_devices_check_mock():
    proc = run("devices", "check", "mock")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "video     ok" in proc.stdout and "audio     ok" in proc.stdout and "control   ok" in proc.stdout


def test_unknown_device_check_exits_2():
    proc = run("devices", "check", "nope")
    assert proc.returncode == 2 and "unknown device 'nope'" in proc.stderr


def test_detectors_of_one_kind_report_one_event_per_episode(tmp_path, ffmpeg, monkeypatch):
    """Two detectors of one kind (a DSP detector and a classifier, here two copies of black)
    agree in one result: one event per episode (the merge names them all, keeps their details)."""
    from harness.analyze import analyze_file

    monkeypatch.setitem(registry._REGISTRY, "black:again", registry._REGISTRY["black"])
    clip = make_clip(ffmpeg, tmp_path / "b.mp4", black=(1.0, 2.0))
    result = analyze_file(str(clip), ["black", "black:again"])
    (event,) = [e for e in result["events"] if e["kind"] == "black"]
    assert event["detector"] == "black"  # (both copies call themselves black)
    assert event["start_s"] == pytest.approx(1.0, abs=0.05)
