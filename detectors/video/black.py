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
    min_duration_s: float = Field(0.3, ge=0, description="shorter black runs are not reported (a fade "
                                  "through black holds it for a few frames, about 0.25 s at most)")
    max_chroma: float = Field(12.0, ge=0, le=255,
                              description="mean colourfulness (max-min of B,G,R) above which a dark "
                                          "picture is a coloured screen (e.g. a blue no-signal screen), not black")
    analysis_width: int = Field(160, ge=16, le=7680, description="frames are analysed downscaled to this width")
    region: tuple[int, int, int, int] | None = Field(None, description="[x, y, w, h] to look at; default whole frame")


class BlackDetector(FramewiseDetector):
    name = "black"
    kind = "black"
    media = "video"
    Config = BlackConfig

    def judge(self, frame: Frame) -> tuple[bool, float, np.ndarray]:
        """(is the frame black, fraction of black pixels, the luma plane judged)."""
        cfg = self.config
        plane = self._plane(frame)
        black_fraction = float(np.count_nonzero(plane <= cfg.pixel_threshold)) / plane.size
        if black_fraction < cfg.ratio:
            return False, black_fraction, plane
        colour = self._roi.crop(frame, frame.small(cfg.analysis_width))
        chroma = float((colour.max(axis=2).astype(np.int16) - colour.min(axis=2)).mean())
        return chroma <= cfg.max_chroma, black_fraction, plane

    def feed(self, frame: Frame) -> list[Event]:
        cfg = self.config
        is_black, black_fraction, plane = self.judge(frame)
        # score: how far below the pixel threshold the picture sits (1.0 = pure black)
        mean_luma = float(plane.mean())
        score = black_fraction * (1.0 - min(mean_luma, cfg.pixel_threshold) / (2 * cfg.pixel_threshold + 1e-9))
        return self._tracker(frame).update(
            frame.t, is_black, score, evidence=frame.image if is_black else None,
            details={"max_luma": float(plane.max()), "min_black_fraction": round(black_fraction, 4)})



def is_black(frame: Frame, **thresholds) -> bool:
    """One-frame check in the spirit of stb-tester's ``is_screen_black``."""
    return BlackDetector(**thresholds).judge(frame)[0]
