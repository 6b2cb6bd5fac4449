"""`harness analyze` on audio-only files (wav, flac, ogg, m4a) and on video with sound, with the
audio detector suite, through the real console script."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from detectors.synth import audio as fx
from harness.media import AudioChunk

HARNESS = [str(Path(sys.executable).parent / "harness")]
AUDIO = "silence,clicks,hum,hiss,distortion,loudness,channel"
RATE = 48000


def run(*args):
    return subprocess.run(HARNESS + list(args), capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def sources(tmp_path_factory, ffmpeg):
    """A 6 s tone-and-noise programme with a dropout at 2.0-2.6 s and 50 Hz hum from 3.5 s,
    written as wav, then encoded to flac, ogg (Vorbis), m4a (AAC), mp3 and an mp4 with a picture."""
    root = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(0)
    t = np.arange(6 * RATE) / RATE
    tone = 0.2 * np.sin(2 * np.pi * 440 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t))
    x = np.stack([tone, 0.8 * tone], axis=1) + 0.01 * rng.standard_normal((t.size, 2))
    audio = AudioChunk(0.0, x.astype(np.float32), RATE)
    audio, _ = fx.silence_episode(audio, 2.0, 2.6)
    audio, _ = fx.hum_episode(audio, 3.5, 5.8, 0.8, 50.0)
    wav = root / "prog.wav"
    sf.write(wav, audio.samples, RATE, subtype="PCM_24")
    files = {"wav": wav}
    for ext, codec in (("flac", ["-c:a", "flac"]), ("ogg", ["-c:a", "libvorbis", "-q:a", "6"]),
                       ("m4a", ["-c:a", "aac", "-b:a", "192k"]),
                       ("mp3", ["-c:a", "libmp3lame", "-b:a", "192k"])):
        path = root / f"prog.{ext}"
        subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(wav), *codec, str(path)],
                       check=True)
        files[ext] = path
    mp4 = root / "prog.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=160x90:rate=25", "-i", str(wav), "-t", "6", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                    str(mp4)], check=True)
    files["mp4"] = mp4
    return files


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "m4a", "mp3", "mp4"])
def test_analyze_audio_file(sources, ext):
    proc = run("analyze", str(sources[ext]), "--detectors", AUDIO, "--json", "-")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["audio"] == {"sample_rate": RATE if ext != "ogg" else result["audio"]["sample_rate"],
                               "channels": 2}
    assert result["duration_s"] == pytest.approx(6.0, abs=0.1)
    assert (result["video"] is None) == (ext != "mp4")
    assert result["detectors"] == AUDIO.split(",")
    kinds = {e["kind"] for e in result["events"]}
    silence = [e for e in result["events"] if e["kind"] == "silence"]
    assert silence and silence[0]["start_s"] == pytest.approx(2.0, abs=0.1)
    hum = [e for e in result["events"] if e["kind"] == "hum"]
    assert hum and hum[0]["details"]["frequency_hz"] == 50.0
    assert kinds <= {"silence", "hum", "clicks"}   # the dropout's edges may click


def test_analyze_audio_only_with_video_detectors_only_is_bad_input(sources):
    """Nothing asked for can run on a song: "0 events" would read as clean, so it is an error
    naming the file, the detectors and the fix."""
    proc = run("analyze", str(sources["flac"]), "--detectors", "black,freeze", "--json", "-")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "none of the detectors asked for can run on it: black, freeze" in proc.stderr
    assert "no video stream" in proc.stderr and "harness detectors" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_analyze_says_which_detectors_did_not_run(sources):
    proc = run("analyze", str(sources["flac"]), "--detectors", "black,silence", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["detectors"] == ["silence"]
    assert result["skipped"] == {"black": "no video stream"}
    text = run("analyze", str(sources["flac"]), "--detectors", "black,silence").stdout
    assert "not run (no video stream): black" in text


def test_analyze_an_empty_audio_file_is_bad_input(tmp_path):
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    proc = run("analyze", str(empty))
    assert proc.returncode == 2
    assert "no samples to read" in proc.stderr or "cannot read media" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("ext", ["wav", "m4a", "mp4"])
def test_analyze_reports_programme_loudness_as_ffmpeg_ebur128_measures_it(sources, ext, ffmpeg):
    # loudness figures are no event: a file at any level has them, under measurements.loudness
    proc = run("analyze", str(sources[ext]), "--detectors", AUDIO, "--json", "-")
    assert proc.returncode == 0, proc.stderr
    loud = json.loads(proc.stdout)["measurements"]["loudness"]
    err = subprocess.run([ffmpeg, "-hide_banner", "-nostats", "-i", str(sources[ext]), "-af",
                          "ebur128=peak=true", "-f", "null", "-"], capture_output=True, text=True).stderr
    summary = err[err.rfind("Summary"):]
    ref = {key: float(re.search(pattern, summary).group(1)) for key, pattern in
           (("integrated_lufs", r"I:\s+(-?[\d.]+)"), ("lra_lu", r"LRA:\s+(-?[\d.]+)"),
            ("true_peak_dbtp", r"Peak:\s+(-?[\d.]+)"))}
    assert loud["integrated_lufs"] == pytest.approx(ref["integrated_lufs"], abs=0.15)
    assert loud["lra_lu"] == pytest.approx(ref["lra_lu"], abs=0.5)
    assert loud["true_peak_dbtp"] == pytest.approx(ref["true_peak_dbtp"], abs=0.3)
    assert loud["target_lufs"] == -23.0 and loud["standard"] == "ebu_r128"


def test_analyze_measurements_follow_the_detectors_run(sources):
    proc = run("analyze", str(sources["wav"]), "--detectors", "silence,hum", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["measurements"] == {}


@pytest.mark.parametrize("options, target", [
    ([], -23.0),                                                   # EBU R128, the default
    (["--set", "loudness.standard=atsc_a85"], -24.0),
    (["--device", "cablebox-ir"], -24.0),                          # the profile's standard
    (["--device", "cablebox-ir", "--set", "loudness.standard=streaming"], -14.0),   # --set wins
    (["--set", "loudness.target_lufs=-16", "--set", "loudness.tolerance_lu=0.5"], -16.0),
])
def test_analyze_loudness_target_from_profile_or_option(sources, options, target):
    proc = run("analyze", str(sources["wav"]), "--detectors", "loudness", "--json", "-", *options)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["measurements"]["loudness"]["target_lufs"] == target


@pytest.mark.parametrize("setting, message", [
    ("loudness.standard=bogus", "loudness.standard: Input should be"),
    ("loudness.nope=3", "loudness.nope: unknown field"),
    ("loud.standard=ebu_r128", "unknown detector 'loud'"),
    ("loudness", "expected DETECTOR.FIELD=VALUE"),
])
def test_analyze_bad_setting_is_one_clear_line(sources, setting, message):
    proc = run("analyze", str(sources["wav"]), "--detectors", "loudness", "--set", setting)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
