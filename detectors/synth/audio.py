"""Audio defect injectors: plain functions over float32 sample arrays.

Samples are ``(n, channels)`` float32 in [-1, 1] (a 1-D array is treated as mono where noted).
The simulated device (:mod:`harness.sim`), the corpus builder and training scripts all use these,
so a defect sounds the same wherever it is made.  Functions never modify their inputs.

Functions that depend on absolute time take ``t0``, the time of the first sample, so a signal
rendered in chunks is identical to one rendered at once (hum keeps its phase; clicks fall at
fixed times).  Random ones take a seeded :class:`numpy.random.Generator`; ``severity`` is in
(0, 1], 1 being the strongest form.

The ``*_episode`` functions at the end apply one defect episode to a timestamped recording (an
:class:`~harness.media.AudioChunk` holding a whole track) and return the damaged recording with
its ground truth, an :class:`~detectors.base.Event` from detector ``"injected"`` in the format
of ``DEFECTS.md`` (``details`` always carries ``severity``).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from detectors.base import Event
from detectors.synth import truth
from harness.media import AudioChunk

NoiseColour = Literal["white", "pink"]
ClipMode = Literal["hard", "soft"]
DistortionMode = Literal["hard", "soft", "crush"]
LoudnessDirection = Literal["up", "down"]
ChannelFault = Literal["drop", "swap", "invert"]

EDGE_RAMP_S = 0.005    # level and timing changes fade over this, so their edges do not click

# Nominal programme level (-20 dBFS RMS), the reference for the hiss signal-to-noise ratio.
PROGRAM_RMS = 0.1

# One click: a sharp impulse with a short ringing tail, a few samples long.
_CLICK_SHAPE = np.array([1.0, -0.75, 0.5, -0.3, 0.15, -0.05], np.float32)
_CLICK_SHAPE.flags.writeable = False


def _as_2d(samples: np.ndarray) -> np.ndarray:
    return samples[:, None] if samples.ndim == 1 else samples


def silence_gain(severity: float = 1.0) -> float:
    """Gain of a dropout: 0 at severity 1 (muted), else -60 dB x severity."""
    return 0.0 if severity >= 1.0 else float(10.0 ** (-3.0 * severity))


def silence(samples: np.ndarray, severity: float = 1.0) -> np.ndarray:
    """An audio dropout: zeros at severity 1, otherwise attenuated by 60 dB x severity."""
    return (samples * np.float32(silence_gain(severity))).astype(np.float32)


def hum_level(severity: float) -> float:
    """Peak amplitude of injected hum: -60 dBFS (severity near 0) to -10 dBFS (severity 1)."""
    return float(10.0 ** ((-60.0 + 50.0 * severity) / 20.0))


def add_hum(samples: np.ndarray, sample_rate: int, t0: float, freq: float = 50.0,
            severity: float = 1.0, harmonics: int = 5) -> np.ndarray:
    """Mains hum: ``freq`` (50 or 60 Hz) and its harmonics with 1/k amplitudes, on every channel.

    The phase follows absolute time ``t0 + i / sample_rate``, so chunks join seamlessly.
    """
    x = _as_2d(samples)
    t = t0 + np.arange(x.shape[0], dtype=np.float64) / sample_rate
    weights = 1.0 / np.arange(1, harmonics + 1)
    wave = np.zeros(x.shape[0], np.float64)
    for k, weight in enumerate(weights, start=1):
        wave += weight * np.sin(2.0 * np.pi * freq * k * t)
    wave *= hum_level(severity) / weights.sum()
    out = x + wave.astype(np.float32)[:, None]
    return out.reshape(samples.shape)


def noise(rng: np.random.Generator, n: int, channels: int = 1,
          colour: NoiseColour = "white") -> np.ndarray:
    """``(n, channels)`` float32 noise with unit RMS per channel; pink falls 3 dB per octave."""
    white = rng.standard_normal((n, channels))
    if colour == "pink":
        spectrum = np.fft.rfft(white, axis=0)
        freqs = np.arange(spectrum.shape[0], dtype=np.float64)
        freqs[0] = 1.0
        white = np.fft.irfft(spectrum / np.sqrt(freqs)[:, None], n=n, axis=0)
    white -= white.mean(axis=0)
    white /= np.maximum(white.std(axis=0), 1e-12)
    return white.astype(np.float32)


def hiss_snr_db(severity: float) -> float:
    """Signal-to-noise ratio of injected hiss: 40 dB (severity near 0) down to 0 dB (severity 1)."""
    return 40.0 * (1.0 - severity)


def add_hiss(samples: np.ndarray, noise_samples: np.ndarray, severity: float = 1.0,
             reference_rms: float = PROGRAM_RMS) -> np.ndarray:
    """Add broadband noise (from :func:`noise`, same shape) at :func:`hiss_snr_db` below
    ``reference_rms``: a fixed programme reference, so the noise floor does not pump with the
    content and is heard in quiet passages as on a real analogue path."""
    level = reference_rms * 10.0 ** (-hiss_snr_db(severity) / 20.0)
    return (samples + noise_samples * np.float32(level)).astype(np.float32)


def click_times(rng: np.random.Generator, start: float, end: float, severity: float = 1.0,
                rate: float | None = None) -> np.ndarray:
    """Sorted times in [start, end) for clicks: ``rate`` per second (default 1 + 5 x severity),
    at least one."""
    per_second = 1.0 + 5.0 * severity if rate is None else rate
    count = max(1, int(rng.poisson(per_second * (end - start))))
    return np.sort(rng.uniform(start, end, count))


def add_clicks(samples: np.ndarray, sample_rate: int, t0: float, times: np.ndarray,
               severity: float = 1.0) -> np.ndarray:
    """Add a sharp impulse (peak 0.3 to 1.0 by severity) at each of ``times`` that falls in this
    block; the sign alternates from click to click (by position in ``times``)."""
    x = _as_2d(samples)
    out = x.copy()
    n = x.shape[0]
    amp = 0.3 + 0.7 * severity
    first = int(np.ceil(t0 * sample_rate - 1e-9))
    for k, t in enumerate(times):
        at = int(np.ceil(t * sample_rate - 1e-9)) - first
        if at >= n or at + len(_CLICK_SHAPE) <= 0:
            continue
        lo, hi = max(at, 0), min(at + len(_CLICK_SHAPE), n)
        sign = 1.0 if k % 2 == 0 else -1.0
        out[lo:hi] += (sign * amp * _CLICK_SHAPE[lo - at:hi - at])[:, None]
    return out.reshape(samples.shape)


def clip_drive_db(severity: float) -> float:
    """Gain ahead of the clipper: up to +24 dB at severity 1."""
    return 24.0 * severity


def clip(samples: np.ndarray, severity: float = 1.0, mode: ClipMode = "hard") -> np.ndarray:
    """Overdrive: amplify by :func:`clip_drive_db`, then hard-clip at full scale or saturate
    (tanh)."""
    driven = samples * np.float32(10.0 ** (clip_drive_db(severity) / 20.0))
    if mode == "soft":
        return np.tanh(driven).astype(np.float32)
    return np.clip(driven, -1.0, 1.0).astype(np.float32)


def shift(samples: np.ndarray, sample_rate: int, offset_ms: float) -> np.ndarray:
    """Delay (``offset_ms`` > 0) or advance (< 0) a recording against its picture, keeping its
    length: the gap is filled with silence."""
    n = samples.shape[0]
    k = int(np.clip(round(offset_ms * sample_rate / 1000.0), -n, n))
    out = np.zeros_like(samples)
    if k >= 0:
        out[k:] = samples[:n - k]
    else:
        out[:n + k] = samples[-k:]
    return out


def bitcrush(samples: np.ndarray, severity: float = 1.0) -> np.ndarray:
    """Crushed sound: samples quantised to :func:`crush_bits` bits and held for
    ``1 + round(5 x severity)`` samples (aliasing), as a broken sample-format conversion."""
    step = 2.0 ** (1 - crush_bits(severity))
    hold = 1 + round(5 * severity)
    x = _as_2d(samples)
    held = np.repeat(x[::hold], hold, axis=0)[:x.shape[0]]
    return (np.round(held / step) * step).astype(np.float32).reshape(samples.shape)


def crush_bits(severity: float) -> int:
    """Word length left by :func:`bitcrush`: 14 bits (severity near 0) down to 4 (severity 1)."""
    return int(round(14 - 10 * severity))


def loudness_step_db(severity: float) -> float:
    """Size of an injected loudness jump: 6 dB (severity near 0) to 20 dB (severity 1)."""
    return 6.0 + 14.0 * severity


def channel_fault(samples: np.ndarray, mode: ChannelFault, severity: float = 1.0,
                  channel: int = 0) -> np.ndarray:
    """A channel fault on ``(n, channels)`` audio: ``drop`` attenuates ``channel`` like a
    dropout (:func:`silence_gain`), ``swap`` exchanges the first two channels, ``invert`` turns
    ``channel`` upside down (opposite phase)."""
    out = samples.copy()
    if mode == "swap":
        out[:, [0, 1]] = samples[:, [1, 0]]
    elif mode == "invert":
        out[:, channel] = -samples[:, channel]
    else:
        out[:, channel] = samples[:, channel] * np.float32(silence_gain(severity))
    return out


# --------------------------------------------------------------------------- episodes
def sample_span(audio: AudioChunk, start_s: float,
                end_s: float) -> tuple[int, int, float, float]:
    """Samples ``[a, b)`` of ``audio`` in ``[start_s, end_s)`` and their start and end times."""
    rate, n = audio.sample_rate, audio.samples.shape[0]
    a = min(n, max(0, math.ceil((start_s - audio.t) * rate - 1e-9)))
    b = min(n, max(0, math.ceil((end_s - audio.t) * rate - 1e-9)))
    if a >= b:
        raise ValueError(f"no sample in [{start_s}, {end_s})")
    return a, b, audio.t + a / rate, audio.t + b / rate


def replace_samples(audio: AudioChunk, a: int, segment: np.ndarray) -> AudioChunk:
    """``audio`` with the samples from ``a`` on replaced by ``segment``."""
    out = audio.samples.copy()
    out[a:a + segment.shape[0]] = segment
    return AudioChunk(audio.t, out, audio.sample_rate)


def edge_weight(positions: np.ndarray, a: int, b: int, ramp: int) -> np.ndarray:
    """How far an episode over samples ``[a, b)`` has faded in at ``positions`` (float32, 0 to
    1): linearly over ``ramp`` samples after ``a`` and before ``b``."""
    return np.minimum(1.0, np.minimum(positions - a + 1, b - positions) / ramp).astype(np.float32)


def _blend(audio: AudioChunk, a: int, b: int, damaged: np.ndarray) -> AudioChunk:
    """``audio`` with samples ``[a, b)`` taken from ``damaged`` (the whole track, changed),
    faded in and out over :data:`EDGE_RAMP_S`."""
    ramp = max(1, round(EDGE_RAMP_S * audio.sample_rate))
    weight = edge_weight(np.arange(a, b), a, b, ramp)[:, None]
    return replace_samples(audio, a, weight * damaged[a:b] + (1.0 - weight) * audio.samples[a:b])


def silence_episode(audio: AudioChunk, start_s: float, end_s: float,
                    severity: float = 1.0) -> tuple[AudioChunk, Event]:
    """A dropout (:func:`silence`): muted at severity 1, else attenuated."""
    a, b, start, end = sample_span(audio, start_s, end_s)
    return (replace_samples(audio, a, silence(audio.samples[a:b], severity)),
            truth("silence", start, end, severity, gain_db=_db(silence_gain(severity))))


def clicks_episode(audio: AudioChunk, start_s: float, end_s: float, rng: np.random.Generator,
                   severity: float = 1.0, rate: float | None = None) -> tuple[AudioChunk, Event]:
    """Clicks (:func:`click_times`, :func:`add_clicks`); ``details.times`` lists them."""
    a, b, start, end = sample_span(audio, start_s, end_s)
    times = click_times(rng, start, end, severity, rate)
    segment = add_clicks(audio.samples[a:b], audio.sample_rate, start, times, severity)
    return (replace_samples(audio, a, segment),
            truth("clicks", start, end, severity, count=len(times),
                  times=[round(float(t), 6) for t in times]))


def hum_episode(audio: AudioChunk, start_s: float, end_s: float, severity: float = 1.0,
                freq: float = 50.0, harmonics: int = 5) -> tuple[AudioChunk, Event]:
    """Mains hum (:func:`add_hum`) at ``freq`` with ``harmonics``."""
    a, b, start, end = sample_span(audio, start_s, end_s)
    segment = add_hum(audio.samples[a:b], audio.sample_rate, start, freq, severity, harmonics)
    return (replace_samples(audio, a, segment),
            truth("hum", start, end, severity, freq=freq, harmonics=harmonics,
                  level_dbfs=_db(hum_level(severity))))


def hiss_episode(audio: AudioChunk, start_s: float, end_s: float, rng: np.random.Generator,
                 severity: float = 1.0, colour: NoiseColour = "white") -> tuple[AudioChunk, Event]:
    """Broadband noise (:func:`add_hiss`) at :func:`hiss_snr_db` below programme level."""
    a, b, start, end = sample_span(audio, start_s, end_s)
    hiss = noise(rng, b - a, audio.channels, colour)
    return (replace_samples(audio, a, add_hiss(audio.samples[a:b], hiss, severity)),
            truth("hiss", start, end, severity, colour=colour, snr_db=hiss_snr_db(severity)))


def distortion_episode(audio: AudioChunk, start_s: float, end_s: float, severity: float = 1.0,
                       mode: DistortionMode = "hard") -> tuple[AudioChunk, Event]:
    """Clipping (``hard``), saturation (``soft``) (:func:`clip`) or a crushed word length
    (``crush``, :func:`bitcrush`).  Lossy re-encoding is
    :func:`detectors.synth.codec.lossy_episode`.

    The clipper's drive is counted from the episode's own peak: its loudest sample is driven
    :func:`clip_drive_db` past the clip point (``details.input_peak_db`` is where the content
    peaked).  Counted from full scale, as until session 4, quiet content never reached the
    clipper: the large corpus's missed soft-clip episodes had 0-2 % of their samples in
    saturation, a gain step labelled distortion."""
    a, b, start, end = sample_span(audio, start_s, end_s)
    segment = audio.samples[a:b]
    if mode == "crush":
        return (replace_samples(audio, a, bitcrush(segment, severity)),
                truth("distortion", start, end, severity, mode=mode, bits=crush_bits(severity)))
    peak = float(np.abs(segment).max(initial=0.0))
    normalised = segment * np.float32(1.0 / peak) if peak > 0 else segment
    return (replace_samples(audio, a, clip(normalised, severity, mode)),
            truth("distortion", start, end, severity, mode=mode,
                  drive_db=clip_drive_db(severity), input_peak_db=_db(peak)))


INSERT_PEAK = 10.0 ** (-1.0 / 20.0)   # a loud insert's peak ceiling (-1 dBFS)


def loudness_episode(audio: AudioChunk, start_s: float, end_s: float, severity: float = 1.0,
                     direction: LoudnessDirection = "down") -> tuple[AudioChunk, Event]:
    """A level jump of :func:`loudness_step_db` over the episode, with short ramps;
    ``details.gain_db`` is the jump.  An upward jump never clips: its peaks stay under
    :data:`INSERT_PEAK` (-1 dBFS, EBU R128's true-peak ceiling for a mastered insert); where the
    episode's content leaves less headroom than the step, the whole programme is first brought
    down by the difference (``details.programme_gain_db``; earlier episodes keep their steps),
    as a quiet programme around a loud insert.  (Until session 4 the step was cut to the headroom
    instead: 8 of the large corpus's 9 "up" episodes were 0.8-6.7 dB, under any jump threshold,
    labelled as 6-20 dB jumps.)"""
    a, b, start, end = sample_span(audio, start_s, end_s)
    step_db = loudness_step_db(severity)
    extra: dict[str, float] = {}
    if direction == "up":
        peak = float(np.abs(audio.samples[a:b]).max(initial=0.0))
        lower_db = step_db - _db(INSERT_PEAK / max(peak, 1e-6))
        if lower_db > 0:
            audio = AudioChunk(audio.t, audio.samples * np.float32(10.0 ** (-lower_db / 20.0)),
                               audio.sample_rate)
            extra["programme_gain_db"] = round(-lower_db, 3)
        gain_db = step_db
    else:
        gain_db = -step_db
    damaged = audio.samples * np.float32(10.0 ** (gain_db / 20.0))
    return (_blend(audio, a, b, damaged),
            truth("loudness", start, end, severity, direction=direction,
                  gain_db=round(gain_db, 3), **extra))


def channel_episode(audio: AudioChunk, start_s: float, end_s: float, severity: float = 1.0,
                    mode: ChannelFault = "drop", channel: int = 0) -> tuple[AudioChunk, Event]:
    """A channel missing, swapped or in opposite phase (:func:`channel_fault`); ``severity``
    scales ``drop`` only."""
    a, b, start, end = sample_span(audio, start_s, end_s)
    damaged = channel_fault(audio.samples[a:b], mode, severity, channel)
    return (replace_samples(audio, a, damaged),
            truth("channel", start, end, severity, mode=mode, channel=channel))


def av_offset_episode(audio: AudioChunk, start_s: float, end_s: float, offset_ms: float,
                      severity: float = 1.0) -> tuple[AudioChunk, Event]:
    """Sound out of step with the picture over the episode: ``offset_ms`` > 0 plays it late, < 0
    early (the sound is taken from the same track, shifted; short crossfades at the edges).
    ``offset_ms`` is the degree; ``severity`` is only recorded."""
    a, b, start, end = sample_span(audio, start_s, end_s)
    shifted = shift(audio.samples, audio.sample_rate, offset_ms)
    return (_blend(audio, a, b, shifted),
            truth("av_sync", start, end, severity, offset_ms=offset_ms))


def _db(gain: float) -> float:
    return round(20.0 * math.log10(max(gain, 1e-6)), 3)
