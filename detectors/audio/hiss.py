"""Hiss: a broadband noise floor raised above what the content's quiet moments show.

The channels' mean is cut into 1024-sample frames (21 ms at 48 kHz); each frame's energy in
``bands`` high-frequency bands (between ``low_hz`` and ``high_hz``) is measured.  Per band:

- the *floor*: a low percentile (``floor_percentile``) of the frame energies over the last
  ``floor_s``: minimum statistics, the level the band never falls under;
- the *baseline*: the lowest floor over the ``baseline_s`` before (the content's own quiet).

A frame hisses when, in at least ``min_bands`` of the bands, the floor stands more than
``raise_db`` over the baseline *and* the band is steady: its median frame energy
(``steady_percentile``) within ``max_spread_db`` of its floor; or when one raised band is
steadier still (``strict_spread_db``).  Added noise dominates the
bands the content leaves empty (often the top octaves: band-limited or lossy sources, speech)
and is as steady there as Gaussian noise is, a fraction of a dB from frame to frame, while
content dominates the rest; requiring a few bands rather than all of them finds hiss under
music too.  Applause, cymbals and sibilants are bursts: even dense applause swings a few dB
from one 21 ms frame to the next, and its floor falls back between claps, strokes or words.
Episodes carry the estimated noise floor (dBFS per band), its raise over the baseline, the
number of bands that show it and an SNR estimate against the programme level.

Limits: the baseline is causal, so hiss present from the very start is not seen as a raise;
content that is itself steady broadband noise (rain, a waterfall) starting abruptly reads as
hiss.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from pydantic import Field

from detectors.audio.common import FrameSpectra, HopBuffer, mono
from detectors.base import Detector, DetectorConfig, Event
from detectors.episodes import EpisodeTracker
from harness.media import AudioChunk

_FRAME = 1024
_FRAMES_PER_HOP = 8


class HissConfig(DetectorConfig):
    low_hz: float = Field(2000.0, gt=0, description="lowest frequency looked at")
    high_hz: float = Field(22000.0, gt=0, description="highest frequency looked at (at most "
                           "0.48 x the sample rate)")
    bands: int = Field(8, ge=1, le=32, description="log-spaced bands between low_hz and high_hz")
    floor_s: float = Field(0.5, gt=0, description="window of the minimum-statistics floor")
    floor_percentile: float = Field(10.0, ge=0, le=50, description="percentile of a band's "
                                    "frame energies over floor_s taken as its floor")
    baseline_s: float = Field(10.0, gt=0, description="the baseline is the lowest floor over "
                              "this long before")
    min_floor_db: float = Field(-100.0, description="baselines under this (digital silence) "
                                "count as this")
    min_programme_db: float = Field(-60.0, le=0, description="hops quieter than this (dBFS "
                                    "RMS) do not feed the baseline")
    raise_db: float = Field(12.0, gt=0, description="floor over baseline that counts as raised")
    max_spread_db: float = Field(1.5, gt=0, description="a steady band's steady_percentile "
                                 "energy is within this of its floor (Gaussian noise in a "
                                 "band of a few dozen FFT bins: well under 1 dB)")
    steady_percentile: float = Field(50.0, gt=0, le=100, description="a band is steady when "
                                     "this percentile of its frame energies is within "
                                     "max_spread_db of the floor")
    min_bands: int = Field(2, ge=1, description="at least this many bands must be raised and "
                           "steady: content often leaves the top octaves empty, where hiss "
                           "shows first")
    strict_spread_db: float = Field(1.0, gt=0, description="one raised band this steady is "
                                    "enough (a wide top band holding nothing but noise)")
    min_duration_s: float = Field(0.7, ge=0, description="shorter episodes are not reported")


class HissDetector(Detector):
    name = "hiss"
    kind = "hiss"
    media = "audio"
    Config = HissConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        self._hops: HopBuffer | None = None
        self._tracker = EpisodeTracker(self.kind, self.name, self.config.min_duration_s)
        self._frames: deque[np.ndarray] = deque()
        self._floors: deque[np.ndarray] = deque()
        self._edges: np.ndarray | None = None
        self._spectra = FrameSpectra(_FRAME)
        self._programme: deque[float] = deque()
        self._silent_until = float("-inf")

    def _setup(self, rate: int) -> None:
        cfg = self.config
        frame_s = _FRAME / rate
        self._frames = deque(maxlen=max(2, round(cfg.floor_s / frame_s)))
        self._rows = np.zeros((0, cfg.bands))    # band energies of the frames from
        self._rows_start = 0                     # _rows_start on
        self._floors = deque(maxlen=max(2, round(cfg.baseline_s / (frame_s * _FRAMES_PER_HOP))))
        self._programme = deque(maxlen=max(2, round(cfg.baseline_s / (frame_s * _FRAMES_PER_HOP))))
        high = min(cfg.high_hz, 0.48 * rate)
        low = min(cfg.low_hz, high / 2)
        edges_hz = np.geomspace(low, high, cfg.bands + 1)
        self._edges = np.round(edges_hz / rate * _FRAME).astype(int)
        self._norm = float(np.sum(self._spectra.window ** 2)) * _FRAME / 2

    def feed(self, chunk: AudioChunk) -> list[Event]:
        if self._hops is None:
            self._hops = HopBuffer(_FRAMES_PER_HOP * _FRAME / chunk.sample_rate)
        if self._edges is None:
            self._setup(int(chunk.sample_rate))
        # the band energies of the frames the chunk completes (spectra shared with the
        # distortion detector through the chunk)
        power = self._spectra.push(chunk) / self._norm
        n = power.shape[0]
        if n:
            cums = np.concatenate([np.zeros((n, 1)), np.cumsum(power, axis=1)], axis=1)
            self._rows = np.concatenate([self._rows, cums[:, self._edges[1:]]
                                         - cums[:, self._edges[:-1]]])
        out: list[Event] = []
        for index, count, samples in self._hops.push_block(chunk):
            out += self._run(index, count, samples)
        return out

    def _run(self, index: int, count: int, samples: np.ndarray) -> list[Event]:
        """Hops ``index .. index + count - 1`` (``samples``: ``count`` hops of equal length):
        every hop's band energies, floors and programme level at once, then the decisions
        (which feed the baseline) hop by hop."""
        cfg = self.config
        out: list[Event] = []
        length = samples.shape[0] // count
        n = length // _FRAME
        if n == 0:
            return out
        x = mono(samples).reshape(count, length)
        programme = np.mean(x.astype(np.float64) ** 2, axis=1)
        programme_db = 10 * np.log10(np.maximum(programme, 1e-20))
        # the floor statistics over the last frames as each hop ends (the hop's frames are
        # the stream's frames first // _FRAME on)
        width = self._frames.maxlen
        first = index * self._hops.hop // _FRAME
        avail = first + n * np.arange(1, count + 1)       # frames of the stream so far
        history, start = self._rows, self._rows_start
        full = avail >= width
        floor = np.empty((count, history.shape[1]))
        middle = np.empty((count, history.shape[1]))
        if full.any():
            windows = np.lib.stride_tricks.sliding_window_view(history, width, axis=0)
            floor[full], middle[full] = np.percentile(
                windows[avail[full] - width - start],
                [cfg.floor_percentile, cfg.steady_percentile], axis=-1)
        for k in np.flatnonzero(~full).tolist():
            floor[k], middle[k] = np.percentile(history[:avail[k] - start], [
                cfg.floor_percentile, cfg.steady_percentile], axis=0)
        drop = max(0, min(int(avail[-1]) - width, start + history.shape[0]) - start)
        self._rows, self._rows_start = history[drop:], start + drop
        floors_db = 10 * np.log10(np.maximum(floor, 1e-20))
        spreads = 10 * np.log10(np.maximum(middle, 1e-20)) - floors_db
        for k in range(count):
            t = self._hops.time_of(index + k)
            floor_db, spread, full_k = floors_db[k], spreads[k], bool(full[k])
            self._programme.append(float(programme[k]))
            hissing = False
            details = None
            if len(self._floors) >= 2 and full_k:
                baseline_db = np.maximum(np.min(np.array(self._floors), axis=0), cfg.min_floor_db)
                rise = floor_db - baseline_db
                raised = rise > cfg.raise_db
                good = raised & (spread < cfg.max_spread_db)
                hissing = (int(good.sum()) >= min(cfg.min_bands, len(good))
                           or bool(np.any(raised & (spread < cfg.strict_spread_db))))
                if hissing:
                    # noise floor per band -> a broadband estimate over the looked-at span
                    noise_power = float(np.sum(floor[k])) * (self._hops.rate / 2) / max(
                        1.0, (self._edges[-1] - self._edges[0]) * self._hops.rate / _FRAME)
                    programme_level = float(np.median(self._programme)) or 1e-12
                    details = {"bands": int(good.sum()),
                               "noise_floor_db": round(float(np.median(floor_db)), 1),
                               "min_raise_db": round(float(np.median(rise[good])), 1),
                               "max_raise_db": round(float(np.max(rise)), 1),
                               "snr_db": round(10 * np.log10(programme_level
                                                             / max(noise_power, 1e-20)), 1)}
            # silence (a dropout, a mute) says nothing about the content's noise floor
            if programme_db[k] <= cfg.min_programme_db:
                self._silent_until = t + cfg.floor_s + self._hops.hop / self._hops.rate
            sounding = t >= self._silent_until
            if not hissing and sounding and full_k:
                self._floors.append(floor_db)
            score = 0.5
            if details:
                score = float(np.clip(0.5 + (details["min_raise_db"] - cfg.raise_db) / 30, 0.5, 1.0))
            centre = t + self._hops.hop / self._hops.rate - cfg.floor_s / 2
            out += self._tracker.update(centre, hissing, score, details=details)
        return out

    def finish(self) -> list[Event]:
        if self._hops is None:
            return []
        out: list[Event] = []
        for index, _, samples in self._hops.flush():
            out += self._run(index, 1, samples)
        return out + self._tracker.finish()
