"""Black frames: luma near black over almost all of the picture (or of a region).

Follows ffmpeg ``blackdetect``'s two thresholds: a pixel is black when its luma is
at most ``pixel_threshold``; a frame is black when at least ``ratio`` of its
pixels are.  Legitimate fades are content: a fade usually holds black for a
frame or two, so by default only black lasting ``min_duration_s`` is reported,
and steps decide where black is a defect.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from detectors.base import DetectorConfig, Event
from detectors.video.framewise import FramewiseDetector
from harness.media import Frame


class BlackConfig(DetectorConfig):
    pixel_threshold: int = Field(32, ge=0, le=255, description="luma (0-255) at or below which a pixel is black")
    ratio: float = Field(0.98, gt=0, le=1, description="fraction of black pixels that makes a frame black")
    min_duration_s: float = Field(0.1, ge=0, description="shorter black runs are not reported")
    analysis_width: int = Field(160, ge=16, le=7680, description="frames are analysed downscaled to this width")
    region: tuple[int, int, int, int] | None = Field(None, description="[x, y, w, h] to look at; default whole frame")


class BlackDetector(FramewiseDetector):
    name = "black"
    kind = "black"
    media = "video"
    Config = BlackConfig

    def feed(self, frame: Frame) -> list[Event]:
        cfg = self.config
        plane = self._plane(frame)
        black_fraction = float(np.count_nonzero(plane <= cfg.pixel_threshold)) / plane.size
        is_black = black_fraction >= cfg.ratio
        # score: how far below the pixel threshold the picture sits (1.0 = pure black)
        mean_luma = float(plane.mean())
        score = black_fraction * (1.0 - min(mean_luma, cfg.pixel_threshold) / (2 * cfg.pixel_threshold + 1e-9))
        return self._tracker(frame).update(
            frame.t, is_black, score, evidence=frame.image if is_black else None,
            details={"max_luma": float(plane.max()), "min_black_fraction": round(black_fraction, 4)})



def is_black(frame: Frame, **thresholds) -> bool:
    """One-frame check in the spirit of stb-tester's ``is_screen_black``."""
    detector = BlackDetector(**thresholds)
    plane = detector._plane(frame)
    cfg = detector.config
    return float(np.count_nonzero(plane <= cfg.pixel_threshold)) / plane.size >= cfg.ratio
