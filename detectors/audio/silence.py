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
"""

from __future__ import annotations

from collections import deque

import numpy as np
from pydantic import Field

from detectors.audio.common import HopBuffer
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

    def feed(self, chunk: AudioChunk) -> list[Event]:
        return self._run(self._hops.push(chunk))

    def _run(self, hops) -> list[Event]:
        cfg = self.config
        events: list[Event] = []
        for _, t, samples in hops:
            power = float(np.square(samples, dtype=np.float32).mean(axis=0).max())
            level = 10.0 * np.log10(max(power, 1e-12))
            before = 10.0 * np.log10(max(self._context_sum / len(self._context), 1e-12)) \
                if self._context else -120.0
            silent = level < cfg.threshold_db or (
                level < cfg.drop_floor_db and level < before - cfg.drop_db)
            if not silent:
                if len(self._context) == self._context.maxlen:
                    self._context_sum -= self._context[0]
                self._context.append(power)
                self._context_sum = max(0.0, self._context_sum + power)
            # 1.0 for digital silence, 0.5 right at the threshold
            score = 0.5 + 0.5 * min(1.0, max(0.0, (cfg.threshold_db + 20 - level)) /
                                    max(120 + cfg.threshold_db, 1.0))
            details = {"max_level_db": round(level, 1), "min_drop_db": round(before - level, 1)} \
                if silent else None
            events += self._episodes.update(t, bool(silent), score, details=details)
        return events

    def finish(self) -> list[Event]:
        return self._run(self._hops.flush()) + self._episodes.finish()
