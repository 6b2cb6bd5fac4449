"""Silence: audio drops out or is muted while content should sound.

The level of each ``window_s`` window is the RMS of its loudest channel in dBFS;
windows below ``threshold_db`` that last ``min_duration_s`` are an episode.
Quiet passages of real programmes sit well above -60 dBFS; a dropout is digital
silence or close to it.  Steps decide where sound is expected.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from detectors.base import Detector, DetectorConfig, Event
from detectors.episodes import EpisodeTracker
from harness.media import AudioChunk


class SilenceConfig(DetectorConfig):
    threshold_db: float = Field(-60.0, le=0, description="windows quieter than this (dBFS RMS) are silent")
    min_duration_s: float = Field(0.2, ge=0, description="shorter gaps are not reported")
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
        self._episodes = EpisodeTracker(self.kind, self.name, self.config.min_duration_s)
        self._pending: np.ndarray | None = None
        self._pending_t = 0.0

    def feed(self, chunk: AudioChunk) -> list[Event]:
        cfg = self.config
        rate = chunk.sample_rate
        window = max(1, round(cfg.window_s * rate))
        if self._pending is None or self._pending.shape[0] == 0:
            samples, t0 = chunk.samples, chunk.t
        else:
            samples, t0 = np.concatenate([self._pending, chunk.samples]), self._pending_t
        usable = samples.shape[0] - samples.shape[0] % window
        events: list[Event] = []
        if usable:
            blocks = samples[:usable].reshape(-1, window, samples.shape[1])
            rms = np.sqrt(np.mean(np.square(blocks, dtype=np.float64), axis=1)).max(axis=1)
            levels = 20 * np.log10(np.maximum(rms, 1e-6))
            for i, level in enumerate(levels):
                silent = level < cfg.threshold_db
                # 1.0 for digital silence, 0.5 right at the threshold
                score = 0.5 + 0.5 * min(1.0, (cfg.threshold_db - level) / max(120 + cfg.threshold_db, 1.0))
                events += self._episodes.update(t0 + i * window / rate, bool(silent), score,
                                                details={"max_level_db": round(float(level), 1)} if silent else None)
        self._pending = samples[usable:]
        self._pending_t = t0 + usable / rate
        return events

    def finish(self) -> list[Event]:
        return self._episodes.finish()
