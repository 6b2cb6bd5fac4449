"""Distortion: clipping, saturation and crushed sound.

Per ``hop_s`` hop of every channel:

- **clipping** (``mode: hard``): runs of at least ``min_run`` identical samples at a plateau
  (``|x|`` at least ``plateau_level`` of the hop's peak and above ``min_peak``); the clipped
  fraction is the share of samples in such runs.  Clean content never holds a loud sample
  still; a clipper does, at whatever level it clipped.
- **crushed** (``mode: crush``): samples equal to their predecessor while the signal sounds,
  at any amplitude (a sample-and-hold or a too-short word length), more than
  ``max_repeat_fraction`` of the hop; the number of distinct levels is reported.
- **saturation** (``mode: soft``): the amplitude histogram piled up under the peak: more than
  ``max_near_peak_fraction`` of the samples within 10 % of a peak above ``min_peak``, with a
  crest factor (peak over RMS) under ``max_crest_db``.  Music, even loud and limited, keeps
  sparse peaks; a saturating stage squares the waveform off.  (A sustained pure tone near full
  scale looks the same.)

- **lossy re-encode** (``mode: lossy``): the audio bandwidth collapsing.  The channels' mean
  is cut into 1024-sample frames; per 1 kHz band, the median power over the last
  ``lossy_window_s`` gives a spectral profile.  Its *bandwidth* is the top of the highest
  band that stands ``cliff_db`` over everything from two bands up (a brick-wall low-pass, not
  the gradual roll-off of natural sound).  A low-bitrate encoder (Opus at 6-24 kb/s: narrow-,
  wide- or super-wideband) cuts everything above 4-13 kHz from one frame to the next, 60-100
  dB down; the content's own cliff (its source's bandwidth, 15-20 kHz for music) does not
  move.  A hop is lossy when the bandwidth falls under ``max_edge_ratio`` of the baseline (the
  median bandwidth over the ``edge_baseline_s`` before, while sounding; see
  ``min_cliff_fraction``), at least
  ``min_edge_drop_hz`` below it.  The episode is reported when the bandwidth comes back (a
  switch to a band-limited source never does: after ``max_lossy_s`` the baseline starts
  again), so a re-encode still running when the stream ends is not reported.

``details`` carry the clipped fraction, crest factor, repeat fraction, the audio bandwidth and
its baseline (lossy) and a mode guess.  Codec garble that keeps the bandwidth (speech already
band-limited to 8 kHz, re-encoded at the same bandwidth) is not found.  Broadband noise hides
the content's own cliff while it lasts: a tenth of the sounding history showing the cliff makes
it the baseline (``min_cliff_fraction``; at a quarter, hiss over half of the first seconds left
the baseline at Nyquist and each gap between its episodes read as a cut: 8 false positives on
the seed-1 large corpus, session 7).  Hops under ``min_sounding_db`` are not judged: a quiet
passage at -45 to -55 dBFS loses its high bands into the floor and shows a cliff of its own.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from pydantic import Field

from detectors.audio.common import FrameSpectra, HopBuffer
from detectors.base import Detector, DetectorConfig, Event
from detectors.episodes import EpisodeTracker
from harness.media import AudioChunk


_FRAME = 1024


class DistortionConfig(DetectorConfig):
    min_run: int = Field(3, ge=2, description="identical samples in a row that make a plateau")
    plateau_level: float = Field(0.7, gt=0, le=1, description="plateaus count at or above this "
                                 "fraction of the hop's peak")
    min_peak: float = Field(0.25, gt=0, le=1, description="hops peaking under this are not judged")
    min_clipped_fraction: float = Field(0.0005, gt=0, description="share of samples on plateaus "
                                        "that makes a hop clipped")
    max_repeat_fraction: float = Field(0.3, gt=0, le=1, description="share of sounding samples "
                                       "equal to the one before that makes a hop crushed")
    max_near_peak_fraction: float = Field(0.08, gt=0, le=1, description="share of samples within "
                                          "10 % of the peak that makes a hop saturated")
    max_crest_db: float = Field(9.0, gt=0, description="... with a crest factor under this")
    lossy_window_s: float = Field(0.3, gt=0, description="median spectral profile over this "
                                  "long (lossy mode)")
    cliff_db: float = Field(30.0, gt=0, description="a bandwidth edge: a 1 kHz band standing "
                            "this far over every band from two bands higher up")
    edge_range_db: float = Field(60.0, gt=0, description="... and within this of the strongest "
                                 "band; without such a cliff the bandwidth is the Nyquist "
                                 "frequency")
    edge_baseline_s: float = Field(10.0, gt=0, description="the bandwidth baseline is the "
                                   "median bandwidth over this long before")
    max_edge_ratio: float = Field(0.8, gt=0, lt=1, description="a bandwidth under this "
                                  "fraction of the baseline is a lossy re-encode ...")
    min_edge_drop_hz: float = Field(4000.0, ge=0, description="... at least this far under it")
    min_edge_hz: float = Field(3000.0, ge=0, description="... and at least this wide (bass "
                               "alone shows a cliff at 1-2 kHz)")
    min_cliff_fraction: float = Field(0.1, ge=0, le=1, description="the baseline is the "
                                      "median of the bandwidth cliffs seen when at least this "
                                      "share of the sounding history showed one (noise added "
                                      "on top hides a source's cliff for a while), else the "
                                      "Nyquist frequency")
    min_edge_history_s: float = Field(0.75, ge=0, description="bandwidth is judged once this "
                                      "much sounding audio gave the baseline")
    min_lossy_s: float = Field(1.0, ge=0, description="shorter bandwidth cuts are not reported "
                               "(a rendition switch or re-encode lasts seconds; a scene may "
                               "hold only dull sound for a moment)")
    max_lossy_s: float = Field(10.0, gt=0, description="a cut lasting longer is taken for a "
                               "change of source: the baseline starts again, nothing reported")
    min_sounding_db: float = Field(-45.0, le=0, description="hops quieter than this (dBFS RMS) "
                                   "are not judged for bandwidth")
    hop_s: float = Field(0.05, gt=0, le=1.0, description="analysis hop")
    min_duration_s: float = Field(0.2, ge=0, description="shorter episodes are not reported")


class DistortionDetector(Detector):
    name = "distortion"
    kind = "distortion"
    media = "audio"
    Config = DistortionConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        self._hops = HopBuffer(self.config.hop_s)
        self._tracker = EpisodeTracker(self.kind, self.name, self.config.min_duration_s,
                                       summarise=lambda s: float(np.max(s)))
        self._last: np.ndarray | None = None
        self._spectra = FrameSpectra(_FRAME)
        self._profiles = np.zeros((0, 0))   # band powers of the frames from _profiles_start on
        self._profiles_start = 0
        self._window_frames = 2
        self._edges: deque[float] = deque()
        self._band_edges: np.ndarray | None = None
        self._min_history = 2
        self._cut: dict | None = None

    def _is_cut(self, edge: float, baseline: float) -> bool:
        cfg = self.config
        return (edge >= cfg.min_edge_hz and edge <= cfg.max_edge_ratio * baseline
                and baseline - edge >= cfg.min_edge_drop_hz)

    def _bandwidths(self, ends: np.ndarray, rms_db: np.ndarray) -> list:
        """The bandwidth edge (Hz) of each of consecutive hops (hop ``k`` ends at stream sample
        ``ends[k]``), or None before the profile window is full or where the hop does not
        sound (``rms_db``).  All hops' medians and cliffs at once: the same numbers as hop by
        hop."""
        cfg = self.config
        rate = self._hops.rate or 48000
        edges: list = [None] * len(ends)
        width = self._window_frames
        avail = ends // _FRAME            # frames complete when each hop ends
        judged = np.flatnonzero((avail >= width) & (rms_db >= cfg.min_sounding_db))
        history, first = self._profiles, self._profiles_start
        if judged.size:
            windows = np.lib.stride_tricks.sliding_window_view(history, width, axis=0)
            middle = width // 2
            picked = np.sort(windows[avail[judged] - width - first], axis=-1)[..., middle]
            profile = 10 * np.log10(picked + 1e-20)
            # a cliff: a band standing cliff_db over every band from two bands higher up
            above = np.maximum.accumulate(profile[:, ::-1], axis=1)[:, ::-1]
            step = profile[:, :-2] - above[:, 2:]
            cliff = (step >= cfg.cliff_db) & (profile[:, :-2] >= profile.max(
                axis=1, keepdims=True) - cfg.edge_range_db)
            last = cliff.shape[1] - 1 - np.argmax(cliff[:, ::-1], axis=1)
            nyquist = rate / 2
            for k, has, at in zip(judged.tolist(), cliff.any(axis=1).tolist(), last.tolist()):
                edges[k] = 1000.0 * (at + 1) if has else nyquist
        # the frames the next hops can still look at
        drop = max(0, min(int(avail[-1]) - width, first + history.shape[0]) - first)
        self._profiles, self._profiles_start = history[drop:], first + drop
        return edges

    def _frames(self, chunk: AudioChunk) -> None:
        """The band powers of the frames the chunk completes, onto the profile history."""
        cfg = self.config
        rate = int(chunk.sample_rate) if self._hops.rate is None else self._hops.rate
        if self._band_edges is None:
            bins = np.arange(0, rate / 2 + 1, 1000.0) / rate * _FRAME
            self._band_edges = np.round(bins).astype(int)
            self._window_frames = max(2, round(cfg.lossy_window_s * rate / _FRAME))
            self._profiles = np.zeros((0, len(self._band_edges) - 1))
            hop = max(1, round(cfg.hop_s * rate))
            hops = max(2, round(cfg.edge_baseline_s / (hop / rate)))
            self._edges = deque(maxlen=hops)
            self._counts = np.zeros(len(self._band_edges) + 1, np.int64)
            self._min_history = max(2, round(cfg.min_edge_history_s / (hop / rate)))
        power = self._spectra.push(chunk)
        n = power.shape[0]
        if n:
            cums = np.concatenate([np.zeros((n, 1)), np.cumsum(power, axis=1)], axis=1)
            self._profiles = np.concatenate([self._profiles, cums[:, self._band_edges[1:]]
                                             - cums[:, self._band_edges[:-1]]])

    def _bandwidth(self, edge: float | None) -> tuple[float, float] | None:
        """(edge, baseline) in Hz for a hop's bandwidth edge once the baseline is known, else
        None.  Feeds the baseline while its history is short."""
        cfg = self.config
        if edge is None:
            return None
        if len(self._edges) < self._min_history:
            self._remember(edge)
            return None
        nyquist = (self._hops.rate or 48000) / 2
        counts = self._counts[:-1]      # cliffs per kHz; the last slot counts "no cliff"
        n = int(counts.sum())
        if n == 0 or n < cfg.min_cliff_fraction * len(self._edges):
            return edge, nyquist
        return edge, 1000.0 * int(np.searchsorted(np.cumsum(counts), (n + 1) // 2))

    def _remember(self, edge: float) -> None:
        """Append to the bandwidth history, keeping the per-kHz counts its median comes from."""
        if len(self._edges) == self._edges.maxlen:
            self._counts[self._slot(self._edges[0])] -= 1
        self._edges.append(edge)
        self._counts[self._slot(edge)] += 1

    def _slot(self, edge: float) -> int:
        return len(self._counts) - 1 if edge >= (self._hops.rate or 48000) / 2 else round(
            edge / 1000.0)

    def _lossy(self, t: float, band: tuple[float, float] | None) -> list[Event]:
        """The lossy-mode state machine: a cut opens a candidate, which becomes an event when
        the bandwidth comes back (so a change of source, which never comes back, is not one)."""
        cfg = self.config
        if band is None:
            return []
        edge, baseline = band
        at = t + self._hops.hop / (self._hops.rate or 48000) - cfg.lossy_window_s / 2
        if self._is_cut(edge, baseline):
            if self._cut is None:
                self._cut = {"start": at, "end": at, "edge": edge, "baseline": baseline}
            self._cut["end"] = at
            self._cut["edge"] = min(self._cut["edge"], edge)
            if at - self._cut["start"] > cfg.max_lossy_s:
                # the new bandwidth lasts: a change of source, the baseline starts again
                self._cut = None
                self._edges.clear()
                self._counts[:] = 0
                self._remember(edge)
            return []
        nyquist = (self._hops.rate or 48000) / 2
        if edge < cfg.min_edge_hz:
            return []
        self._remember(edge)
        if edge >= nyquist > baseline:
            # no cliff at all (a pause's flat noise floor, hiss over the content's own cliff)
            # says nothing of a cut's end when the content shows one
            return []
        cut, self._cut = self._cut, None
        if cut is None or at - cut["start"] < cfg.min_lossy_s:
            return []
        score = float(np.clip(1.0 - cut["edge"] / cut["baseline"], 0.5, 1.0))
        return [Event(self.kind, cut["start"], at, score, self.name,
                      details={"mode": "lossy", "min_bandwidth_hz": cut["edge"],
                               "baseline_bandwidth_hz": cut["baseline"]})]

    def feed(self, chunk: AudioChunk) -> list[Event]:
        out: list[Event] = []
        self._frames(chunk)
        for index, count, samples in self._hops.push_block(chunk):
            out += self._run(index, count, samples)
        return out

    def _run(self, index: int, count: int, samples: np.ndarray) -> list[Event]:
        """Hops ``index .. index + count - 1`` (``samples``: ``count`` hops of equal length):
        every hop's figures at once, then the decisions hop by hop."""
        cfg = self.config
        out: list[Event] = []
        hop = samples.shape[0] // count
        channels = samples.shape[1]
        prev = self._last if self._last is not None else samples[:1]
        self._last = samples[-1:].copy()
        x = samples.reshape(count, hop, channels)
        absx = np.abs(x)
        flat = absx.reshape(count, -1)
        peaks = flat.max(axis=1)
        size = hop * channels
        # float32 mean square of each hop's samples, as np.mean of the hop alone sums it
        rms = np.sqrt(np.square(x, dtype=np.float32).reshape(count, -1).mean(axis=1))
        rms_db = 20 * np.log10(np.maximum(rms.astype(np.float64), 1e-10))
        edges = self._bandwidths(index * self._hops.hop + np.arange(1, count + 1) * hop, rms_db)
        judged = np.flatnonzero(peaks >= cfg.min_peak)
        figures = {}
        if judged.size:
            ext = np.concatenate([prev, samples])
            same = (ext[1:] == ext[:-1]).reshape(count, hop, channels)
            a = absx
            if judged.size < count:
                same, a = same[judged], a[judged]
            sounding = a > 1e-3
            # runs of >= min_run identical samples: same[i] and same[i-1] (for min_run 3)
            run = same.copy()
            for k in range(1, cfg.min_run - 1):
                run[:, k:] &= same[:, :-k]
                run[:, :k] = False
            # thresholds in float32, as a Python float compared with float32 samples is
            peak = peaks[judged].astype(np.float64)
            high = a >= (cfg.plateau_level * peak).astype(np.float32)[:, None, None]
            near = a >= (0.9 * peak).astype(np.float32)[:, None, None]
            def counts(flags: np.ndarray) -> list[int]:
                return flags.reshape(len(flags), -1).view(np.uint8).sum(
                    axis=1, dtype=np.int64).tolist()

            same_sounding = same & sounding
            counted = zip(judged.tolist(), counts(same_sounding), counts(sounding),
                          counts(run & high), counts(same_sounding & ~high), counts(near))
            for k, repeats, sounds, plateau, low, at_peak in counted:
                figures[k] = (float(repeats) / max(1, sounds), float(plateau) / size,
                              float(low) / max(1, sounds), float(at_peak) / size)
        for k in range(count):
            t = self._hops.time_of(index + k)
            out += self._lossy(t, self._bandwidth(edges[k]))
            mode, score, details = None, 0.0, None
            if k in figures:
                repeat, clipped, low_repeat, near_fraction = figures[k]
                peak = float(peaks[k])
                crest = 20 * np.log10(peak / max(float(rms[k]), 1e-9))
                if low_repeat > cfg.max_repeat_fraction:
                    mode, score = "crush", min(1.0, 0.5 + low_repeat)
                elif clipped > cfg.min_clipped_fraction:
                    mode, score = "hard", min(1.0, 0.5 + 10 * clipped)
                elif near_fraction > cfg.max_near_peak_fraction and crest < cfg.max_crest_db:
                    mode, score = "soft", min(1.0, 0.5 + near_fraction)
                if mode is not None:
                    details = {"mode": mode, "max_clipped_fraction": round(clipped, 4),
                               "min_crest_db": round(crest, 2), "max_repeat_fraction":
                               round(repeat, 3), "max_near_peak_fraction": round(near_fraction, 3),
                               "max_peak": round(peak, 4)}
            out += self._tracker.update(t, mode is not None, score, details=details)
        return out

    def finish(self) -> list[Event]:
        out: list[Event] = []
        for index, _, samples in self._hops.flush():
            out += self._run(index, 1, samples)
        return out + self._tracker.finish()
