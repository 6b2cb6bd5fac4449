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

``details`` carry the clipped fraction, crest factor, repeat fraction and a mode guess.
Lossy-codec garble is not detected by this signal-processing detector.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from detectors.audio.common import HopBuffer
from detectors.base import Detector, DetectorConfig, Event
from detectors.episodes import EpisodeTracker
from harness.media import AudioChunk


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
    hop_s: float = Field(0.05, gt=0, le=1.0)
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

    def feed(self, chunk: AudioChunk) -> list[Event]:
        return self._run(self._hops.push(chunk))

    def _run(self, hops) -> list[Event]:
        cfg = self.config
        out: list[Event] = []
        for _, t, samples in hops:
            x = samples
            prev = self._last if self._last is not None else x[:1]
            self._last = x[-1:].copy()
            absx = np.abs(x)
            peak = float(absx.max()) if x.size else 0.0
            mode, score, details = None, 0.0, None
            if peak >= cfg.min_peak:
                same = np.concatenate([prev, x])[1:] == np.concatenate([prev, x])[:-1]
                sounding = absx > 1e-3
                repeat = float((same & sounding).sum()) / max(1, int(sounding.sum()))
                # runs of >= min_run identical samples: same[i] and same[i-1] (for min_run 3)
                run = same.copy()
                for k in range(1, cfg.min_run - 1):
                    run[k:] &= same[:-k]
                    run[:k] = False
                high = absx >= cfg.plateau_level * peak
                clipped = float((run & high).sum()) / x.size
                low_repeat = float((same & sounding & ~high).sum()) / max(1, int(sounding.sum()))
                rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float32))))
                crest = 20 * np.log10(peak / max(rms, 1e-9))
                near = float((absx >= 0.9 * peak).sum()) / x.size
                if low_repeat > cfg.max_repeat_fraction:
                    mode, score = "crush", min(1.0, 0.5 + low_repeat)
                elif clipped > cfg.min_clipped_fraction:
                    mode, score = "hard", min(1.0, 0.5 + 10 * clipped)
                elif near > cfg.max_near_peak_fraction and crest < cfg.max_crest_db:
                    mode, score = "soft", min(1.0, 0.5 + near)
                if mode is not None:
                    details = {"mode": mode, "max_clipped_fraction": round(clipped, 4),
                               "min_crest_db": round(crest, 2), "max_repeat_fraction":
                               round(repeat, 3), "max_near_peak_fraction": round(near, 3),
                               "max_peak": round(peak, 4)}
            out += self._tracker.update(t, mode is not None, score, details=details)
        return out

    def finish(self) -> list[Event]:
        return self._run(self._hops.flush()) + self._tracker.finish()
