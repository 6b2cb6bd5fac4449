"""Train the audio-artifact classifier (:mod:`detectors.audio.artifacts`) on generated data.

    python -m detectors.training.audio_artifacts --out detectors/models/audio_artifacts.pt \\
        [--seed 0] [--epochs 10] [--resume CHECKPOINT]

Data: 1-s segments of the real pristine content of :mod:`detectors.synth.content` (music, read
speech, applause, typewriter, film soundtracks; 48 kHz stereo, levelled), with one defect
injected by :mod:`detectors.synth.audio` (hum 50/60 Hz, white/pink hiss, hard/soft clipping,
bit crushing, clicks) or the Opus re-encode of :mod:`detectors.synth.codec` (the same ffmpeg
command), or none.  Every class shares the same content augmentations, which are also the hard
negatives of class ``none``: gain changes, quiet passages, level steps inside the segment,
pauses, abrupt dropouts (muted or attenuated, part or all of the segment), edits (the content
switching abruptly to another source, as at a scene cut), speech over a music bed and the
plucked bass line on the mains frequencies
(:func:`~detectors.synth.content.bass_line`).  Training adds spectral tilt, band-limiting, hot
peaks and 16-bit quantisation; sources shorter than a segment are never looped (their strikes
are mixed into a music bed).  Features: :func:`detectors.audio.artifacts.segment_features`.

Split by content source (:data:`SPLIT`): the test split uses sources the model never saw
(one music track, the applause, a film soundtrack and three speech files) at the severity ranges
of the evaluation corpus (:data:`detectors.synth.corpus.VARIANTS`); the validation split is
whole sources too (one frozen-bubble and one mu-cade track, a reader, two sound effects), where
the "none" logit offset (class-prior correction) and the per-class ``min_probability`` are
chosen, the latter so that an hour of clean segments raises no false positive.

Deterministic: every example is drawn from its own seeded generator, torch runs on one thread
with seeded shuffling and dropout per epoch, so a run (and a resumed run) gives the same
weights.  Generated features are cached under ``/tmp`` (``--cache``).  Writes the weights
(``--out``), the model card (``--out`` with ``.json``) and a checkpoint after every epoch
(``CACHE/<out stem>.ckpt``; ``--resume`` continues from one).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detectors.audio import artifacts as A
from detectors.synth import audio as fx
from detectors.synth import content
from harness.capture.file import _require

RATE = content.SAMPLE_RATE
SEG = RATE  # one second at 48 kHz
DATA_VERSION = 11
SOURCE_VERSION = 3   # bump when content decoding changes (2: mains hum removed from LibriVox;
                     # 3: never padded with silence, loops spliced)

# source -> (split, time range as fractions of the source).  Whole sources in each split:
# validation (where min_probability and the "none" logit offset are chosen) and test use
# sources that training never sees, so both measure content the model has not heard.
SPLIT: dict[str, dict[str, tuple[float, float]]] = {
    "train": {"music_main": (0.0, 1.0), "speech_0870": (0.0, 1.0), "speech_0890": (0.0, 1.0),
              "bigbuckbunny": (0.0, 1.0), "typewriter": (0.0, 1.0)},
    "val": {"music_duo": (0.0, 1.0), "speech_0920": (0.0, 1.0)},
    "test": {"music_intro": (0.0, 1.0), "speech_0880": (0.0, 1.0), "speech_0930": (0.0, 1.0),
             "voice": (0.0, 1.0), "applause": (0.0, 1.0), "megamind": (0.0, 1.0)},
}
# sources outside the corpus catalogue (never in test): the other ALSA channel prompts (the same
# speaker as the test source "voice", other words), the frozen-bubble sound effects (short ones
# are mixed into music beds as strikes), and more real music: funnyboat's soundtrack and
# mu-cade's four tracks (Debian packages funnyboat, mu-cade-data); one mu-cade track and two
# sound effects are validation sources
_ALSA = Path("/usr/share/sounds/alsa")
_BUBBLE = Path("/usr/share/games/frozen-bubble/snd")
_MUCADE = Path("/usr/share/games/mu-cade/sounds/musics")
EXTRA_SOURCES = (
    *(content.Source(f"alsa_{n.lower()}", _ALSA / f"{n}.wav", "speech", ("speech_pauses",), "alsa-utils")
      for n in ("Front_Left", "Front_Right", "Rear_Center", "Rear_Left", "Rear_Right", "Side_Left",
                "Side_Right")),
    *(content.Source(f"sfx_{n}", _BUBBLE / f"{n}.ogg", "sound", ("percussive",), "frozen-bubble-data")
      for n in ("cancel", "chatted", "destroy_group", "hurry", "lose", "malus", "menu_selected",
                "newroot", "newroot_solo", "noh", "pause", "rebound", "snore", "stick")),
    content.Source("music_funnyboat", Path("/usr/share/games/funnyboat/data/JDruid-Trip_on_the_Funny_Boat.ogg"),
                   "music", (), "funnyboat"),
    *(content.Source(f"music_mcd{k}", _MUCADE / f"mcd{k}.ogg", "music", (), "mu-cade-data") for k in (1, 2, 3, 4)),
)
# session 5: more real music, 50 tracks of other composers and styles (Debian singularity-music:
# 16 ambient/orchestral tracks; drascula-music: 31 adventure-game tracks; a7xpg-data: 3 techno
# tracks), so the model hears more than five training tracks' timbres; two of each of the first
# two packages are validation sources
_SINGULARITY = Path("/usr/share/games/singularity/music")
_DRASCULA = Path("/usr/share/scummvm/drascula/audio")
_A7XPG = Path("/usr/share/games/a7xpg/sounds")
_SINGULARITY_TRACKS = ("A New Journey", "Aberrations", "Advanced Simulacra", "Awakening", "By-Product",
                       "Coherence", "Deprecation", "Enemy Unknown", "Inevitable", "Media Threat", "Nebula",
                       "Orbital Elevator", "Through Space", "lose/Chimes They Fade",
                       "lose/March Thee to Dis", "win/Apex Aleph")
EXTRA_SOURCES += (
    *(content.Source("music_sing_" + t.rsplit("/", 1)[-1].lower().replace(" ", "_").replace("-", "_"),
                     _SINGULARITY / f"{t}.ogg", "music", (), "singularity-music") for t in _SINGULARITY_TRACKS),
    *(content.Source(f"music_drascula{k}", _DRASCULA / f"track{k}.ogg", "music", (), "drascula-music")
      for k in range(1, 32)),
    *(content.Source(f"music_a7xpg{k}", _A7XPG / f"bgm{k}.ogg", "music", (), "a7xpg-data") for k in (1, 2, 3)),
)
_VAL_EXTRA = ("music_mcd2", "sfx_lose", "sfx_destroy_group", "music_sing_nebula", "music_sing_coherence",
              "music_drascula3", "music_drascula15")
# a second test split of whole tracks never heard in training or validation: the first test split
# has one music track only (music_intro, 40 % of its segments) and 2-3 s LibriVox readings
_TEST_MUSIC = ("music_sing_awakening", "music_sing_media_threat", "music_sing_deprecation",
               "music_sing_through_space", "music_drascula5", "music_drascula9", "music_drascula14",
               "music_drascula26", "music_a7xpg2")
SPLIT["test_music"] = {name: (0.0, 1.0) for name in _TEST_MUSIC}
SPLIT["train"].update({s.name: (0.0, 1.0) for s in EXTRA_SOURCES
                       if s.name not in _VAL_EXTRA and s.name not in _TEST_MUSIC})
SPLIT["val"].update({name: (0.0, 1.0) for name in _VAL_EXTRA})

# how often each kind of content is drawn
KIND_WEIGHTS = {"music": 0.5, "speech": 0.25, "sound": 0.1, "animation": 0.15}

# severity ranges: wider for training; the corpus's (VARIANTS) for validation and test
TRAIN_RANGES = {"hum": (0.15, 1.0), "hiss": (0.15, 1.0), "hard": (0.2, 1.0), "soft": (0.2, 1.0),
                "crush": (0.2, 1.0), "lossy": (0.4, 1.0), "clicks": (0.1, 1.0)}
CORPUS_RANGES = {"hum": (0.3, 0.9), "hiss": (0.3, 0.9), "hard": (0.3, 1.0), "soft": (0.3, 1.0),
                 "crush": (0.3, 1.0), "lossy": (0.5, 1.0), "clicks": (0.2, 1.0)}
DISTORTION_MODES = ("hard", "soft", "crush", "lossy")
# training only (--carrier-share, default 0): that share of the examples (not the lossy ones)
# passes through a codec at a transparent bitrate, kbps per codec (the corpus's MP4 soundtracks
# are AAC at 192 kbps, harness recordings AAC at 128 kbps). Session 6: with 0.2 a width-4 CNN
# lost its 8 corpus false positives on AAC soundtracks; the MLP neither gained nor lost
CARRIER_KBPS = {"aac": (96, 128, 160, 192, 256), "mp3": (128, 192, 256, 320), "opus": (64, 96, 128)}
_CARRIER_CODEC = {"aac": ("aac", ".m4a"), "mp3": ("libmp3lame", ".mp3"), "opus": ("libopus", ".ogg")}
EQ_HZ = (40.0, 100.0, 250.0, 630.0, 1600.0, 4000.0, 10000.0, 20000.0)
# the head alone over the band statistics and hand-made features: the CNN (width > 0) learnt the
# timbre of the few training tracks and called unseen music distortion (and takes 50x longer)
ARCH = {"width": 0, "hidden": 256, "layers": 2, "stats": True, "rel": True, "aux": True}
TRAIN_FLOOR_DB = -45.0   # training examples whose injection changed less than this are left out


@dataclass
class Spec:
    """One example: where its content comes from, how it is shaped, which defect it gets."""

    label: str
    source: str
    start: int                      # first sample in the source
    gain_db: float = 0.0
    mode: str = ""                  # hum 50/60, hiss white/pink, distortion mode
    severity: float = 0.0
    seed: int = 0
    bed: str | None = None          # a music bed under speech ...
    bed_start: int = 0
    bed_db: float = -15.0
    bass_db: float | None = None    # ... or the mains-band bass line, at this level
    step_at: float | None = None    # a level step at this fraction of the segment ...
    step_db: float = 0.0
    pause: tuple[float, float] | None = None  # ... or a pause (fractions)
    harmonics: int = 5
    lowpass_hz: float | None = None  # band-limited content (a 16/32 kHz source), training only
    peak: float | None = None       # content brought to this peak (a hot master), not above 1
    strikes: tuple[float, ...] = ()  # typewriter strikes (segment fractions) over a music bed
    tilt_db: float = 0.0            # spectral tilt (dB per octave re 1 kHz), training only
    eq_db: tuple[float, ...] = ()   # a random smooth EQ curve (gains at EQ_HZ), training only
    speed: float = 1.0              # content played this much faster (pitch and tempo), training only
    span: tuple[float, float] | None = None  # the defect covers only this part (an episode edge)
    dropout: tuple[float, float, float] | None = None  # content cut abruptly over (start, end) to this gain
    cut: tuple[float, str, int, float] | None = None  # an edit: from (fraction) on, (source, start) at (dB)
    pcm16: bool = False             # the final signal quantised to 16 bits (a PCM capture)
    carrier: tuple[str, int] | None = None  # the final signal through this codec at a transparent bitrate
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- content
class Library:
    """Pristine sources, decoded once (cached under ``cache``)."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.audio: dict[str, np.ndarray] = {}
        self.by_name = {s.name: s for s in content.installed() if s.kind in KIND_WEIGHTS
                        and (s.kind != "animation" or s.has_sound)}
        self.by_name.update({s.name: s for s in EXTRA_SOURCES if s.path.is_file()})

    def get(self, name: str) -> np.ndarray:
        if name not in self.audio:
            path = self.cache / f"src-{name}-v{SOURCE_VERSION}.npy"
            if path.is_file():
                self.audio[name] = np.load(path)
            else:
                src = self.by_name[name]
                x = content.sound(src, 0.0, content.duration_s(src.path))
                np.save(path, x)
                self.audio[name] = x
        return self.audio[name]

    def window(self, name: str, start: int, n: int = SEG) -> np.ndarray:
        x = self.get(name)
        if x.shape[0] >= start + n:
            return x[start:start + n]
        return content.loop(np.roll(x, -start, axis=0), n)


def _available(split: str, lib: Library) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for name in SPLIT[split]:
        if name in lib.by_name:
            kinds.setdefault(lib.by_name[name].kind, []).append(name)
    return kinds


def _draw_start(rng: np.random.Generator, lib: Library, split: str, name: str) -> int:
    n = lib.get(name).shape[0]
    lo, hi = SPLIT[split][name]
    a, b = int(lo * n), int(hi * n) - SEG
    return int(rng.integers(a, b + 1)) if b > a else a


def make_specs(split: str, count: int, seed: int, lib: Library,
               class_shares: dict[str, float] | None = None, carrier_share: float = 0.0) -> list[Spec]:
    """``count`` example specs of ``split``, each from its own generator."""
    shares = class_shares or {"none": 0.3, "hum": 0.175, "hiss": 0.175, "distortion": 0.175,
                              "clicks": 0.175}
    ranges = TRAIN_RANGES if split == "train" else CORPUS_RANGES
    kinds = _available(split, lib)
    kind_names = sorted(kinds)
    kind_p = np.array([KIND_WEIGHTS[k] for k in kind_names])
    kind_p /= kind_p.sum()
    labels = list(shares)
    label_p = np.array([shares[k] for k in labels], np.float64)
    label_p /= label_p.sum()
    split_id = {"train": 0, "val": 1, "test": 2, "test_music": 3}[split]
    specs = []
    for i in range(count):
        rng = np.random.default_rng([seed, split_id, i])
        label = labels[int(rng.choice(len(labels), p=label_p))]
        kind = kind_names[int(rng.choice(len(kind_names), p=kind_p))]
        name = kinds[kind][int(rng.integers(len(kinds[kind])))]
        spec = Spec(label, name, _draw_start(rng, lib, split, name), seed=int(rng.integers(2**31)))
        if lib.get(name).shape[0] < SEG:
            # a source shorter than a segment (typewriter) is never looped (the joins would be
            # clicks labelled none): its strikes are mixed into a music bed, as the corpus's
            # percussive theme does
            spec.strikes = tuple(sorted(float(v) for v in rng.uniform(0.0, 0.9, int(rng.integers(1, 4)))))
            if "music" in kinds:
                spec.bed = kinds["music"][int(rng.integers(len(kinds["music"])))]
                spec.bed_start = _draw_start(rng, lib, split, spec.bed)
                spec.bed_db = float(rng.uniform(-20.0, -6.0))
        # content shaping, shared by every class (the hard negatives of "none")
        spec.gain_db = float(rng.uniform(-3.0, 3.0)) if label == "distortion" else \
            float(rng.choice([rng.uniform(-6.0, 4.0), rng.uniform(-30.0, -6.0)], p=[0.75, 0.25]))
        u = rng.random()
        if spec.strikes:
            pass
        elif kind == "speech" and u < 0.3 and "music" in kinds:
            spec.bed = kinds["music"][int(rng.integers(len(kinds["music"])))]
            spec.bed_start = _draw_start(rng, lib, split, spec.bed)
            spec.bed_db = float(rng.uniform(-25.0, -8.0))
        elif kind in ("music", "animation") and u < 0.3:
            spec.bass_db = float(rng.uniform(-12.0, 0.0))
        elif u < 0.4:
            spec.bass_db = float(rng.uniform(-10.0, 0.0)) if rng.random() < 0.3 else None
        v = rng.random()
        if v < 0.15:
            spec.step_at, spec.step_db = float(rng.uniform(0.1, 0.9)), float(rng.choice([-1, 1]) * rng.uniform(6, 20))
        elif v < 0.25:
            a = float(rng.uniform(0.0, 0.7))
            spec.pause = (a, a + float(rng.uniform(0.1, 0.3)))
        if split == "train":
            if rng.random() < 0.5:
                spec.tilt_db = float(rng.uniform(-4.0, 4.0))
            # timbres the few training sources lack: a random EQ, a faster or slower playback
            if rng.random() < 0.5:
                spec.eq_db = tuple(float(g) for g in rng.uniform(-6.0, 6.0, len(EQ_HZ)))
            if not spec.strikes and rng.random() < 0.4:
                spec.speed = float(rng.choice([18, 19, 21, 22])) / 20.0
            spec.pcm16 = bool(rng.random() < 0.3)
            w = rng.random()
            if w < 0.1:
                spec.lowpass_hz = float(rng.uniform(7000.0, 16000.0))
            elif w < 0.2:
                spec.peak = float(rng.uniform(0.9, 0.999))
        if label == "hum":
            spec.mode = str(rng.choice(["50", "60"]))
            spec.severity = float(rng.uniform(*ranges["hum"]))
            spec.harmonics = 5 if split != "train" else int(rng.integers(2, 9))
            spec.extra["t0"] = float(rng.uniform(0, 100))
            if split == "train":   # the grid's frequency wanders (+-0.05 Hz); the corpus's is exact
                spec.extra["df"] = float(rng.uniform(-0.05, 0.05))
        elif label == "hiss":
            spec.mode = str(rng.choice(["white", "pink"]))
            spec.severity = float(rng.uniform(*ranges["hiss"]))
        elif label == "distortion":
            spec.mode = str(rng.choice(DISTORTION_MODES))
            spec.severity = float(rng.uniform(*ranges[spec.mode]))
            if spec.mode == "lossy":
                spec.extra["kbps"] = round(24 - 18 * spec.severity)  # codec.lossy_bitrate_kbps
        elif label == "clicks":
            spec.severity = float(rng.uniform(*ranges["clicks"]))
        # an episode's edge inside the segment: the defect over part of it only (training)
        if split == "train" and label != "none" and spec.mode != "lossy" and rng.random() < 0.3:
            length = float(rng.uniform(0.3, 0.9))
            a = float(rng.choice([0.0, 1.0 - length, rng.uniform(0.0, 1.0 - length)]))
            spec.span = (a, a + length)
        # a dropout (the silence detector's kind, a hard negative here): part or all of the
        # content cut abruptly, muted or attenuated, as the corpus's dropout episodes
        if rng.random() < 0.08:
            a = 0.0 if rng.random() < 0.3 else float(rng.uniform(0.0, 0.8))
            b = 1.0 if rng.random() < 0.5 else float(rng.uniform(a + 0.1, 1.0))
            gain = 0.0 if rng.random() < 0.7 else float(10 ** (-rng.uniform(20.0, 60.0) / 20))
            spec.dropout = (a, min(1.0, b), gain)
        # an edit (a scene cut): the content switches abruptly to another source of the split
        if not spec.strikes and rng.random() < 0.08:
            kind2 = kind_names[int(rng.choice(len(kind_names), p=kind_p))]
            other = kinds[kind2][int(rng.integers(len(kinds[kind2])))]
            if lib.get(other).shape[0] >= SEG:
                spec.cut = (float(rng.uniform(0.1, 0.9)), other, _draw_start(rng, lib, split, other),
                            float(rng.uniform(-10.0, 6.0)))
        # a transparent codec on the way (an MP4's AAC soundtrack, an MP3, a capture encoded
        # at a good bitrate): its own small changes are no defect (own generator: the draws
        # above stay as they were)
        if split == "train" and carrier_share > 0 and spec.mode != "lossy":
            crng = np.random.default_rng([seed, split_id, i, 7])
            if crng.random() < carrier_share:
                codec = str(crng.choice(list(CARRIER_KBPS), p=[0.5, 0.25, 0.25]))
                spec.carrier = (codec, int(crng.choice(CARRIER_KBPS[codec])))
        specs.append(spec)
    return specs


def shaped(spec: Spec, lib: Library) -> np.ndarray:
    """The clean 1-s content of ``spec`` (48 kHz stereo) with its shaping applied."""
    if spec.strikes:
        hit = lib.get(spec.source).astype(np.float32)
        x = np.zeros((SEG, hit.shape[1]), np.float32)
        for at in spec.strikes:
            a = int(at * SEG)
            b = min(SEG, a + hit.shape[0])
            x[a:b] += hit[:b - a]
    elif spec.speed != 1.0 and lib.get(spec.source).shape[0] >= SEG * round(spec.speed * 20) // 20 + 400:
        # played faster or slower: a window of speed x SEG samples (never looped) resampled to SEG
        from scipy.signal import resample_poly
        down = round(spec.speed * 20)
        need = SEG * down // 20 + 400
        start = min(spec.start, lib.get(spec.source).shape[0] - need)
        src = lib.window(spec.source, start, need).astype(np.float64)
        x = resample_poly(src, 20, down, axis=0)[100:100 + SEG].astype(np.float32)
    else:
        x = lib.window(spec.source, spec.start).astype(np.float32)
    if spec.cut is not None:
        at, other, start, db = spec.cut
        a = round(at * SEG)
        x = x.copy()
        x[a:] = lib.window(other, start)[a:] * np.float32(10 ** (db / 20))
    if spec.lowpass_hz is not None or spec.tilt_db or spec.eq_db:
        f = np.fft.rfft(x, axis=0)
        hz = np.fft.rfftfreq(SEG, 1.0 / RATE)
        if spec.tilt_db:
            octaves = np.log2(np.maximum(hz, 20.0) / 1000.0)
            f *= (10 ** (np.clip(spec.tilt_db * octaves, -15.0, 15.0) / 20))[:, None]
        if spec.eq_db:
            curve = np.interp(np.log(np.maximum(hz, 20.0)), np.log(EQ_HZ), spec.eq_db)
            f *= (10 ** (curve / 20))[:, None]
        if spec.lowpass_hz is not None:
            f *= np.clip((spec.lowpass_hz * 1.05 - hz) / (spec.lowpass_hz * 0.1), 0.0, 1.0)[:, None]
        x = np.fft.irfft(f, n=SEG, axis=0).astype(np.float32)
    if spec.bed is not None:
        x = x + lib.window(spec.bed, spec.bed_start) * np.float32(10 ** (spec.bed_db / 20))
    if spec.bass_db is not None:
        bass = content.bass_line(1.0, np.random.default_rng(spec.seed))
        x = x + bass * np.float32(10 ** (spec.bass_db / 20))
    t = np.arange(SEG) / SEG
    env = np.ones(SEG, np.float32)
    ramp = fx.EDGE_RAMP_S
    if spec.step_at is not None:
        g = 10 ** (spec.step_db / 20)
        env = (1 + (g - 1) * np.clip((t - spec.step_at) / ramp, 0, 1)).astype(np.float32)
    if spec.pause is not None:
        a, b = spec.pause
        env = np.minimum(np.clip(np.maximum(a - t, t - b) / ramp, 0, 1), 1).astype(np.float32)
    x = x * env[:, None]
    if spec.dropout is not None:
        a, b, g = spec.dropout
        x[round(a * SEG):round(b * SEG)] *= np.float32(g)
    gain = 10 ** (spec.gain_db / 20)
    peak = float(np.abs(x).max(initial=0.0))
    if spec.peak is not None and peak > 0:
        gain = spec.peak / peak
    elif peak * gain > 0.95:
        gain = 0.95 / peak
    return (x * np.float32(gain)).astype(np.float32)


def inject(spec: Spec, clean: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(spec.seed + 1)
    if spec.label == "hum":
        y = fx.add_hum(clean, RATE, spec.extra["t0"], float(spec.mode) + spec.extra.get("df", 0.0),
                       spec.severity, spec.harmonics)
    elif spec.label == "hiss":
        y = fx.add_hiss(clean, fx.noise(rng, clean.shape[0], clean.shape[1], spec.mode), spec.severity)
    elif spec.label == "distortion" and spec.mode in ("hard", "soft"):
        y = fx.clip(clean, spec.severity, spec.mode)
    elif spec.label == "distortion" and spec.mode == "crush":
        y = fx.bitcrush(clean, spec.severity)
    elif spec.label == "clicks":
        times = fx.click_times(rng, 0.0, 1.0, spec.severity)
        y = fx.add_clicks(clean, RATE, 0.0, times, spec.severity)
    else:
        y = clean
    if spec.span is not None:
        a, b = round(spec.span[0] * SEG), round(spec.span[1] * SEG)
        y = np.concatenate([clean[:a], y[a:b], clean[b:]])
    return pcm(spec, np.clip(y, -1.0, 1.0).astype(np.float32))


def pcm(spec: Spec, x: np.ndarray) -> np.ndarray:
    """``x`` as a 16-bit capture delivers it, where ``spec`` asks for it."""
    if not spec.pcm16:
        return x
    return (np.round(x * 32767.0) / np.float32(32767.0)).astype(np.float32)


def transcode(samples: np.ndarray, encoder: str, suffix: str, kbps: int) -> np.ndarray:
    """``samples`` (48 kHz stereo) encoded with ffmpeg's ``encoder`` at ``kbps`` into a ``suffix``
    file and decoded again, as long as the input (the containers carry the encoder delay, so
    the decoded signal lines up sample for sample; ``tests/test_audio_artifacts.py`` checks)."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        coded = Path(tmp) / f"coded{suffix}"
        ff = [_require("ffmpeg"), "-v", "error", "-nostdin", "-y"]
        subprocess.run(ff + ["-f", "f32le", "-ar", str(RATE), "-ac", "2", "-i", "-", "-c:a", encoder,
                             "-b:a", f"{kbps}k", "-fflags", "+bitexact", str(coded)],
                       input=np.ascontiguousarray(samples, "<f4").tobytes(), check=True,
                       capture_output=True)
        raw = subprocess.run(ff + ["-i", str(coded), "-f", "f32le", "-ar", str(RATE), "-ac", "2", "-"],
                             check=True, capture_output=True).stdout
    out = np.zeros_like(samples)
    dec = np.frombuffer(raw, "<f4").reshape(-1, 2)[:samples.shape[0]]
    out[:dec.shape[0]] = dec
    return out


def opus(samples: np.ndarray, kbps: int) -> np.ndarray:
    """The lossy re-encode of :func:`detectors.synth.codec.lossy_episode` (Opus at ``kbps``)."""
    return transcode(samples, "libopus", ".ogg", kbps)


def carried(segments: list[np.ndarray], carrier: tuple[str, int]) -> list[np.ndarray]:
    """Each 1-s segment through ``carrier`` (codec, kbps): one encode for all, a quarter second
    of silence between them."""
    pad = RATE // 4
    gap = np.zeros((pad, 2), np.float32)
    track = np.concatenate([part for seg in segments for part in (gap, seg)] + [gap])
    encoder, suffix = _CARRIER_CODEC[carrier[0]]
    coded = transcode(track, encoder, suffix, carrier[1])
    return [np.clip(coded[pad + k * (SEG + pad):pad + k * (SEG + pad) + SEG], -1, 1)
            for k in range(len(segments))]


def _example(spec: Spec, clean: np.ndarray, damaged: np.ndarray,
             heard: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """One example's features and how much its injection changed the content (dB re its RMS;
    ``-inf`` for none).  ``heard``: what the model gets when it is not ``damaged`` itself (a
    carrier codec's output: its own changes do not count)."""
    feat = A.segment_features([damaged if heard is None else heard], RATE)[0]
    change = -np.inf
    if spec.label != "none":
        diff = float(np.sqrt(np.mean(np.square(damaged - clean, dtype=np.float64))))
        ref = float(np.sqrt(np.mean(np.square(clean, dtype=np.float64))))
        # an injection that changed nothing (distortion of a muted segment) is not its label
        change = 20 * np.log10(diff / max(ref, 1e-9)) if diff > 1e-7 else -np.inf
    return feat, change


# (specs, library) of the render in progress, inherited by forked workers
_RENDERING: tuple[list[Spec], Library] | None = None
_PART = 1000   # examples per worker task


def _render_part(task: tuple[int | None, list[int]]) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Features and changes of the examples ``idx`` of :data:`_RENDERING`: with ``kbps`` None
    plain ones (no codec on the way; each depends on its own spec only), else one batch of
    Opus examples at ``kbps`` through one encode (the segments a quarter second apart)."""
    kbps, idx = task
    specs, lib = _RENDERING
    feats = np.zeros((len(idx), A.FEATURE_DIM), np.float16)
    change = np.full(len(idx), -np.inf, np.float32)
    if kbps is None:
        for j, i in enumerate(idx):
            clean = shaped(specs[i], lib)
            feats[j], change[j] = _example(specs[i], clean, inject(specs[i], clean))
        return idx, feats, change
    pad = RATE // 4
    cleans = [shaped(specs[i], lib) for i in idx]
    track = np.concatenate([np.concatenate([np.zeros((pad, 2), np.float32), c]) for c in cleans]
                           + [np.zeros((pad, 2), np.float32)])
    coded = opus(track, kbps)
    for j, i in enumerate(idx):
        a = pad + j * (SEG + pad)
        feats[j], change[j] = _example(specs[i], cleans[j], pcm(specs[i], np.clip(coded[a:a + SEG], -1, 1)))
    return idx, feats, change


def render(specs: list[Spec], lib: Library, log=None, jobs: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(n, FEATURE_DIM)`` float16 and a per-example defect measure: the ratio in
    dB of what the injection changed to the content (``-inf`` for none).  The plain examples
    and the Opus batches are rendered by ``jobs`` forked processes (the same numbers as one:
    each example has its own generator, each batch the same members); those through a
    carrier codec are encoded here, in batches in spec order."""
    global _RENDERING
    feats = np.zeros((len(specs), A.FEATURE_DIM), np.float16)
    change_db = np.full(len(specs), -np.inf, np.float32)

    def store(i: int, clean: np.ndarray, damaged: np.ndarray, heard: np.ndarray | None = None) -> None:
        feats[i], change_db[i] = _example(specs[i], clean, damaged, heard)

    lossy: dict[int, list[int]] = {}
    for i, s in enumerate(specs):
        if s.label == "distortion" and s.mode == "lossy":
            lossy.setdefault(s.extra["kbps"], []).append(i)
    # the Opus examples: 200 a batch per bitrate, one encode each (the batches, and so the
    # numbers, whatever the number of processes)
    batches = [(kbps, idx[lo:lo + 200]) for kbps, idx in sorted(lossy.items())
               for lo in range(0, len(idx), 200)]
    waiting: dict[tuple[str, int], list[tuple[int, np.ndarray, np.ndarray]]] = {}

    def flush(carrier: tuple[str, int]) -> None:
        group = waiting.pop(carrier, [])
        if group:
            for (i, clean, damaged), heard in zip(group, carried([d for _, _, d in group], carrier)):
                store(i, clean, damaged, heard)

    for i, s in enumerate(specs):
        if s.carrier is None or (s.label == "distortion" and s.mode == "lossy"):
            continue
        clean = shaped(s, lib)
        waiting.setdefault(s.carrier, []).append((i, clean, inject(s, clean)))
        if len(waiting[s.carrier]) >= 100:
            flush(s.carrier)
    for carrier in list(waiting):
        flush(carrier)
    plain = [i for i, s in enumerate(specs)
             if s.carrier is None and not (s.label == "distortion" and s.mode == "lossy")]
    tasks = batches + [(None, plain[k:k + _PART]) for k in range(0, len(plain), _PART)]   # long ones first
    total = len(plain) + sum(len(group) for _, group in batches)
    _RENDERING = (specs, lib)
    done, step = 0, 5000
    try:
        if jobs > 1 and len(tasks) > 1:
            import multiprocessing
            pool = multiprocessing.get_context("fork").Pool(min(jobs, len(tasks)))
            results = pool.imap_unordered(_render_part, tasks)
        else:
            pool, results = None, map(_render_part, tasks)
        try:
            for idx, f, c in results:
                feats[idx], change_db[idx] = f, c
                done += len(idx)
                if log and done // step != (done - len(idx)) // step:
                    log(f"  {done + len(specs) - total}/{len(specs)} segments ({jobs} processes)")
        finally:
            if pool is not None:
                pool.terminate()
    finally:
        _RENDERING = None
    return feats, change_db


def dataset(split: str, count: int, seed: int, lib: Library, cache: Path, log,
            class_shares: dict[str, float] | None = None, carrier_share: float = 0.0,
            jobs: int = 1):
    parts = [DATA_VERSION, SOURCE_VERSION, split, count, seed, class_shares, SPLIT[split],
             A.N_FFT, A.HOP, A.N_MELS, A.FMIN, A.FMAX, A.FEATURE_RATE, A.AUX_NAMES]
    if carrier_share:   # (absent when 0: the caches of the data without carriers stay valid)
        parts.append({"carrier_share": carrier_share})
    key = hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]
    specs = make_specs(split, count, seed, lib, class_shares, carrier_share)
    path = cache / f"{split}-{key}.npz"
    if path.is_file():
        data = np.load(path)
        return specs, data["feats"], data["change_db"]
    t = time.time()
    log(f"generating {split}: {count} segments")
    feats, change = render(specs, lib, log, jobs)
    np.savez(path, feats=feats, change_db=change)
    log(f"  {split} generated in {time.time() - t:.0f} s")
    return specs, feats, change


# --------------------------------------------------------------------------- metrics
def confusion(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    m = np.zeros((len(A.CLASSES), len(A.CLASSES)), np.int64)
    np.add.at(m, (y, pred), 1)
    return m


def balanced_accuracy(m: np.ndarray) -> float:
    rows = m.sum(axis=1)
    return float(np.mean(np.diag(m)[rows > 0] / rows[rows > 0]))


def detector_pred(probs: np.ndarray, threshold: float | dict[str, float]) -> np.ndarray:
    """The detector's decision: the most likely defect class if it reaches its threshold (one
    for all classes, or one per class)."""
    c = 1 + probs[:, 1:].argmax(axis=1)
    if isinstance(threshold, dict):
        t = np.array([1.0] + [threshold[k] for k in A.DEFECTS])[c]
    else:
        t = np.full(len(c), threshold)
    return np.where(probs[np.arange(len(probs)), c] >= t, c, 0)


THRESHOLD_GRID = (*np.round(np.arange(0.5, 0.951, 0.05), 3), 0.96, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999)


# natural-log odds above the worst clean validation segment: 5 validation sources are few (with
# 1.0 a clean second of the large corpus scored 0.985 hum against a 0.98 threshold)
THRESHOLD_MARGIN = 1.5


def choose_thresholds(probs: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Per defect class, the lowest threshold of :data:`THRESHOLD_GRID` whose log-odds are at
    least :data:`THRESHOLD_MARGIN` above those of the validation split's clean segment called
    that class most confidently (an hour of clean segments raises no event, with a margin for
    sources validation has not heard: under 1 false positive per hour)."""
    clean = probs[y == 0]
    top = 1 + clean[:, 1:].argmax(axis=1)
    out = {}
    for k, name in enumerate(A.DEFECTS, start=1):
        worst = min(float(clean[top == k, k].max(initial=0.0)), 1 - 1e-7)
        need = np.log(worst / (1 - worst)) + THRESHOLD_MARGIN if worst > 0 else -np.inf
        out[name] = next((float(t) for t in THRESHOLD_GRID if np.log(t / (1 - t)) >= need), 0.999)
    return out


def report(specs: list[Spec], probs: np.ndarray, change_db: np.ndarray,
           threshold: dict[str, float]) -> dict:
    y = np.array([A.CLASSES.index(s.label) for s in specs])
    pred = probs.argmax(axis=1)
    m = confusion(y, pred)
    det = detector_pred(probs, threshold)
    md = confusion(y, det)
    recall = {c: round(float(m[k, k] / max(1, m[k].sum())), 4) for k, c in enumerate(A.CLASSES)}
    by_mode: dict[str, Any] = {}
    for label in A.DEFECTS:
        modes = sorted({s.mode for s in specs if s.label == label})
        for mode in modes:
            idx = np.array([i for i, s in enumerate(specs) if s.label == label and s.mode == mode])
            sev = np.array([specs[i].severity for i in idx])
            entry = {"n": int(len(idx)), "recall": round(float(np.mean(pred[idx] == y[idx])), 4),
                     "detector_recall": round(float(np.mean(det[idx] == y[idx])), 4)}
            bins = {}
            for lo, hi in ((0.0, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.01)):
                sel = (sev >= lo) & (sev < hi)
                if sel.any():
                    bins[f"{lo:.1f}-{min(hi, 1.0):.1f}"] = [int(sel.sum()), round(float(np.mean(pred[idx][sel] == y[idx][sel])), 4)]
            entry["recall_by_severity"] = bins
            by_mode[f"{label}/{mode}" if mode else label] = entry
    clean_n = int((y == 0).sum())
    fp = int((det[y == 0] != 0).sum())
    return {
        "segments": int(len(y)),
        "per_class": {c: int((y == k).sum()) for k, c in enumerate(A.CLASSES)},
        "balanced_accuracy": round(balanced_accuracy(m), 4),
        "confusion_matrix": {"rows_true_cols_pred": list(A.CLASSES), "matrix": m.tolist()},
        "recall": recall,
        "by_mode": by_mode,
        "detector": {"min_probability": threshold, "balanced_accuracy": round(balanced_accuracy(md), 4),
                     "confusion_matrix": md.tolist(),
                     "clean_false_positive_segments": fp, "clean_segments": clean_n,
                     "false_positives_per_clean_hour": round(fp * 3600.0 / max(1, clean_n), 2)},
    }


def audible_subset(specs: list[Spec], change_db: np.ndarray, floor_db: float) -> np.ndarray:
    """Examples whose injection changed the content by at least ``floor_db`` (relative to the
    content's RMS), plus every clean one."""
    return np.array([s.label == "none" or change_db[i] >= floor_db for i, s in enumerate(specs)])


# --------------------------------------------------------------------------- training
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m detectors.training.audio_artifacts",
                                description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="weights file (.pt)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--resume", type=Path, default=None, help="checkpoint to continue from")
    p.add_argument("--train-size", type=int, default=240000)
    p.add_argument("--jobs", type=int, default=None,
                   help="processes rendering the examples (default: the CPUs this process may use; "
                        "the data, and so the weights, are the same for any number)")
    p.add_argument("--carrier-share", type=float, default=0.0,
                   help="share of the training examples passed through a transparent codec (AAC, MP3, "
                        "Opus at good bitrates) as a capture or an MP4 soundtrack would be (default 0)")
    p.add_argument("--val-clean", type=int, default=3600, help="clean validation segments (an hour)")
    p.add_argument("--val-defect", type=int, default=300, help="validation segments per defect class")
    p.add_argument("--test-size", type=int, default=5000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--width", type=int, default=ARCH["width"], help="CNN width (channels of the first block)")
    p.add_argument("--hidden", type=int, default=ARCH["hidden"], help="units of the head's first hidden layer")
    p.add_argument("--layers", type=int, default=ARCH["layers"], help="hidden layers of the head")
    p.add_argument("--threads", type=int, default=1, help="torch threads (results are "
                   "reproducible for a given thread count)")
    p.add_argument("--cache", type=Path, default=Path("/tmp/avharness-audio-artifacts"))
    p.add_argument("--no-card", action="store_true", help="do not write the model card")
    args = p.parse_args(argv)

    import torch
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    args.cache.mkdir(parents=True, exist_ok=True)
    started = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - started:6.0f} s] {msg}", flush=True)

    missing = sorted({src.package for src in EXTRA_SOURCES if not src.path.is_file()})
    if missing:
        # a missing source would silently change the training data (and the weights)
        print(f"error: training content is not installed: Debian package(s) {', '.join(missing)} "
              f"(fix: scripts/setup.sh --training, or apt-get install {' '.join(missing)})", file=sys.stderr)
        return 2
    jobs = args.jobs or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    if jobs < 1:
        print(f"error: --jobs {args.jobs}: at least 1", file=sys.stderr)
        return 2
    lib = Library(args.cache)
    if not 0.0 <= args.carrier_share <= 1.0:
        print(f"error: --carrier-share {args.carrier_share}: a share of the training examples, 0 to 1",
              file=sys.stderr)
        return 2
    train_specs, xtr, train_change = dataset("train", args.train_size, args.seed, lib, args.cache, log,
                                             carrier_share=args.carrier_share, jobs=jobs)
    # an injection that changed next to nothing (distortion on quiet content) is not its label
    keep = audible_subset(train_specs, train_change, TRAIN_FLOOR_DB)
    train_specs, xtr = [s for s, k in zip(train_specs, keep) if k], xtr[keep]
    log(f"train: {int(keep.sum())} segments kept, {int((~keep).sum())} with an inaudible injection left out")
    nval = args.val_clean + 4 * args.val_defect
    val_shares = {"none": args.val_clean, **{c: args.val_defect for c in A.DEFECTS}}
    val_specs, xva, val_change = dataset("val", nval, args.seed, lib, args.cache, log, val_shares, jobs=jobs)
    test_specs, xte, test_change = dataset("test", args.test_size, args.seed, lib, args.cache, log,
                                           {"none": 0.4, **{c: 0.15 for c in A.DEFECTS}}, jobs=jobs)
    test_shares = {"none": 0.4, **{c: 0.15 for c in A.DEFECTS}}
    music_specs, xtm, music_change = dataset("test_music", args.test_size, args.seed, lib, args.cache, log,
                                             test_shares, jobs=jobs)
    ytr = np.array([A.CLASSES.index(s.label) for s in train_specs])
    data_s = time.time() - started

    arch = {**ARCH, "width": args.width, "hidden": args.hidden, "layers": args.layers}
    torch.manual_seed(args.seed)
    net = A.build_net(**arch)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-3)
    steps_per_epoch = (len(ytr) + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch,
                                                pct_start=0.15)
    first_epoch, train_s = 0, 0.0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ckpt_path = args.cache / (args.out.stem + ".ckpt")
    if args.resume is not None:
        ck = torch.load(args.resume, map_location="cpu", weights_only=False)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        first_epoch, train_s = ck["epoch"], ck.get("train_s", 0.0)
        log(f"resumed from {args.resume} after epoch {first_epoch}")
    loss_fn = torch.nn.CrossEntropyLoss()
    xtr_t = torch.from_numpy(xtr)
    ytr_t = torch.from_numpy(ytr)
    if arch["width"] == 0:
        # no CNN: the head's inputs do not depend on the weights, computed once
        with torch.no_grad():
            summ = torch.cat([net.summary(xtr_t[i:i + 4096].float()) for i in range(0, len(ytr), 4096)])
        def batch_logits(idx):
            return net.from_summary(summ[idx])
    else:
        def batch_logits(idx):
            return net(xtr_t[idx].float())
    history = []
    for epoch in range(first_epoch, args.epochs):
        t = time.time()
        net.train()
        torch.manual_seed(args.seed * 1000 + epoch)
        order = torch.from_numpy(np.random.default_rng([args.seed, 99, epoch]).permutation(len(ytr)))
        total, correct, seen = 0.0, 0, 0
        for b in range(steps_per_epoch):
            idx = order[b * args.batch:(b + 1) * args.batch]
            y = ytr_t[idx]
            logits = batch_logits(idx)
            loss = loss_fn(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(idx)
        train_s += time.time() - t
        clf = A.ArtifactClassifier(net)
        pv = clf.probabilities(xva.astype(np.float32))
        yv = np.array([A.CLASSES.index(s.label) for s in val_specs])
        vba = balanced_accuracy(confusion(yv, pv.argmax(1)))
        history.append({"epoch": epoch + 1, "loss": round(total / seen, 4), "train_acc": round(correct / seen, 4),
                        "val_balanced_accuracy": round(vba, 4)})
        log(f"epoch {epoch + 1}/{args.epochs}: loss {total / seen:.4f} train acc {correct / seen:.4f} "
            f"val bal acc {vba:.4f} ({time.time() - t:.0f} s)")
        torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "epoch": epoch + 1, "train_s": train_s, "history": history}, ckpt_path)

    net.eval()
    clf = A.ArtifactClassifier(net)
    xva32 = xva.astype(np.float32)
    yv = np.array([A.CLASSES.index(s.label) for s in val_specs])
    # class-prior correction: the offset of the "none" logit that maximises the validation
    # split's balanced accuracy (0 to 6 in steps of 0.25)
    best = (-1.0, 0.0)
    for offset in np.arange(0.0, 6.01, 0.25):
        clf.logit_bias = np.array([offset, 0, 0, 0, 0], np.float32)
        best = max(best, (round(balanced_accuracy(confusion(yv, clf.probabilities(xva32).argmax(1))), 4), -offset))
    logit_bias = [float(-best[1]), 0.0, 0.0, 0.0, 0.0]
    clf.logit_bias = np.array(logit_bias, np.float32)
    log(f"none logit offset {logit_bias[0]} (val balanced accuracy {best[0]})")
    pv = clf.probabilities(xva32)
    threshold = choose_thresholds(pv, yv)
    pt = clf.probabilities(xte.astype(np.float32))
    test = report(test_specs, pt, test_change, threshold)
    audible = audible_subset(test_specs, test_change, -30.0)
    test_audible = report([s for s, a in zip(test_specs, audible) if a], pt[audible],
                          test_change[audible], threshold)
    val = report(val_specs, pv, val_change, threshold)
    ptm = clf.probabilities(xtm.astype(np.float32))
    test_music = report(music_specs, ptm, music_change, threshold)
    test_all = report(test_specs + music_specs, np.concatenate([pt, ptm]),
                      np.concatenate([test_change, music_change]), threshold)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
    torch.save({"state_dict": state, "arch": arch, "classes": list(A.CLASSES),
                "min_probability": threshold, "seed": args.seed, "epochs": args.epochs,
                "feature_dim": A.FEATURE_DIM, "logit_bias": logit_bias,
                "features": {"rate": A.FEATURE_RATE, "n_fft": A.N_FFT, "hop": A.HOP, "n_mels": A.N_MELS,
                             "fmin": A.FMIN, "fmax": A.FMAX, "aux": list(A.AUX_NAMES)}}, args.out)
    params = sum(int(v.numel()) for v in net.parameters())
    cmd = "python -m detectors.training.audio_artifacts " + " ".join(sys.argv[1:] if argv is None else argv)
    card = {
        "model": "audio_artifacts",
        "classes": list(A.CLASSES),
        "command": cmd,
        "seed": args.seed,
        "epochs": args.epochs,
        "batch": args.batch,
        "max_lr": args.lr,
        "parameters": params,
        "architecture": arch,
        "file_bytes": args.out.stat().st_size,
        "features": {"mono_downmix": True, "rate": A.FEATURE_RATE, "n_fft": A.N_FFT, "hop": A.HOP,
                     "n_mels": A.N_MELS, "fmin_hz": A.FMIN, "fmax_hz": A.FMAX, "floor_db": A.FLOOR_DB,
                     "segment_s": A.SEGMENT_S, "frames": A.N_FRAMES, "aux": list(A.AUX_NAMES)},
        "split": {k: {name: list(rng) for name, rng in v.items() if name in lib.by_name}
                  for k, v in SPLIT.items()},
        "split_note": "whole sources per split. test = sources never seen in training or validation "
                      "(music_intro, applause, megamind, speech_0880, speech_0930, voice) at the corpus "
                      "severity ranges; test_music = 9 more music tracks never seen (4 singularity, 4 "
                      "drascula, 1 a7xpg), same ranges; test_all = both; val = music_duo, music_mcd2, "
                      "music_sing_nebula/coherence, music_drascula3/15, speech_0920, sfx_lose, "
                      "sfx_destroy_group (none of them in training), corpus severity ranges; train = the "
                      "rest: music_main, music_funnyboat, music_mcd1/3/4, 10 singularity, 25 drascula and 2 "
                      "a7xpg tracks, speech_0870/0890, bigbuckbunny, "
                      "typewriter (its strikes over music beds, never looped), alsa_* (the speaker of "
                      "'voice', other words) and the other sfx_* (frozen-bubble sound effects). LibriVox "
                      "sources have their own 60 Hz mains hum removed (detectors.synth.content.remove_mains)",
        "augmentation": "training only: gain, level steps, pauses, speech over music beds, mains-band bass "
                        "line, spectral tilt, random 8-point EQ (+-6 dB), playback speed 0.9-1.1, band "
                        "limits, hot peaks, 16-bit PCM; 30 % of the defect examples have the defect over "
                        "0.3-0.9 of the segment only (an episode edge)" + (
                            f"; {args.carrier_share:.0%} of the examples (not the lossy ones) through a "
                            "transparent codec (AAC 96-256, MP3 128-320, Opus 64-128 kbps)"
                            if args.carrier_share else ""),
        "severity_ranges": {"train": TRAIN_RANGES, "test_and_val": CORPUS_RANGES},
        "data": {"train_segments": len(train_specs), "val_segments": len(val_specs),
                 "test_segments": len(test_specs), "train_per_class": {c: int((ytr == k).sum()) for k, c in enumerate(A.CLASSES)}},
        "data_s": round(data_s, 1),
        "train_s": round(train_s, 1),
        "threads": args.threads,
        "min_probability": threshold,
        "logit_bias": logit_bias,
        "history": history,
        "test": test,
        "test_audible": {"rule": "defect examples whose injection changed the content by at least -30 dB "
                                 "relative to its RMS (all clean examples kept)",
                         "dropped": int((~audible).sum()), **test_audible},
        "test_music": test_music,
        "test_all": test_all,
        "val": val,
    }
    if not args.no_card:
        args.out.with_suffix(".json").write_text(json.dumps(card, indent=1) + "\n")
    log(f"test balanced accuracy {test['balanced_accuracy']:.4f}, audible {test_audible['balanced_accuracy']:.4f}, "
        f"test_music {test_music['balanced_accuracy']:.4f}, both {test_all['balanced_accuracy']:.4f}; "
        f"min_probability {threshold}; val clean FP {val['detector']['clean_false_positive_segments']}/"
        f"{val['detector']['clean_segments']}; train {train_s:.0f} s")
    print(json.dumps({"recall": test["recall"], "confusion": test["confusion_matrix"]["matrix"]}, indent=None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
