"""Audio artifacts (learned): hum, hiss, distortion and clicks from one no-reference classifier.

Each 1-second segment is described by two things, packed into one float vector of
:data:`FEATURE_DIM` values per segment (:func:`features`):

* a full-band log-mel image: the mono downmix brought to :data:`FEATURE_RATE` (48 kHz; 44.1 kHz
  and 16 kHz inputs are resampled, so the bands cover the same Hz at every rate; a 16 kHz input
  simply has empty bands above 8 kHz), :data:`N_MELS` HTK mel bands 20 Hz-24 kHz of an STFT of
  :data:`N_FFT` samples every :data:`HOP` (Hann), power in dB with a -100 dB floor;
* :data:`N_AUX` hand-made features (:func:`aux_features`, names in :data:`AUX_NAMES`) that make
  each defect explicit: level, peak and crest factor; the share of samples near full scale and
  near the segment's own peak and a histogram of ``|x| / peak`` (clipping, saturation); the share
  of samples repeating their predecessor (the sample-hold of a crushed word length); the
  strongest 10-ms frames of a second-difference (high-pass) residual against its median and
  their crest factor (clicks); and the 1-Hz-resolution spectrum at 50/60 Hz and their harmonics
  against the neighbouring bins and against the segment level, and whether each of those lines
  holds its level and phase through three consecutive thirds of the second (mains hum is a
  steady tone; a bass note decays, one a Hz or two off the mains bin turns its phase).

A compact PANN-style CNN (:func:`build_net`: four conv-BN-ReLU blocks with pooling over the
level-normalised log-mel, max and mean over time per frequency band) feeds an MLP head together
with each band's absolute mean/std/min/max and the auxiliary features, and gives the
probabilities of :data:`CLASSES`.

The weights are trained in this repository by ``python -m detectors.training.audio_artifacts``
on real pristine content with the injectors of :mod:`detectors.synth.audio` (and the Opus
re-encode of :mod:`detectors.synth.codec`); ``detectors/models/README.md`` and the model card
``detectors/models/audio_artifacts.json`` hold the split, the command and the held-out figures.

The streaming :class:`ArtifactDetector` cuts the stream into 1-s segments every ``hop`` seconds
(on the sample grid of the stream's start, so the result does not depend on how the stream is
chunked), classifies them ``batch`` segments at a time (whole batches on the segment grid; the
rest at :meth:`~ArtifactDetector.finish`), and reports one event per episode of consecutive
segments whose most likely defect class has at least ``min_probability``; ``kind`` is the class
name, ``score`` its mean probability over the episode and ``details`` holds the mean
probabilities of every class and the segment count.
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.fft
from pydantic import Field
from scipy.signal import resample_poly

from detectors.base import Detector, DetectorConfig, Event
from harness.media import AudioChunk

CLASSES = ("none", "hum", "hiss", "distortion", "clicks")
DEFECTS = CLASSES[1:]

FEATURE_RATE = 48_000           # every input is brought to this rate (the sample features use the full band)
SEGMENT_S = 1.0
N_FFT = 1024
HOP = 960
N_MELS = 64
FMIN, FMAX = 20.0, 24000.0
FLOOR_DB = -100.0
SEGMENT_SAMPLES = round(SEGMENT_S * FEATURE_RATE)
N_FRAMES = 1 + SEGMENT_SAMPLES // HOP    # frames per segment (centred STFT, zero padded)
MEL_DIM = N_MELS * N_FRAMES

# auxiliary (hand-made) features, appended to the flattened log-mel
CLICK_FRAME = 480                         # 10 ms at FEATURE_RATE
HUM_BASES = (50.0, 60.0)
HUM_HARMONICS = 6
HUM_DECIMATION = 24                       # 48 kHz -> 2 kHz for the hum's sub-window analysis
HUM_WINDOWS = 3                           # Hann windows of 1/3 s, side by side
ABS_LEVELS = (0.999, 0.99, 0.95, 0.9, 0.8)
REL_LEVELS = (0.999, 0.99, 0.97, 0.95, 0.9)
HIST_BINS = 16
TOP_K = 6
AUX_NAMES = (
    ["rms_db", "peak_db", "crest_db"]
    + [f"abs_share_{t}" for t in ABS_LEVELS] + [f"rel_share_{t}" for t in REL_LEVELS]
    + ["repeat_1", "repeat_2", "repeat_zero_frac"]
    + [f"hist_{k}" for k in range(HIST_BINS)]
    + [f"click_peak_{k}" for k in range(TOP_K)] + [f"click_crest_{k}" for k in range(TOP_K)]
    + ["click_floor_db", "click_frames_10", "click_frames_30"]
    + [f"hum{int(f)}_{kind}_{k}" for f in HUM_BASES for kind in ("peak", "sharp", "level")
       for k in range(1, HUM_HARMONICS + 1)]
    + [f"hum{int(f)}_{kind}_{k}" for f in HUM_BASES for kind in ("coherence", "steady", "floor")
       for k in range(1, HUM_HARMONICS + 1)]
)
N_AUX = len(AUX_NAMES)
FEATURE_DIM = MEL_DIM + N_AUX

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "models" / "audio_artifacts.pt"


# --------------------------------------------------------------------------- features
def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m, np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=1)
def _mel_matrix() -> np.ndarray:
    """(N_FFT // 2 + 1, N_MELS) triangular HTK mel filters, each normalised to unit area."""
    freqs = np.arange(N_FFT // 2 + 1) * FEATURE_RATE / N_FFT
    edges = _mel_to_hz(np.linspace(_hz_to_mel(FMIN), _hz_to_mel(FMAX), N_MELS + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None, :] - lo) / (mid - lo)
    down = (hi - freqs[None, :]) / (hi - mid)
    tri = np.maximum(0.0, np.minimum(up, down))
    # a band narrower than a bin still sees its nearest bin
    empty = tri.sum(axis=1) == 0
    for k in np.flatnonzero(empty):
        tri[k, int(np.argmin(np.abs(freqs - mid[k, 0])))] = 1.0
    tri /= tri.sum(axis=1, keepdims=True)
    out = tri.T.astype(np.float32)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=1)
def _mel_sparse():
    import scipy.sparse
    return scipy.sparse.csc_matrix(_mel_matrix())


@lru_cache(maxsize=2)
def _window(n: int = N_FFT) -> np.ndarray:
    """Periodic Hann window of ``n`` samples, unit energy (read-only, shared)."""
    w = np.hanning(n + 1)[:-1].astype(np.float32)
    w /= np.sqrt(np.sum(w.astype(np.float64) ** 2))
    w.flags.writeable = False
    return w


def _mono(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples, np.float32)
    if x.ndim == 1:
        return x
    mono = x[:, 0].copy()
    for c in range(1, x.shape[1]):
        mono += x[:, c]
    mono *= np.float32(1.0 / x.shape[1])
    return mono


def to_feature_rate(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono downmix of ``(n, ch)`` (or 1-D) float samples, resampled to :data:`FEATURE_RATE`."""
    mono = _mono(samples)
    if sample_rate == FEATURE_RATE:
        return np.ascontiguousarray(mono, np.float32)
    g = math.gcd(int(sample_rate), FEATURE_RATE)
    return resample_poly(mono, FEATURE_RATE // g, int(sample_rate) // g).astype(np.float32)


def logmel(mono: np.ndarray) -> np.ndarray:
    """``(segments, N_MELS, N_FRAMES)`` log-mel dB of mono :data:`FEATURE_RATE`
    ``(segments, SEGMENT_SAMPLES)`` (a 1-D segment gives one)."""
    x = np.atleast_2d(np.asarray(mono, np.float32))
    if x.shape[1] != SEGMENT_SAMPLES:
        raise ValueError(f"segments of {SEGMENT_SAMPLES} samples expected, got {x.shape[1]}")
    pad = N_FFT // 2
    return _logmel_padded(np.pad(x, ((0, 0), (pad, pad))))


def _logmel_padded(padded: np.ndarray) -> np.ndarray:
    """:func:`logmel` of segments already zero-padded by ``N_FFT // 2`` on each side
    (:func:`segment_features` writes the downmixes straight into such a buffer)."""
    view = np.lib.stride_tricks.sliding_window_view(padded, N_FFT, axis=1)[:, ::HOP]
    frames = view[:, :N_FRAMES] * _window()                   # (s, frames, n_fft)
    spec = scipy.fft.rfft(frames, axis=-1, workers=1)         # complex64
    power = spec.real ** 2 + spec.imag ** 2
    mel = np.asarray(power.reshape(-1, power.shape[-1]) @ _mel_sparse(), np.float32)
    db = np.float32(10.0) * np.log10(np.maximum(mel, np.float32(10.0 ** (FLOOR_DB / 10.0))))
    return np.ascontiguousarray(db.reshape(padded.shape[0], N_FRAMES, N_MELS).transpose(0, 2, 1))


def _log(v, eps: float = 1e-6):
    return np.log10(np.asarray(v, np.float64) + eps)


@lru_cache(maxsize=1)
def _hum_bins() -> tuple[np.ndarray, np.ndarray]:
    """The spectrum bins of the mains frequencies and harmonics (``HUM_BASES`` x
    ``HUM_HARMONICS``) and, for each, its neighbours 3 to 8 bins away."""
    per_hz = SEGMENT_SAMPLES / FEATURE_RATE                    # bins per Hz (1)
    bins = np.array([int(round(k * f0 * per_hz)) for f0 in HUM_BASES
                     for k in range(1, HUM_HARMONICS + 1)])
    offsets = np.r_[np.arange(-8, -2), np.arange(3, 9)]
    return bins, bins[:, None] + offsets[None, :]


@lru_cache(maxsize=1)
def _hum_basis() -> tuple[np.ndarray, float, float]:
    """The sub-window demodulator of the mains harmonics: ``(SEGMENT_SAMPLES // HUM_DECIMATION,
    2 x HUM_WINDOWS x harmonics)`` Hann-windowed cosines and sines at every ``HUM_BASES`` x
    ``HUM_HARMONICS`` frequency, the phase on the segment's own clock (a steady tone gives the
    same complex amplitude in every window); then the amplitude scale of one window and of the
    1-s spectrum of :func:`aux_features` (a tone of amplitude A reads A in both)."""
    rate = FEATURE_RATE / HUM_DECIMATION
    n = SEGMENT_SAMPLES // HUM_DECIMATION
    length = n // HUM_WINDOWS
    t = np.arange(n) / rate
    w = np.hanning(length + 1)[:-1]
    freqs = np.array([k * f0 for f0 in HUM_BASES for k in range(1, HUM_HARMONICS + 1)])
    basis = np.zeros((n, 2, HUM_WINDOWS, len(freqs)))
    for j in range(HUM_WINDOWS):
        a = j * length
        phase = 2 * np.pi * freqs[None, :] * t[a:a + length, None]
        basis[a:a + length, 0, j] = w[:, None] * np.cos(phase)
        basis[a:a + length, 1, j] = -w[:, None] * np.sin(phase)
    out = basis.reshape(n, -1).astype(np.float32)
    out.flags.writeable = False
    return out, 2.0 / float(w.sum()), 2.0 / float(_window(SEGMENT_SAMPLES).sum())


def _hum_steadiness(mono: np.ndarray, near_power: np.ndarray) -> list[float]:
    """Is the line on each mains harmonic there all second long, unchanged?  Mains hum is a
    steady tone: its complex amplitude is the same in each of :data:`HUM_WINDOWS` consecutive
    windows; a bass note on the same bin decays or stops (its level changes), one a Hz or two
    away turns its phase.  Per harmonic: ``coherence`` (length of the windows' mean amplitude
    over their mean length, 1 for a steady tone), ``steady`` (log10 weakest over strongest window
    power) and ``floor`` (log10 of the weakest window's tone power over the 1-s spectrum's
    neighbouring bins, ``near_power``: the line stands out all the time)."""
    basis, scale, scale_1s = _hum_basis()
    low = mono.reshape(-1, HUM_DECIMATION).mean(axis=1)         # boxcar: nulls at 2 kHz multiples
    v = (low @ basis).astype(np.float64).reshape(2, HUM_WINDOWS, -1) * scale
    amp = np.hypot(v[0], v[1])                                  # (windows, harmonics)
    coherence = np.hypot(v[0].sum(axis=0), v[1].sum(axis=0)) / (amp.sum(axis=0) + 1e-12)
    weakest = amp.min(axis=0) ** 2
    steady = np.log10((weakest + 1e-14) / (amp.max(axis=0) ** 2 + 1e-14))
    floor = np.log10((weakest + 1e-14) / (near_power * scale_1s ** 2 + 1e-14))
    out: list[float] = []
    for j in range(len(HUM_BASES)):
        part = slice(j * HUM_HARMONICS, (j + 1) * HUM_HARMONICS)
        out += list(coherence[part]) + list(steady[part]) + list(floor[part])
    return out


_ABS_T = np.array(ABS_LEVELS, np.float32)[:, None]
_REL_T = np.array(REL_LEVELS, np.float32)[:, None]


def _hum_power(mono: np.ndarray) -> np.ndarray:
    """``(segments, SEGMENT_SAMPLES // 2 + 1)`` float64 1-Hz power spectra (Hann window) of mono
    :data:`FEATURE_RATE` segments ``(segments, SEGMENT_SAMPLES)``.  One FFT call for many
    segments: pocketfft gives each row the same numbers as alone, ~3x faster."""
    spec = scipy.fft.rfft(np.atleast_2d(mono) * _window(SEGMENT_SAMPLES), axis=-1, workers=1)
    return (spec.real ** 2 + spec.imag ** 2).astype(np.float64)


def aux_features(raw: np.ndarray, mono: np.ndarray, power: np.ndarray | None = None) -> np.ndarray:
    """The :data:`N_AUX` hand-made features of one segment: ``raw`` is its ``(n, ch)`` samples at
    the input rate (sample statistics: clipping, repeats), ``mono`` its mono downmix at
    :data:`FEATURE_RATE` (clicks, hum); ``power`` its :func:`_hum_power` spectrum, if computed
    already."""
    x = np.asarray(raw, np.float32)
    xt = np.ascontiguousarray((x[:, None] if x.ndim == 1 else x).T)   # (channels, n)
    chans, n0 = xt.shape
    n = max(1, n0)
    a = np.abs(xt)
    peak_ch = a.max(axis=1) if n0 else np.zeros(chans, np.float32)
    rms = float(np.sqrt(np.mean(np.square(xt, dtype=np.float64)))) if n0 else 0.0
    peak = float(peak_ch.max(initial=0.0))
    lr, lp = math.log10(rms + 1e-7), math.log10(peak + 1e-7)
    out: list[float] = [20 * lr, 20 * lp, 20 * (lp - lr)]
    # per channel: samples at full scale and at the channel's own peak (clipping, saturation),
    # a histogram of |x| / peak, samples equal to the one before where there is sound (the
    # sample-hold of a crushed word length), exact zeros
    pk = np.maximum(peak_ch, np.float32(1e-6))
    abs_n = np.zeros((chans, len(ABS_LEVELS)))
    rel_n = np.zeros((chans, len(REL_LEVELS)))
    at_least = np.zeros(HIST_BINS - 1, np.int64)      # samples with |x| / peak * bins >= 1..15
    rep1 = rep2 = 0.0
    zeros = 0
    for i in range(chans):
        c, ac = xt[i], a[i]
        rel = ac / pk[i]
        high = ac[ac >= min(ABS_LEVELS[-1], float(REL_LEVELS[-1] * pk[i]))]   # few samples
        abs_n[i] = np.count_nonzero(high[None, :] >= _ABS_T, axis=1)
        rel_n[i] = np.count_nonzero(high[None, :] / pk[i] >= _REL_T, axis=1)
        # count(scaled >= e) for e = 1 .. 15 from one pass: for whole e and scaled >= 0,
        # scaled >= e exactly when its integer part is (15 comparisons of every sample cost 5x)
        whole = (rel * np.float32(HIST_BINS)).astype(np.int32)
        at_least += np.cumsum(np.bincount(whole, minlength=HIST_BINS + 1)[::-1])[::-1][1:HIST_BINS]
        loud = ac[1:] > max(1e-4, 0.02 * float(peak_ch[i]))   # well above a 16-bit capture's LSB
        busy = max(1, int(np.count_nonzero(loud)))
        rep1 = max(rep1, np.count_nonzero((c[1:] == c[:-1]) & loud) / busy)
        rep2 = max(rep2, np.count_nonzero((c[2:] == c[:-2]) & loud[1:]) / busy)
        zeros += n0 - int(np.count_nonzero(c != 0))   # (counting floats directly: ~15x slower)
    out += list(np.log10(abs_n.max(axis=0) / n + 1e-5))
    out += list(np.log10(rel_n.max(axis=0) / n + 1e-5))
    out += [math.log10(rep1 + 1e-5), math.log10(rep2 + 1e-5), zeros / (n * chans)]
    cum = np.r_[n0 * chans, at_least, 0]
    out += list(np.log10((cum[:-1] - cum[1:]) / (n * chans) + 1e-5))
    # clicks: a second-difference residual in 10-ms frames
    m = np.asarray(mono, np.float32)
    r = np.zeros(SEGMENT_SAMPLES, np.float32)
    r[2:] = m[2:] - 2 * m[1:-1] + m[:-2]
    frames = np.abs(r).reshape(-1, CLICK_FRAME)
    fpeak = frames.max(axis=1)
    frms = np.sqrt(np.mean(np.square(frames), axis=1))
    floor = float(np.median(frms))
    lpeak = _log(fpeak, 1e-6)
    ratio = lpeak - math.log10(floor + 1e-6)
    crest = lpeak - _log(frms, 1e-6)
    out += list(np.sort(ratio)[::-1][:TOP_K]) + list(np.sort(crest)[::-1][:TOP_K])
    mrms = float(np.sqrt(np.mean(np.square(m, dtype=np.float64))))
    out += [20 * (math.log10(floor + 1e-7) - math.log10(mrms + 1e-7)),
            float(np.mean(ratio > 1.0)), float(np.mean(ratio > 1.5))]
    # hum: 1-Hz spectrum at the mains frequencies and their harmonics, against the bins 3-8 Hz
    # away (peak), against the next bins (sharp: a steady tone on the mains bin leaves its
    # neighbours 6 dB down; a note a bin or two away, a bass line, is louder there) and
    # against the whole segment (level)
    if power is None:
        power = _hum_power(m)[0]
    total = float(power.sum()) + 1e-12
    bins, near = _hum_bins()
    p = power[bins]
    lpw = _log(p, 1e-14)
    near_power = np.median(power[near], axis=1)
    peaks = lpw - _log(near_power, 1e-14)
    sharp = lpw - _log(np.maximum(power[bins - 1], power[bins + 1]), 1e-14)
    levels = _log(p / total, 1e-12)
    for j in range(len(HUM_BASES)):
        part = slice(j * HUM_HARMONICS, (j + 1) * HUM_HARMONICS)
        out += list(peaks[part]) + list(sharp[part]) + list(levels[part])
    out += _hum_steadiness(m, near_power)
    return np.asarray(out, np.float32)


def segment_starts(n_samples: int, sample_rate: int, hop_s: float = SEGMENT_S) -> np.ndarray:
    """First sample of each complete 1-s segment of ``n_samples`` at ``sample_rate``."""
    length = round(SEGMENT_S * sample_rate)
    count = 0 if n_samples < length else int((n_samples - length) / (hop_s * sample_rate) + 1e-9) + 1
    return np.array([round(k * hop_s * sample_rate) for k in range(count)], np.int64)


# segments whose spectra are computed together: pocketfft transforms 4 rows at once (SIMD; each
# row the same numbers as alone), and the temporaries of 4 stay small enough for the allocator to
# reuse (those of 8, megabytes, came back as fresh pages, page faults, every batch)
_GROUP = 4


def segment_features(segments: list[np.ndarray], sample_rate: int) -> np.ndarray:
    """``(len(segments), FEATURE_DIM)`` features of 1-s ``(n, ch)`` segments at ``sample_rate``:
    the flattened ``(N_MELS, N_FRAMES)`` log-mel dB, then the :data:`N_AUX` auxiliary values."""
    out = np.empty((len(segments), FEATURE_DIM), np.float32)
    pad = N_FFT // 2
    for first in range(0, len(segments), _GROUP):
        group = segments[first:first + _GROUP]
        # the downmixes go straight into the zero-padded buffer the log-mel frames are cut from
        # (a short segment stays zero-padded at its end)
        padded = np.zeros((len(group), SEGMENT_SAMPLES + 2 * pad), np.float32)
        mono = padded[:, pad:pad + SEGMENT_SAMPLES]
        for i, s in enumerate(group):
            m = to_feature_rate(s, sample_rate)[:SEGMENT_SAMPLES]
            mono[i, :m.shape[0]] = m
        out[first:first + len(group), :MEL_DIM] = _logmel_padded(padded).reshape(len(group), -1)
        power = _hum_power(mono)
        for i, s in enumerate(group):
            out[first + i, MEL_DIM:] = aux_features(s, mono[i], power[i])
    return out


def split_features(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``(segments, N_MELS, N_FRAMES)`` log-mel and ``(segments, N_AUX)`` parts of
    :func:`features` output."""
    f = np.asarray(feats)
    return f[:, :MEL_DIM].reshape(-1, N_MELS, N_FRAMES), f[:, MEL_DIM:]


def features(samples: np.ndarray, sample_rate: int, hop_s: float = SEGMENT_S) -> np.ndarray:
    """``(segments, FEATURE_DIM)`` features of consecutive 1-s segments of ``(n, ch)`` float
    samples at any rate (segments every ``hop_s``; a tail under 1 s is dropped)."""
    x = np.asarray(samples, np.float32)
    x = x[:, None] if x.ndim == 1 else x
    length = round(SEGMENT_S * sample_rate)
    starts = segment_starts(x.shape[0], sample_rate, hop_s)
    return segment_features([x[s:s + length] for s in starts], sample_rate)


# --------------------------------------------------------------------------- model
def _torch():
    import torch  # deferred: the registry and the CLI must not pay for torch
    return torch


def build_net(width: int = 16, hidden: int = 128, stats: bool = True, aux: bool = True,
              rel: bool = False, layers: int = 1, pct: bool = False):
    """The network (a torch ``nn.Module``); input ``(batch, FEATURE_DIM)`` (:func:`features`),
    output logits.

    With ``width`` > 0, a CNN sees the log-mel relative to the segment's level (programme level
    does not matter), its maps pooled (max and mean over time per band).  An MLP head
    (``layers`` hidden layers, ``hidden`` units, then half as many) sees those, and with
    ``stats`` each band's absolute mean, standard deviation, minimum and maximum over the
    segment (noise floor, stationarity, transients), with ``rel`` each band's mean relative to
    the segment's level, its standard deviation and range (the spectral shape, level-free), with
    ``pct`` each band's 10th, 50th and 90th percentile over time, and with ``aux`` the
    hand-made features; each part is batch-normalised.  ``width`` 0 is the
    head alone (no CNN): a few microseconds per segment."""
    torch = _torch()
    nn = torch.nn

    class ConvBlock(nn.Module):
        def __init__(self, cin: int, cout: int, pool: tuple[int, int] | None) -> None:
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(cout)
            self.pool = nn.AvgPool2d(pool) if pool else nn.Identity()

        def forward(self, x):
            return self.pool(torch.relu(self.bn(self.conv(x))))

    class ArtifactNet(nn.Module):
        """PANN-style: BN over mel bands, conv blocks, max+mean over time per band, MLP head."""

        def __init__(self) -> None:
            super().__init__()
            inputs = 0
            if width > 0:
                self.bn0 = nn.BatchNorm1d(N_MELS)
                self.blocks = nn.Sequential(
                    ConvBlock(1, width, (2, 2)),
                    ConvBlock(width, 2 * width, (2, 2)),
                    ConvBlock(2 * width, 4 * width, (2, 2)),
                    ConvBlock(4 * width, 4 * width, (2, 1)),
                )
                inputs += 2 * 4 * width * (N_MELS // 16)
            else:
                self.blocks = None
            self.stats = nn.BatchNorm1d(4 * N_MELS) if stats else None
            self.rel = nn.BatchNorm1d(3 * N_MELS) if rel else None
            self.pct = nn.BatchNorm1d(3 * N_MELS) if pct else None
            self.aux = nn.BatchNorm1d(N_AUX) if aux else None
            inputs += (4 * N_MELS if stats else 0) + (3 * N_MELS if rel else 0) + \
                (3 * N_MELS if pct else 0) + (N_AUX if aux else 0)
            sizes = [inputs, hidden] + [max(1, hidden // 2)] * (layers - 1)
            head: list[Any] = []
            for k in range(layers):
                head += [nn.Dropout(0.1 if k == 0 else 0.2), nn.Linear(sizes[k], sizes[k + 1]), nn.ReLU()]
            self.head = nn.Sequential(*head, nn.Dropout(0.1) if layers == 1 else nn.Identity(),
                                      nn.Linear(sizes[-1], len(CLASSES)))

        def summary(self, feats):
            """The head's inputs before their normalisation, without the CNN's maps: with
            ``width`` 0, training computes them once (:meth:`from_summary`)."""
            mel = feats[:, :MEL_DIM].reshape(-1, N_MELS, N_FRAMES)
            parts = []
            if self.stats is not None:
                x = (mel + 50.0) / 20.0
                parts.append(torch.cat([x.mean(dim=2), x.std(dim=2), x.amin(dim=2), x.amax(dim=2)], dim=1))
            if self.rel is not None:
                level = mel.amax(dim=1).mean(dim=1)[:, None]         # loudest band, mean over time
                r = torch.clamp(mel.mean(dim=2) - level, min=-100.0, max=0.0) / 20.0
                hi, lo = mel.amax(dim=2), mel.amin(dim=2)
                parts.append(torch.cat([r, mel.std(dim=2) / 20.0, (hi - lo) / 20.0], dim=1))
            if self.pct is not None:
                q = torch.quantile((mel + 50.0) / 20.0, torch.tensor([0.1, 0.5, 0.9], dtype=mel.dtype), dim=2)
                parts.append(torch.cat(list(q), dim=1))
            if self.aux is not None:
                parts.append(feats[:, MEL_DIM:])
            return torch.cat(parts, dim=1)

        def from_summary(self, summary, maps=None):
            parts = [] if maps is None else [maps]
            at = 0
            for norm, size in ((self.stats, 4 * N_MELS), (self.rel, 3 * N_MELS), (self.pct, 3 * N_MELS),
                               (self.aux, N_AUX)):
                if norm is not None:
                    parts.append(norm(summary[:, at:at + size]))
                    at += size
            return self.head(torch.cat(parts, dim=1))

        def forward(self, feats):
            maps = None
            if self.blocks is not None:
                mel = feats[:, :MEL_DIM].reshape(-1, N_MELS, N_FRAMES)
                level = mel.amax(dim=1).mean(dim=1)[:, None, None]  # loudest band, mean over time
                y = self.blocks(self.bn0(torch.clamp(mel - level, min=-100.0) / 20.0 + 2.0)[:, None])
                maps = torch.cat([y.amax(dim=3), y.mean(dim=3)], dim=1).flatten(1)
            return self.from_summary(self.summary(feats), maps)

    return ArtifactNet()


class ArtifactClassifier:
    """The trained network on CPU in inference mode; :meth:`classify` gives per-segment
    probabilities of :data:`CLASSES`."""

    def __init__(self, net: Any, meta: dict[str, Any] | None = None) -> None:
        self.net = net.eval()
        self.meta = dict(meta or {})
        # per-class logit offsets chosen on the validation split (class-prior correction)
        bias = self.meta.get("logit_bias") or [0.0] * len(CLASSES)
        self.logit_bias = np.asarray(bias, np.float32)

    def min_probability(self, kind: str, override: float | None = None) -> float:
        """The probability at which a segment is called ``kind``: ``override`` when given, else
        the threshold stored with the weights (one per class, or one for all)."""
        if override is not None:
            return float(override)
        stored = self.meta.get("min_probability", 0.999)
        return float(stored[kind] if isinstance(stored, dict) else stored)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "ArtifactClassifier":
        torch = _torch()
        path = Path(path) if path is not None else DEFAULT_WEIGHTS
        if not path.is_file():
            raise FileNotFoundError(f"audio artifact weights not found: {path} (train them with "
                                    f"python -m detectors.training.audio_artifacts)")
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if int(blob.get("feature_dim", -1)) != FEATURE_DIM:
            raise ValueError(f"{path}: weights for {blob.get('feature_dim')} features, this code "
                             f"computes {FEATURE_DIM} (retrain them)")
        arch = dict(blob.get("arch", {}))
        net = build_net(**arch)
        net.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
        return cls(net, {k: v for k, v in blob.items() if k != "state_dict"})

    def probabilities(self, feats: np.ndarray, batch: int = 256) -> np.ndarray:
        """``(segments, 5)`` probabilities of ``(segments, FEATURE_DIM)`` features."""
        torch = _torch()
        if len(feats) == 0:
            return np.zeros((0, len(CLASSES)), np.float32)
        out = []
        with torch.inference_mode():
            for i in range(0, len(feats), batch):
                x = torch.from_numpy(np.ascontiguousarray(feats[i:i + batch], np.float32))
                logits = self.net(x) + torch.from_numpy(self.logit_bias)
                out.append(torch.softmax(logits, dim=1).numpy())
        return np.concatenate(out).astype(np.float32)

    def classify(self, samples: np.ndarray, sample_rate: int,
                 hop_s: float = SEGMENT_S) -> np.ndarray:
        """``(segments, 5)`` probabilities of :data:`CLASSES` for consecutive 1-s segments of
        ``(n, ch)`` float32 samples (a tail under 1 s is ignored)."""
        return self.probabilities(features(samples, sample_rate, hop_s))


_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _cached(path: str) -> ArtifactClassifier:
    return ArtifactClassifier.load(path)


def shared_classifier(path: str | Path | None = None) -> ArtifactClassifier:
    """The classifier for ``path`` (default weights), loaded once per process (read-only)."""
    with _LOCK:
        return _cached(str(Path(path) if path is not None else DEFAULT_WEIGHTS))


# --------------------------------------------------------------------------- detector
class ArtifactConfig(DetectorConfig):
    min_probability: float | None = Field(
        None, gt=0, le=1,
        description="a segment is defective when its most likely defect class has at least this "
                    "probability; default: each class's own, stored with the weights (chosen on "
                    "the validation split: clean content under 1 false positive per hour)")
    weights: str | None = Field(
        None, description="path of the classifier weights (default: the committed "
                          "detectors/models/audio_artifacts.pt)")
    hop: float = Field(1.0, gt=0, le=1.0, description="seconds between the starts of consecutive 1-s segments")
    batch: int = Field(8, ge=1, le=256,
                       description="segments classified together, in one call of the network: "
                                   "more is faster on CPU, and each event comes up to that many "
                                   "segments later")


class ArtifactDetector(Detector):
    name = "audio_artifacts"
    kind = "audio_artifacts"
    reports = ("hum", "hiss", "distortion", "clicks")
    media = "audio"
    Config = ArtifactConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        self._model: ArtifactClassifier | None = None
        self._parts: list[np.ndarray] = []      # samples from _buffer_start on, as fed
        self._buffer_start = 0                  # stream sample index of _parts[0][0]
        self._t0: float | None = None
        self._rate: int | None = None
        self._next = 0                          # index of the next segment to complete
        self._pending: list[int] = []           # starts of complete segments not classified yet
        self._total = 0                         # samples fed
        self._open: dict[str, Any] | None = None

    @property
    def model(self) -> ArtifactClassifier:
        if self._model is None:
            self._model = shared_classifier(self.config.weights)
        return self._model

    def _seg_start(self, k: int) -> int:
        return round(k * self.config.hop * self._rate)

    def _samples(self, start: int, length: int) -> np.ndarray:
        """Stream samples ``start .. start + length`` (held from ``_buffer_start`` on): a view of
        the part that holds them all (chunks on the segment grid), else the pieces joined (joining
        the whole buffer for every batch copied seconds of samples to read one)."""
        pieces = []
        at = self._buffer_start
        for part in self._parts:
            end = at + part.shape[0]
            if end > start:
                pieces.append(part[max(0, start - at):start + length - at])
                if end >= start + length:
                    break
            at = end
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def feed(self, chunk: AudioChunk) -> list[Event]:
        samples = np.asarray(chunk.samples, np.float32)
        samples = samples[:, None] if samples.ndim == 1 else samples
        if self._t0 is None:
            self._t0, self._rate = float(chunk.t), int(chunk.sample_rate)
        if chunk.sample_rate != self._rate:
            raise ValueError(f"sample rate changed from {self._rate} to {chunk.sample_rate}")
        if samples.shape[0]:
            self._parts.append(samples)
        self._total += samples.shape[0]
        length = round(SEGMENT_S * self._rate)
        while self._seg_start(self._next) + length <= self._total:
            self._pending.append(self._seg_start(self._next))
            self._next += 1
        # whole batches of segments, on the segment grid (the same batches whatever the chunking)
        ready = len(self._pending) // self.config.batch * self.config.batch
        if not ready:
            return []
        events = self._run(self._pending[:ready], length)
        del self._pending[:ready]
        # keep the pending segments' samples, and the last second for the tail at finish()
        keep_from = min(self._pending[0] if self._pending else self._seg_start(self._next),
                        max(0, self._total - length))
        if keep_from > self._buffer_start:
            at = self._buffer_start
            while self._parts and at + self._parts[0].shape[0] <= keep_from:
                at += self._parts.pop(0).shape[0]
            if self._parts:
                self._parts[0] = self._parts[0][keep_from - at:]
            self._buffer_start = keep_from
        return events

    def _run(self, starts: list[int], length: int,
             spans: list[tuple[float, float]] | None = None) -> list[Event]:
        rate = self._rate
        segs = [self._samples(s, length) for s in starts]
        probs = self.model.probabilities(segment_features(segs, rate), batch=self.config.batch)
        events: list[Event] = []
        for i, (s, p) in enumerate(zip(starts, probs)):
            begin, end = spans[i] if spans else (self._t0 + s / rate, self._t0 + (s + length) / rate)
            events += self._update(begin, end, p)
        return events

    def _update(self, begin: float, end: float, p: np.ndarray) -> list[Event]:
        c = 1 + int(np.argmax(p[1:]))
        label = CLASSES[c] if p[c] >= self.model.min_probability(CLASSES[c], self.config.min_probability) else None
        events: list[Event] = []
        if self._open is not None and self._open["kind"] != label:
            events.append(self._close())
        if label is not None:
            if self._open is None:
                self._open = {"kind": label, "start": begin, "probs": []}
            self._open["probs"].append(p)
            self._open["end"] = end
        return events

    def _close(self) -> Event:
        ep, self._open = self._open, None
        mean = np.mean(ep["probs"], axis=0)
        c = CLASSES.index(ep["kind"])
        return Event(kind=ep["kind"], start_s=ep["start"], end_s=ep["end"],
                     score=float(np.clip(mean[c], 0.0, 1.0)), detector=self.name,
                     details={"probabilities": {k: round(float(v), 4) for k, v in zip(CLASSES, mean)},
                              "segments": len(ep["probs"])})

    def finish(self) -> list[Event]:
        events: list[Event] = []
        if self._rate is not None:
            length = round(SEGMENT_S * self._rate)
            covered = self._seg_start(self._next - 1) + length if self._next else 0
            tail = self._total - covered
            # a tail of at least a quarter second: the last full second of the stream, reported
            # over the tail only
            if self._pending:
                events += self._run(self._pending, length)
                self._pending = []
            if tail >= 0.25 * self._rate and self._total >= length:
                s = self._total - length
                if s >= self._buffer_start:
                    events += self._run([s], length, [(self._t0 + covered / self._rate,
                                                       self._t0 + self._total / self._rate)])
        if self._open is not None:
            events.append(self._close())
        return events
