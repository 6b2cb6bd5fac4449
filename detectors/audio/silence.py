"""Silence: audio drops out or is muted while content should sound.

The level of each ``window_s`` window is the RMS of its loudest channel in dBFS.  A window is
silent when it is

- below ``threshold_db`` (-80 dBFS: digital silence or a mute; real programmes, pauses between
  words included, keep a noise floor well above it), or
- below ``drop_floor_db`` *and* more than ``drop_db`` under the level of the ``context_s``
  before it (a dropout into a faint residue: a fader pulled, a link lost).

Natural pauses between words sit 20-30 dB under the speech around them at -40 to -60 dBFS
and are neither.  Silent windows lasting ``min_duration_s`` are one episode; steps decide where
sound is expected.

Programme audio of digital origin holds short digital silences of its own: a note released and
gated to zero, the end of a film scene or of a track.  Two of their marks are used:

- a dropout *cuts the sound off*: 5 to 10 ms before the sound ends (the last millisecond above
  the silent level; the last 5 ms are left out, where a codec smears the cut) the level is
  within ``max_fall_db`` of the level before.  Sound that had already died away (a release, a
  fade) is content.
- a silence still running when the stream ends is reported only if it has lasted ``min_tail_s``:
  a programme may end in silence (the end of a source, encoder padding); a mute that runs on is
  reported.

Not told from a dropout: a silence the content cuts to and from abruptly (a cut between scenes
with silence at it, a rest in electronic music); steps that know the content decide there.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from pydantic import Field

from detectors.audio.common import HopBuffer, hop_mean_squares
from detectors.base import Detector, DetectorConfig, Event
from detectors.episodes import EpisodeTracker
from harness.media import AudioChunk


class SilenceConfig(DetectorConfig):
    threshold_db: float = Field(-80.0, le=0, description="windows quieter than this (dBFS RMS, "
                                "loudest channel) are silent")
    drop_db: float = Field(45.0, gt=0, description="... or quieter than drop_floor_db and this "
                           "far under the level before them")
    drop_floor_db: float = Field(-70.0, le=0, description="a drop only counts below this level")
    context_s: float = Field(1.0, gt=0, description="the level before a window is the power "
                             "mean of this long before it (silent windows left out)")
    min_duration_s: float = Field(0.25, ge=0, description="shorter gaps are not reported (cuts "
                                  "between utterances can hold digital silence for ~0.1 s)")
    max_fall_db: float = Field(20.0, gt=0, description="a silence is a dropout only if 5-10 ms "
                               "before the sound ends the level is within this of the level "
                               "before (the sound was cut off, not faded out)")
    min_tail_s: float = Field(1.0, ge=0, description="a silence running into the end of the "
                              "stream is reported only if at least this long")
    window_s: float = Field(0.02, gt=0, le=1.0)


def level_db(samples: np.ndarray) -> float:
    """RMS level of the loudest channel, dBFS (-120 for digital silence)."""
    if samples.size == 0:
        return -120.0
    rms = np.sqrt(np.mean(np.square(samples, dtype=np.float64), axis=0))
    return float(20 * np.log10(max(float(rms.max()), 1e-6)))


class SilenceDetector(Detector):
    name = "silence"
    kind = "silence"
    media = "audio"
    Config = SilenceConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self._episodes = EpisodeTracker(self.kind, self.name, cfg.min_duration_s)
        self._hops = HopBuffer(cfg.window_s)
        self._context: deque[float] = deque(maxlen=max(1, round(cfg.context_s / cfg.window_s)))
        self._context_sum = 0.0
        self._previous: deque[np.ndarray] = deque(maxlen=2)   # the last windows not silent
        self._cut = True                            # the open silence began with a cut

    def feed(self, chunk: AudioChunk) -> list[Event]:
        events: list[Event] = []
        for index, count, samples in self._hops.push_block(chunk):
            events += self._run(self._block_levels(index, count, samples))
        return events

    def _block_levels(self, index: int, count: int, samples: np.ndarray):
        """``(t, samples, power, level)`` of ``count`` complete hops from hop ``index``: every
        hop's power at once (per-channel sums in contiguous memory), decided hop by hop."""
        hop = self._hops.hop
        powers = hop_mean_squares(samples, hop).max(axis=1).astype(np.float64)
        levels = 10.0 * np.log10(np.maximum(powers, 1e-12))
        for k in range(count):
            yield (self._hops.time_of(index + k), samples[k * hop:(k + 1) * hop],
                   float(powers[k]), float(levels[k]))

    @staticmethod
    def _levels(hops):
        """``(t, samples, power, level)`` of hops one by one (the incomplete last one)."""
        for _, t, samples in hops:
            power = float(np.square(samples, dtype=np.float32).mean(axis=0).max())
            yield t, samples, power, float(10.0 * np.log10(max(power, 1e-12)))

    def _run(self, hops) -> list[Event]:
        cfg = self.config
        events: list[Event] = []
        for t, samples, power, level in hops:
            before = 10.0 * np.log10(max(self._context_sum / len(self._context), 1e-12)) \
                if self._context else -120.0
            silent = level < cfg.threshold_db or (
                level < cfg.drop_floor_db and level < before - cfg.drop_db)
            if silent and self._episodes.active_since is None:
                floor = max(cfg.threshold_db, min(cfg.drop_floor_db, before - cfg.drop_db))
                fall = _fall_db(list(self._previous) + [samples], self._hops.rate or 48000,
                                floor, before)
                self._cut = fall <= cfg.max_fall_db
            if not silent:
                if len(self._context) == self._context.maxlen:
                    self._context_sum -= self._context[0]
                self._context.append(power)
                self._context_sum = max(0.0, self._context_sum + power)
                self._previous.append(samples)
            silent = silent and self._cut
            # 1.0 for digital silence, 0.5 right at the threshold
            score = 0.5 + 0.5 * min(1.0, max(0.0, (cfg.threshold_db + 20 - level)) /
                                    max(120 + cfg.threshold_db, 1.0))
            details = {"max_level_db": round(level, 1), "min_drop_db": round(before - level, 1)} \
                if silent else None
            events += self._episodes.update(t, bool(silent), score, details=details)
        return events

    def finish(self) -> list[Event]:
        events = self._run(self._levels(self._hops.flush()))
        since = self._episodes.active_since
        tail = self._episodes.finish()
        if since is not None and self._hops.end_s - since < self.config.min_tail_s:
            tail = [e for e in tail if e.start_s != since]
        return events + tail


def _fall_db(windows: list[np.ndarray], rate: int, floor_db: float, before_db: float) -> float:
    """How far (dB) under ``before_db`` the sound was 5-10 ms before it ended in ``windows``
    (the last 1 ms block louder than ``floor_db``): 0 if it ended too early to tell."""
    x = np.concatenate(windows)
    n = max(1, round(0.001 * rate))
    count = x.shape[0] // n
    if count == 0:
        return 0.0
    power = np.square(x[:count * n], dtype=np.float32).reshape(count, n, -1).mean(axis=1)
    level = 10.0 * np.log10(np.maximum(power.max(axis=1), 1e-12))
    loud = np.flatnonzero(level > floor_db)
    if loud.size == 0 or loud[-1] + 1 < 10:
        return 0.0
    end = loud[-1] + 1
    late = float(10.0 * np.log10(max(float(power[end - 10:end - 5].mean(axis=0).max()), 1e-12)))
    return before_db - late
