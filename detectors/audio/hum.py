"""Mains hum: a steady tone at 50 or 60 Hz and its harmonics.

Every ``hop_s`` the channels' mean is projected onto the first ``harmonics`` multiples of 50 and
of 60 Hz, with the phase referred to absolute stream time, so a steady tone gives the same
complex amplitude in every hop.  Over the last ``window_s`` (several hops) each harmonic's
*coherent* amplitude (the magnitude of the mean) is compared with the spread of the hops around
that mean: mains hum is phase-stable and constant in level, so its coherent amplitude stands far
above the spread; a bass note near 50/60 Hz changes pitch, phase and level from note to note,
and music or noise in the bin averages out.  Each hop is Hann-windowed, so loud partials 10 Hz
and more away (a voice's fundamental, a bass note) do not leak into the mains bins, and with
``weight_loud_hops`` the mean and its spread are weighted: hops louder than the window's
median count in inverse proportion to their power.  Hum goes on through the pauses of speech
and the quiet moments of music, where nothing masks it; loud syllables and plosives throw energy
of random phase into the bins and would otherwise swamp it.

A window hums when at least ``min_harmonics`` of
one mains frequency's harmonics (the fundamental or not) are coherent by ``min_coherence``
(mean over spread-of-the-mean, a z-score), or one of them by ``single_coherence`` (speech and
music can mask the rest).  Windows that hum make an episode; ``details``
carry the frequency, the level of the hum (``max_level_db``: dBFS, the summed harmonics' amplitudes) and the
harmonics found.

Limits: mains drifting by more than ~0.1 Hz over the window loses coherence (the window is
short enough for normal grid tolerance); a sustained synthesiser tone locked exactly on 50/60 Hz
and a harmonic of it would read as hum.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from pydantic import Field

from detectors.audio.common import HopBuffer, mono
from detectors.base import Detector, DetectorConfig, Event
from detectors.episodes import EpisodeTracker
from harness.media import AudioChunk

MAINS = (50.0, 60.0)
_DECIMATE = 8   # analysis at rate/8 (6 kHz at 48 kHz): the harmonics looked at sit far below


class HumConfig(DetectorConfig):
    harmonics: int = Field(5, ge=1, le=10, description="harmonics of each mains frequency "
                           "examined (1 = the fundamental)")
    min_harmonics: int = Field(2, ge=1, description="harmonics that must be coherent")
    min_coherence: float = Field(3.0, gt=0, description="coherent amplitude over the spread of "
                                 "the mean (a z-score) for a harmonic to count")
    min_level_db: float = Field(-75.0, le=0, description="hum quieter than this (dBFS) is "
                                "ignored")
    single_coherence: float = Field(25.0, gt=0, description="... or one harmonic alone this "
                                    "coherent (speech and music can mask the others)")
    hop_s: float = Field(0.2, gt=0, le=1.0, description="analysis hop")
    window_s: float = Field(1.6, gt=0, description="hops averaged coherently")
    weight_loud_hops: bool = Field(True, description="hops louder than the window's median "
                                   "count in inverse proportion to their power")
    bridge_s: float = Field(1.0, ge=0, description="gaps in an episode up to this long are "
                            "bridged")
    min_duration_s: float = Field(0.5, ge=0, description="shorter episodes are not reported")


class HumDetector(Detector):
    name = "hum"
    kind = "hum"
    media = "audio"
    Config = HumConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self._hops = HopBuffer(cfg.hop_s)
        self._tracker = EpisodeTracker(self.kind, self.name, cfg.min_duration_s,
                                       summarise=lambda s: float(np.max(s)))
        self._history: deque[np.ndarray] = deque(maxlen=max(2, round(cfg.window_s / cfg.hop_s)))
        self._powers: deque[float] = deque(maxlen=self._history.maxlen)
        self._basis: np.ndarray | None = None
        self._last_positive: float | None = None
        self._freqs = np.array([f * k for f in MAINS for k in range(1, cfg.harmonics + 1)])

    def _make_basis(self, n: int, rate: float) -> np.ndarray:
        t = np.arange(n) / rate
        window = np.hanning(n)
        return np.exp(-2j * np.pi * self._freqs[None, :] * t[:, None]) * \
            (window * (2.0 / window.sum()))[:, None]

    def feed(self, chunk: AudioChunk) -> list[Event]:
        return self._run(self._hops.push(chunk))

    def _run(self, hops) -> list[Event]:
        out: list[Event] = []
        for index, t, samples in hops:
            rate = self._hops.rate or 48000
            if samples.shape[0] < self._hops.hop:
                continue
            x = mono(samples)
            # box-average decimation: a mild low-pass, plenty for tones under 600 Hz
            step = _DECIMATE if rate >= 16000 else 1
            n = x.shape[0] - x.shape[0] % step
            small = x[:n].reshape(-1, step).mean(axis=1)
            if self._basis is None or self._basis.shape[0] != small.shape[0]:
                self._basis = self._make_basis(small.shape[0], rate / step)
                # the box filter's gain at each frequency, undone
                w = np.pi * self._freqs / rate
                self._gain = np.abs(np.sin(step * w) / (step * np.sin(w)))
            start = index * self._hops.hop / rate          # absolute phase reference
            phasor = (small @ self._basis) / self._gain * \
                np.exp(-2j * np.pi * self._freqs * start)
            self._history.append(phasor)
            self._powers.append(float(np.dot(small, small)) / max(1, small.shape[0]) + 1e-20)
            if len(self._history) < self._history.maxlen:
                continue
            out += self._judge(t, np.array(self._history), np.array(self._powers))
        return out

    def _judge(self, t: float, hist: np.ndarray, powers: np.ndarray) -> list[Event]:
        cfg = self.config
        m = hist.shape[0]
        if cfg.weight_loud_hops:
            weight = 1.0 / np.maximum(powers, np.median(powers))
            weight /= weight.sum()
        else:
            weight = np.full(m, 1.0 / m)
        mean = weight @ hist
        # the weighted mean's standard error (with equal weights: the RMS deviation / sqrt(m))
        spread = np.sqrt(np.square(weight) @ (np.abs(hist - mean) ** 2)) + 1e-9
        z = np.abs(mean) / spread
        best = None
        k = cfg.harmonics
        for j, f in enumerate(MAINS):
            zj = z[j * k:(j + 1) * k]
            amp = np.abs(mean[j * k:(j + 1) * k])
            audible = amp > 10 ** (cfg.min_level_db / 20)
            coherent = (zj >= cfg.min_coherence) & audible
            if coherent.sum() >= cfg.min_harmonics or \
                    np.any((zj >= cfg.single_coherence) & audible):
                level = float(amp.sum())
                if best is None or level > best[1]:
                    best = (f, level, coherent, zj)
        centre = t - (m - 1) * cfg.hop_s / 2
        if best is None:
            # a window or two losing the hum under loud content does not split the episode
            if self._last_positive is not None and centre - self._last_positive <= cfg.bridge_s:
                return self._tracker.update(centre, True, 0.5)
            return self._tracker.update(centre, False)
        self._last_positive = centre
        f, level, coherent, zj = best
        score = float(np.clip(0.5 + 0.1 * (np.median(zj[coherent]) - cfg.min_coherence), 0.5, 1.0))
        return self._tracker.update(centre, True, score, details={
            "frequency_hz": f, "max_level_db": round(20 * np.log10(max(level, 1e-9)), 1),
            "harmonics": [int(i + 1) for i in np.flatnonzero(coherent)],
            "max_coherence": round(float(zj.max()), 1)})

    def finish(self) -> list[Event]:
        return self._run(self._hops.flush()) + self._tracker.finish()
