"""The learned audio-artifact classifier: committed weights, features, streaming detector."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detectors import base as registry
from detectors.audio import artifacts as A
from detectors.synth import audio as fx
from detectors.synth import content
from harness.media import AudioChunk

RATE = content.SAMPLE_RATE


@pytest.fixture(scope="module")
def clf() -> A.ArtifactClassifier:
    return A.ArtifactClassifier.load()


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    # a track the model never saw in training (held-out test source)
    return content.sound(content.source("music_intro"), 40.0, 4.0)


def _labels(clf, samples, rate=RATE):
    probs = clf.classify(samples, rate)
    return [A.CLASSES[k] for k in probs.argmax(axis=1)], probs


def test_weights_are_committed_and_small():
    assert A.DEFAULT_WEIGHTS.is_file()
    assert A.DEFAULT_WEIGHTS.stat().st_size < 5_000_000
    card = json.loads(A.DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    assert card["classes"] == list(A.CLASSES)
    assert card["features"]["aux"] == list(A.AUX_NAMES)
    # held-out sources (never seen in training): the committed model's floor, and no false
    # positive on the clean segments at the per-class min_probability stored with the weights
    assert card["test"]["balanced_accuracy"] >= 0.90
    assert card["test"]["detector"]["false_positives_per_clean_hour"] < 1.0
    assert A.ArtifactConfig().min_probability is None
    clf = A.ArtifactClassifier.load()
    assert card["min_probability"] == clf.meta["min_probability"]
    assert set(card["min_probability"]) == set(A.DEFECTS)
    assert all(clf.min_probability(k) == card["min_probability"][k] for k in A.DEFECTS)
    assert clf.min_probability("hum", 0.5) == 0.5


@pytest.mark.xfail(reason="the committed model is below the published 0.986 "
                          "(detectors/models/README.md)", strict=True)
def test_model_meets_published_accuracy():
    card = json.loads(A.DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    assert card["test"]["balanced_accuracy"] >= 0.986


@pytest.mark.parametrize("rate", [48_000, 44_100, 16_000])
def test_feature_shape_at_any_rate(rate):
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((round(2.5 * rate), 2))).astype(np.float32)
    f = A.features(x, rate)
    assert f.shape == (2, A.FEATURE_DIM)
    assert f.dtype == np.float32 and np.isfinite(f).all()
    assert A.features(x[:, 0], rate).shape == f.shape  # mono 1-D is accepted


def test_same_sound_at_other_rates_gives_close_features(music):
    from scipy.signal import resample_poly
    ref = A.split_features(A.features(music[:RATE], RATE))[0]
    centres = A._mel_to_hz(np.linspace(A._hz_to_mel(A.FMIN), A._hz_to_mel(A.FMAX), A.N_MELS + 2))[1:-1]
    for rate, up, down in ((44_100, 147, 160), (16_000, 1, 3)):
        other = resample_poly(music[:RATE], up, down, axis=0).astype(np.float32)
        f = A.split_features(A.features(other, rate))[0]
        # where the content has energy, and below the Nyquist frequency of the other rate
        loud = (ref > -60) & (centres < 0.42 * rate)[None, :, None]
        assert np.median(np.abs(f - ref)[loud]) < 1.0
        # full band: 48 kHz content keeps its top octave, a 16 kHz capture has none there
        if rate == 16_000:   # 48 kHz content keeps 9-16 kHz, a 16 kHz capture has none there
            top = (centres > 9_000) & (centres < 16_000)
            assert ref[0, top].mean() > f[0, top].mean() + 20


def test_aux_features_make_each_defect_explicit(music):
    def aux(x):
        return dict(zip(A.AUX_NAMES, A.split_features(A.features(x[:RATE], RATE))[1][0]))
    clean = aux(music)
    assert aux(fx.clip(music, 0.6, "hard"))["abs_share_0.999"] > clean["abs_share_0.999"] + 1.5
    assert aux(fx.bitcrush(music, 0.5))["repeat_1"] > clean["repeat_1"] + 2
    clicked = aux(fx.add_clicks(music, RATE, 0.0, np.array([0.3, 0.7]), 0.3))
    assert clicked["click_peak_1"] > clean["click_peak_1"] + 0.5
    # (this music is loud at 50-200 Hz itself: hum is checked over speech)
    speech = content.sound(content.source("speech_0930"), 0.0, 1.0)
    quiet = aux(speech)
    for f0, other in ((50.0, 60), (60.0, 50)):
        hummed = aux(fx.add_hum(speech, RATE, 0.0, f0, 0.6))
        assert hummed[f"hum{int(f0)}_peak_1"] > quiet[f"hum{int(f0)}_peak_1"] + 0.7
        assert hummed[f"hum{other}_peak_1"] < quiet[f"hum{other}_peak_1"] + 1


def test_hum_steadiness_tells_mains_hum_from_bass_notes():
    """Mains hum holds its level and phase all second; a bass note on the mains bin decays, one
    1.7 Hz off it (B1 = 61.7 Hz) turns its phase; noise has no line at all."""
    t = np.arange(RATE) / RATE
    noise = 0.01 * np.random.default_rng(0).standard_normal(RATE)

    def aux(x):
        x = np.asarray(x, np.float32)
        return dict(zip(A.AUX_NAMES, A.aux_features(np.stack([x, x], axis=1), x)))

    hum = aux(noise + 0.01 * np.sin(2 * np.pi * 60.0 * t + 0.3))
    drifted = aux(noise + 0.01 * np.sin(2 * np.pi * 60.04 * t))    # the grid is never exact
    decaying = aux(noise + 0.05 * np.exp(-3 * t) * np.sin(2 * np.pi * 60.0 * t))
    off_bin = aux(noise + 0.01 * np.sin(2 * np.pi * 61.7 * t))
    bare = aux(noise)
    for steady in (hum, drifted):
        assert steady["hum60_coherence_1"] > 0.99
        assert steady["hum60_steady_1"] > -0.1           # < 1 dB between the thirds
        assert steady["hum60_floor_1"] > 3               # 30 dB over the neighbours throughout
    assert decaying["hum60_coherence_1"] > 0.99 and decaying["hum60_steady_1"] < -1.0
    assert off_bin["hum60_coherence_1"] < 0.5
    assert bare["hum60_floor_1"] < 1
    # the 50 Hz lines do not see a 60 Hz tone
    assert hum["hum50_floor_1"] < 1


def _excess_db(x: np.ndarray, f0: float) -> float:
    """How far the strongest bin within 1 Hz of ``f0`` stands over the median of the bins 3 to
    15 Hz away, in the zero-padded spectrum of the whole recording."""
    m = np.asarray(x, np.float64).mean(axis=1)
    n = 1 << int(np.ceil(np.log2(len(m))) + 2)
    power = np.abs(np.fft.rfft(m * np.hanning(len(m)), n)) ** 2
    hz = np.fft.rfftfreq(n, 1.0 / RATE)
    d = np.abs(hz - f0)
    return float(10 * np.log10(power[d < 1.0].max() / np.median(power[(d > 3) & (d < 15)])))


def test_librivox_sources_lose_their_own_mains_hum_and_nothing_else():
    sources = [s for s in content.installed("speech") if s.mains_hz is not None][:2]
    if not sources:
        pytest.skip("pocketsphinx-testdata is not installed")
    for src in sources:
        raw = np.frombuffer(content._run(["-i", str(src.path), "-ac", "2", "-ar", str(RATE),
                                          "-f", "f32le", "-"]), "<f4").reshape(-1, 2)
        cleaned = content.remove_mains(raw, src.mains_hz)
        # the recording's hum: 15-24 dB over the neighbouring bins; gone after cleaning
        assert _excess_db(raw, src.mains_hz) > 12
        assert _excess_db(cleaned, src.mains_hz) < 7
        # what content.sound() delivers is the cleaned recording, levelled
        x = content.sound(src, 0.0, raw.shape[0] / RATE)
        assert _excess_db(x, src.mains_hz) < 7
        gain = np.sqrt(np.mean(x.astype(np.float64) ** 2) / np.mean(cleaned.astype(np.float64) ** 2))
        assert np.allclose(x, cleaned * gain, atol=1e-5)
        # and per 1-s segment the mains bin is no longer above its neighbours
        names = list(A.AUX_NAMES)
        aux_raw = A.split_features(A.features(raw, RATE))[1][:, names.index("hum60_peak_1")]
        aux_clean = A.split_features(A.features(cleaned, RATE))[1][:, names.index("hum60_peak_1")]
        assert np.median(aux_raw) > 0.9 and np.median(aux_clean) < 0.6
        # the speech itself is untouched: what changed lies within 3 Hz of the notches
        diff = np.fft.rfft((cleaned - raw).astype(np.float64), axis=0)
        hz = np.fft.rfftfreq(raw.shape[0], 1.0 / RATE)
        near = np.min(np.abs(hz[:, None] - src.mains_hz * np.arange(1, content.MAINS_HARMONICS + 1)), axis=1) < 3
        total = np.sum(np.abs(np.fft.rfft(raw.astype(np.float64), axis=0)) ** 2)
        assert np.sum(np.abs(diff[~near]) ** 2) / total < 1e-6
        assert abs(20 * np.log10(np.std(cleaned) / np.std(raw))) < 0.05


# 60 Hz hum at -25 dBFS under this bass-heavy music: 2 of 4 seconds found, 3 needed; one of two
# trainings in session 4 found 3 (seed-to-seed spread), as do the session-5 weights; not strict
WEAK = pytest.mark.xfail(reason="the committed model is below its accuracy target: low-level hum "
                                 "under bass-heavy held-out music is missed (detectors/models/README.md)",
                         strict=False)


def test_clean_music_is_none(clf, music):
    labels, probs = _labels(clf, music)
    assert labels == ["none"] * 4, probs


@pytest.mark.parametrize("name, start", [("megamind", 2.0), ("speech_0930", 0.0), ("applause", 0.5),
                                         ("music_intro", 40.0)])
def test_clean_held_out_content_raises_no_event(name, start):
    # held-out sources (film soundtrack, a speaker, applause), at the default min_probability
    x = content.sound(content.source(name), start, 4.0 if name == "music_intro" else 1.0)
    assert [e for e in _events(x, RATE) if e["kind"] in A.DEFECTS] == []


@pytest.mark.parametrize("label, make", [
    ("hum", lambda x: fx.add_hum(x, RATE, 0.0, 50.0, 0.7)),
    pytest.param("hum", lambda x: fx.add_hum(x, RATE, 0.0, 60.0, 0.7), marks=WEAK),
    ("hum", lambda x: fx.add_hum(x, RATE, 0.0, 60.0, 0.9)),
    ("hiss", lambda x: fx.add_hiss(x, fx.noise(np.random.default_rng(1), x.shape[0], 2), 0.7)),
    ("hiss", lambda x: fx.add_hiss(x, fx.noise(np.random.default_rng(1), x.shape[0], 2, "pink"), 0.7)),
    ("clicks", lambda x: fx.add_clicks(x, RATE, 0.0, np.arange(0.1, 4.0, 0.33), 0.8)),
    ("clicks", lambda x: fx.add_clicks(x, RATE, 0.0, np.arange(0.2, 4.0, 0.5), 0.3)),
    ("distortion", lambda x: fx.clip(x, 0.5, "soft")),
    ("distortion", lambda x: fx.clip(x, 1.0, "hard")),
    ("distortion", lambda x: fx.bitcrush(x, 1.0)),
])
def test_defects_are_classified(clf, music, label, make):
    labels, probs = _labels(clf, np.clip(make(music), -1, 1))
    assert labels.count(label) >= 3, (labels, probs)


def test_classify_is_deterministic(clf, music):
    damaged = fx.add_hum(music, RATE, 0.0, 50.0, 0.5)
    a, b = clf.classify(damaged, RATE), clf.classify(damaged, RATE)
    assert np.array_equal(a, b)
    assert a.shape == (4, len(A.CLASSES))
    assert np.allclose(a.sum(axis=1), 1.0, atol=1e-5)


def _events(samples, chunk, t0=10.0, **cfg):
    det = registry.create("audio_artifacts", **cfg)
    out = []
    for a in range(0, samples.shape[0], chunk):
        out += det.feed(AudioChunk(t0 + a / RATE, samples[a:a + chunk], RATE))
    out += det.finish()
    return [e.to_json() for e in out]


def test_streaming_detector_episodes_independent_of_chunking(music):
    clean = np.concatenate([music, music[:RATE // 2]])          # 4.5 s
    damaged = clean.copy()
    damaged[RATE:3 * RATE] = fx.add_hum(clean[RATE:3 * RATE], RATE, 1.0, 50.0, 0.8)
    whole = _events(damaged, damaged.shape[0], min_probability=0.5)
    hum = [e for e in whole if e["kind"] == "hum"]
    assert len(hum) == 1, whole
    assert (hum[0]["start_s"], hum[0]["end_s"]) == (11.0, 13.0)
    assert hum[0]["details"]["segments"] == 2
    assert set(hum[0]["details"]["probabilities"]) == set(A.CLASSES)
    assert hum[0]["score"] >= 0.5
    for chunk in (960, 4801, RATE + 7):
        assert _events(damaged, chunk, min_probability=0.5) == whole


def test_detector_is_registered_for_audio():
    assert "audio_artifacts" in registry.available()
    assert registry.resolve_names("audio_artifacts", media="audio") == ["audio_artifacts"]
    det = registry.create("audio_artifacts", min_probability=0.6, hop=0.5)
    assert det.config.hop == 0.5
    with pytest.raises(Exception):
        registry.create("audio_artifacts", threshold=0.5)


@pytest.mark.slow
def test_tiny_training_run(tmp_path):
    from detectors.training import audio_artifacts as train
    out = tmp_path / "tiny.pt"
    assert train.main(["--out", str(out), "--epochs", "1", "--train-size", "300",
                       "--val-clean", "60", "--val-defect", "20", "--test-size", "100",
                       "--cache", str(tmp_path / "cache")]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["epochs"] == 1 and "confusion_matrix" in card["test"]
    clf = A.ArtifactClassifier.load(out)
    assert clf.classify(np.zeros((RATE, 2), np.float32), RATE).shape == (1, len(A.CLASSES))
    # resuming a finished run from its checkpoint gives the same weights
    out2 = tmp_path / "again.pt"
    assert train.main(["--out", str(out2), "--epochs", "1", "--train-size", "300",
                       "--val-clean", "60", "--val-defect", "20", "--test-size", "100",
                       "--cache", str(tmp_path / "cache"), "--no-card",
                       "--resume", str(tmp_path / "cache" / "tiny.ckpt")]) == 0
    import torch
    a = torch.load(out, weights_only=True)["state_dict"]
    b = torch.load(out2, weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("codec, kbps", [("aac", 128), ("mp3", 192), ("opus", 96)])
def test_carrier_codec_keeps_each_segment_in_place(music, codec, kbps):
    # training passes some examples through a transparent codec, many segments in one encode:
    # each must come back where it was (an offset would put the gap's silence in a segment
    # labelled by its defect) and nearly unchanged (a transparent bitrate)
    from detectors.training import audio_artifacts as train
    segments = [music[k * RATE:(k + 1) * RATE] for k in range(3)]
    coded = train.carried(segments, (codec, kbps))
    for seg, out in zip(segments, coded):
        assert out.shape == seg.shape
        lags = range(-64, 65)
        match = [float(np.dot(np.roll(out[:, 0], lag)[2000:-2000], seg[2000:-2000, 0])) for lag in lags]
        assert int(np.argmax(match)) == 64, f"{codec}: output shifted by {int(np.argmax(match)) - 64} samples"
        err = out[2000:-2000] - seg[2000:-2000]
        snr = 10 * np.log10(np.mean(seg[2000:-2000] ** 2) / np.mean(err ** 2))
        assert snr > 10.0, f"{codec} at {kbps} kbps: {snr:.1f} dB"


def test_carrier_share_changes_training_specs_only(tmp_path):
    import dataclasses

    from detectors.training import audio_artifacts as train

    class SilentLibrary(train.Library):   # the specs need only the sources' lengths
        def get(self, name):
            return np.zeros((10 * RATE, 2), np.float32)

    lib = SilentLibrary(tmp_path)
    if not train._available("train", lib):
        pytest.skip("no training source installed")
    plain = train.make_specs("train", 600, 0, lib)
    coded = train.make_specs("train", 600, 0, lib, carrier_share=0.2)
    assert all(s.carrier is None for s in plain)
    # the carrier has its own generator: every other draw stays as it was (the committed
    # weights' data, share 0, unchanged)
    assert [dataclasses.replace(s, carrier=None) for s in coded] == plain
    share = np.mean([s.carrier is not None for s in coded])
    assert 0.13 < share < 0.27
    assert not any(s.carrier and s.mode == "lossy" for s in coded)
    assert {s.carrier[0] for s in coded if s.carrier} == set(train.CARRIER_KBPS)
    assert all(s.carrier is None for s in train.make_specs("test", 300, 0, lib, carrier_share=0.2))


def test_hum_margin_measures_hum_against_the_content_in_its_bins():
    from detectors.training.audio_hum_masking import hum_margin_db
    t = np.arange(RATE) / RATE
    quiet = (0.01 * np.sin(2 * np.pi * 440 * t))[:, None].repeat(2, axis=1).astype(np.float32)
    noise = (0.3 * np.random.default_rng(0).standard_normal((RATE, 2))).astype(np.float32)
    # over a quiet tone far from the mains lines the hum stands far out; under loud broadband
    # noise, 10 dB more hum (severity +0.2) is 10 dB more margin, and the faint one is masked
    assert hum_margin_db(quiet, fx.add_hum(quiet, RATE, 0.0, 50.0, 0.5), 50.0) > 40.0
    weak, strong = (hum_margin_db(noise, fx.add_hum(noise, RATE, 0.0, 50.0, sev), 50.0)
                    for sev in (0.2, 0.4))
    assert weak < 0.0 and strong - weak == pytest.approx(10.0, abs=0.01)


RENDER_PROBE = """
import sys, zlib
from pathlib import Path
import numpy as np
from detectors.training import audio_artifacts as train

class NoisyLibrary(train.Library):   # every source: its own seeded noise, 10 s
    def get(self, name):
        if name not in self.audio:
            rng = np.random.default_rng(zlib.crc32(name.encode()))
            self.audio[name] = (0.1 * rng.standard_normal((480000, 2))).astype(np.float32)
        return self.audio[name]

lib = NoisyLibrary(Path(sys.argv[1]))
if not train._available("train", lib):
    print("SKIP"); sys.exit(0)
specs = train.make_specs("train", 90, 0, lib)
train._PART = 20                       # several tasks per process
one = train.render(specs, lib, None, jobs=1)
two = train.render(specs, lib, None, jobs=2)
assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])
assert np.isfinite(one[0].astype(np.float32)).all() and (one[0] != 0).any(axis=1).all()
print("SAME")
"""


def test_training_data_is_the_same_rendered_by_any_number_of_processes(tmp_path):
    # in a fresh process: the workers are forked, and this one may hold other tests' threads
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-c", RENDER_PROBE, str(tmp_path)], capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    if proc.stdout.strip() == "SKIP":
        pytest.skip("no training source installed")
    assert proc.stdout.strip() == "SAME"
