"""``harness corpus build`` and ``harness eval`` end to end on a tiny corpus."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detectors.synth import content
from detectors.synth.corpus import KINDS, SIZES, VARIANTS, plan
from harness.capture.file import FileAudioSource, FileVideoSource

HARNESS = str(Path(sys.executable).parent / "harness")
ANALYZE_KEYS = {"source", "duration_s", "video", "audio", "detectors", "events", "measurements"}

TINY_SOURCES = {"vtest", "bikes"}  # the tiny corpus's footage, besides photos and music
pytestmark = pytest.mark.skipif(
    not TINY_SOURCES <= {s.name for s in content.installed()}
    or not (content.installed("photo") and content.installed("music")),
    reason="corpus content not installed (scripts/setup.sh)")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([HARNESS, *args], capture_output=True, text=True, timeout=300)


def decoded_digest(path: Path) -> dict[str, str]:
    """Hashes of what a detector sees: every decoded frame, every decoded sample, and (to tell
    an encode that differs from a decode that does) the file's bytes."""
    video, audio = hashlib.sha256(), hashlib.sha256()
    if path.suffix == ".mp4":
        source = FileVideoSource.open(str(path))
        try:
            for frame in source:
                video.update(frame.image.tobytes())
        finally:
            source.close()
    for chunk in FileAudioSource.open(str(path)):
        audio.update(chunk.samples.tobytes())
    return {"video": video.hexdigest()[:16], "audio": audio.hexdigest()[:16],
            "file": hashlib.sha256(path.read_bytes()).hexdigest()[:16]}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus") / "tiny"
    proc = run("corpus", "build", str(root), "--seed", "3", "--size", "tiny")
    assert proc.returncode == 0, proc.stderr
    assert "files" in proc.stdout
    return root


def test_manifest_and_truth_files(corpus):
    manifest = json.loads((corpus / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["size"] == "tiny" and manifest["kinds"] == list(KINDS)
    assert manifest["command"].startswith("harness corpus build")
    files = manifest["files"]
    assert len(files) == len(plan(SIZES["tiny"], 3)) == manifest["totals"]["files"]
    clean = [f for f in files if f["variant"] is None]
    assert {Path(f["media"]).suffix for f in clean} == {".mp4", ".flac"}
    for entry in files:
        assert (corpus / entry["media"]).is_file() and entry["sources"]
        truth = json.loads((corpus / entry["truth"]).read_text())
        assert set(truth) == ANALYZE_KEYS and truth["source"] == entry["media"]
        assert truth["detectors"] == ["injected"]
        kinds = {e["kind"] for e in truth["events"]}
        if entry["variant"] is None:
            assert not kinds
        else:
            assert kinds == {VARIANTS[entry["variant"]].kind}, entry
        for event in truth["events"]:
            assert event["detector"] == "injected" and 0 <= event["start_s"] < event["end_s"]
            assert event["end_s"] <= truth["duration_s"] + 1e-6
            assert event["details"]["variant"] == entry["variant"]
            assert "severity" in event["details"]
        for kind, seconds in entry["clean_s"].items():
            covered = sum(e["end_s"] - e["start_s"] for e in truth["events"] if e["kind"] == kind)
            assert seconds == pytest.approx(truth["duration_s"] - covered, abs=1e-3)
        if truth["video"] is None:
            assert "black" not in entry["clean_s"] and "silence" in entry["clean_s"]
    assert manifest["totals"]["episodes"]["block_corruption"] >= 1, "real codec damage"
    assert sum(manifest["totals"]["episodes"].values()) >= len(files) - len(clean)


def test_same_seed_same_corpus(corpus, tmp_path):
    again = tmp_path / "again"
    assert run("corpus", "build", str(again), "--seed", "3", "--size", "tiny",
               "--jobs", "1").returncode == 0
    for truth in sorted((corpus / "media").glob("*.truth.json")):
        assert truth.read_bytes() == (again / "media" / truth.name).read_bytes(), truth.name
    for media in sorted((corpus / "media").glob("*.mp4"))[:2]:
        # the decoded pictures and sound must match; the message says which differ and
        # whether the files' bytes do (one fresh-clone CI run in session 8 saw this file pair
        # decode differently once, not reproduced since)
        first, second = decoded_digest(media), decoded_digest(again / "media" / media.name)
        assert (first["video"], first["audio"]) == (second["video"], second["audio"]), \
            (media.name, first, second)


def test_eval_scores_every_kind_end_to_end(corpus, tmp_path):
    out, png, page = tmp_path / "eval.json", tmp_path / "pr.png", tmp_path / "accuracy.md"
    proc = run("eval", str(corpus), "--json", str(out), "--plot", str(png), "--markdown",
               str(page), "--detectors", "black,freeze,silence")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("| kind | detector |")
    report = json.loads(out.read_text())
    rows = {row["kind"]: row for row in report["kinds"]}
    assert list(rows) == list(KINDS)
    for kind in ("black", "freeze", "silence"):
        assert rows[kind]["status"] == "scored" and rows[kind]["episodes"] == 1
        assert rows[kind]["recall"] == 1.0, rows[kind]
    assert rows["clicks"]["status"] in ("no detector yet", "not run")
    assert rows["clicks"]["episodes"] == 1 and rows["clicks"]["precision"] is None
    assert set(report["sweeps"]) == {"black", "freeze", "silence"}
    assert png.read_bytes()[:4] == b"\x89PNG"
    text = page.read_text()
    assert "harness corpus build" in text and "| black | black | 1 |" in text
    assert proc.stdout.strip() in text


def test_eval_of_video_detectors_passes_over_audio_only_files(corpus):
    """A corpus mixes videos and songs: the songs hold nothing a video detector judges (for
    ``harness analyze`` asking only for those is an error; for the eval they are skipped)."""
    manifest = json.loads((corpus / "manifest.json").read_text())
    assert any(not f["media"].endswith(".mp4") for f in manifest["files"])
    proc = run("eval", str(corpus), "--detectors", "black")
    assert proc.returncode == 0, proc.stderr
    assert "| black | black | 1 |" in proc.stdout


def test_bad_corpus_is_a_clear_error(tmp_path):
    proc = run("eval", str(tmp_path))
    assert proc.returncode == 2 and "not a corpus" in proc.stderr


def test_stutter_goes_where_the_content_shows_a_cadence():
    """Stutter episodes are placed where pictures change at (nearly) every frame: on footage
    at 2.5 pictures/s a dropped or repeated capture frame changes nothing anyone could see."""
    import numpy as np

    from detectors.synth.corpus import Clip, inject
    from harness.media import AudioChunk, Frame

    fmt = content.FORMATS["180p25"]
    rng = np.random.default_rng(0)
    pictures = []
    for k in range(250):  # 10 s: 5 s of 2.5 pictures/s footage, then 5 s moving every frame
        held = k < 125 and k % 10 != 0
        pictures.append(pictures[-1] if held else
                        rng.integers(0, 255, (fmt.height, fmt.width, 3), dtype=np.uint8))
    size = SIZES["small"]
    for seed in range(5):
        clip = Clip(fmt, [Frame(k / 25, k, img) for k, img in enumerate(pictures)],
                    AudioChunk(0.0, np.zeros((480000, 2), np.float32), 48000))
        events = inject(clip, VARIANTS["stutter_mixed"], size, np.random.default_rng(seed))
        assert events and all(e.start_s >= 4.4 for e in events), events


def test_content_sound_is_never_padded_with_silence():
    """A source's sound is never cut off into digital silence (that is a dropout, the silence
    detector's defect, in content labelled clean).  Megamind.avi's audio starts 0.4 s after its
    video: asked for with -t on the container's clock it delivered 0.4 s too little, and the
    zeros that filled it were the large corpus's one silence false positive."""
    src = content.source("megamind")
    if not src.path.is_file():
        pytest.skip("opencv-doc is not installed")

    def longest_zero_run_s(x):
        silent = np.r_[0, (np.abs(x).max(axis=1) == 0).astype(np.int8), 0]
        edges = np.flatnonzero(np.diff(silent))
        return float(np.max(edges[1::2] - edges[::2], initial=0)) / content.SAMPLE_RATE

    for start, seconds in ((0.0, 4.0), (0.05, 4.0), (2.0, 4.0)):
        x = content.sound(src, start, seconds)
        assert x.shape == (round(seconds * content.SAMPLE_RATE), 2)
        assert longest_zero_run_s(x) < 0.01, (start, seconds)
    # past the end of a source it starts over, spliced (no click, no gap)
    bunny = content.source("bigbuckbunny")
    if bunny.path.is_file():
        x = content.sound(bunny, 3.0, 6.0)
        assert x.shape[0] == 6 * content.SAMPLE_RATE and longest_zero_run_s(x) < 0.01


def test_loop_repeats_spliced():
    rate = content.SAMPLE_RATE
    t = np.arange(rate // 2) / rate
    part = np.repeat((0.3 * np.sin(2 * np.pi * 220.0 * t + 1.0))[:, None], 2, 1).astype(np.float32)
    looped = content.loop(part, 2 * rate)
    assert looped.shape == (2 * rate, 2)
    own_step = float(np.abs(np.diff(part[:, 0])).max())
    assert np.abs(np.diff(looped[:, 0])).max() <= 1.05 * own_step     # no step at the wraps
    n = round(content.SPLICE_S * rate)
    assert np.array_equal(looped[rate // 2 + n:rate - n], part[n:-n])   # only the fades change
    assert np.array_equal(content.loop(part, 100), part[:100])
    with pytest.raises(ValueError):
        content.loop(part[:0], 10)


def test_sound_parts_are_spliced_without_a_click():
    """Scenes' own soundtracks and utterances are joined as an editor joins them (a short fade
    each side): a bare cut between two waveforms is a step, a click (the audio classifier found
    such joins in "clean" corpus files)."""
    rate = content.SAMPLE_RATE
    t = np.arange(rate) / rate
    parts = [np.repeat((0.3 * np.sin(2 * np.pi * f * t + phase))[:, None], 2, 1).astype(np.float32)
             for f, phase in ((220.0, 0.0), (330.0, np.pi / 2))]
    own_step = max(float(np.abs(np.diff(p[:, 0])).max()) for p in parts)
    bare = np.concatenate(parts)
    assert np.abs(np.diff(bare[:, 0])).max() > 10 * own_step  # the cut: a 0.3 step
    spliced = content.splice(parts)
    assert spliced.shape == bare.shape
    assert np.abs(np.diff(spliced[:, 0])).max() <= 1.05 * own_step
    n = round(content.SPLICE_S * rate)
    assert np.array_equal(spliced[:rate - n], bare[:rate - n])  # only the fades change
    assert np.array_equal(spliced[rate + n:], bare[rate + n:])


def test_quiet_passage_fades_evenly_in_db(monkeypatch):
    """The quiet theme's passage (a hard negative of the loudness detector) is 25 dB down and
    faded over 0.3 s evenly in dB, as a fader or a diminuendo moves.  Until session 5 the fade
    was linear in amplitude: half of the 25 dB fell in its last 50 ms, an abrupt gain step, which
    the loudness detector rightly reported as a jump (the large corpus's one false positive)."""
    from detectors.synth import corpus as corpus_mod

    size = SIZES["small"]
    n = round(size.seconds * content.SAMPLE_RATE)
    track = content.Source("flat", Path("/nonexistent"), "music")
    monkeypatch.setattr(corpus_mod, "_music",
                        lambda rng, seconds: (np.ones((n, 2), np.float32), track))
    clip = corpus_mod._audio_clip("quiet", size, np.random.default_rng(0))
    assert "quiet_passage" in clip.negatives
    gain_db = 20 * np.log10(clip.audio.samples[:, 0].astype(np.float64))
    assert gain_db.min() == pytest.approx(-25.0, abs=0.01)
    assert np.mean(gain_db < -24.9) * size.seconds > 2.0          # the passage lasts
    step = content.SAMPLE_RATE // 100                              # 10 ms
    worst_10ms = float(np.abs(gain_db[step:] - gain_db[:-step]).max())
    assert worst_10ms <= 25.0 * 0.01 / 0.3 + 0.01, worst_10ms     # 0.83 dB per 10 ms at most
