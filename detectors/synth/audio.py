"""Audio defect injectors: plain functions over float32 sample arrays.

Samples are ``(n, channels)`` float32 in [-1, 1] (a 1-D array is treated as mono where noted).
The simulated device (:mod:`harness.sim`), the corpus builder and training scripts all use these,
so a defect sounds the same wherever it is made.  Functions never modify their inputs.

Functions that depend on absolute time take ``t0``, the time of the first sample, so a signal
rendered in chunks is identical to one rendered at once (hum keeps its phase; clicks fall at
fixed times).  Random ones take a seeded :class:`numpy.random.Generator`; ``severity`` is in
(0, 1], 1 being the strongest form.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

NoiseColour = Literal["white", "pink"]
ClipMode = Literal["hard", "soft"]

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
