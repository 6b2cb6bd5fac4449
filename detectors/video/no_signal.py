"""No signal: the capture shows a solid colour (blue screen, grey, ...) or colour bars.

Judged on point samples of the colour picture (every ``sample_step``-th pixel of every
``sample_step``-th row, shared with ``color_range``):

- *solid*: at least ``still_solid_ratio`` of the samples lie within ``tolerance`` (each of
  B, G, R) of their median colour while the picture stays still (``still_change``: a caption
  on the slate, "No signal", may cover the rest), or ``solid_ratio`` when it changes.  Content
  is never that flat for long: even a night sky or a blank slide carries gradients, grain and
  some text; the bar of a test pattern moves over its flat field.
- *bars* (SMPTE, EBU, 75 % or 100 %): the upper ``bars_height`` of the picture is made of
  vertical stripes, each column uniform top to bottom (within ``tolerance``, for at least
  ``solid_ratio`` of the columns), changing colour in 3 to 12 clear steps across the width,
  with saturated colours among them.

Pure black (a solid colour with no channel above ``black_level``) is what a display shows both
without signal and when the device outputs black; it is reported by the ``black`` detector,
so by default it is not reported here.  Set ``report_black`` for a capture known to show black
on signal loss.  A state lasting ``min_duration_s`` is reported (a flash to white in content is
shorter).
"""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from detectors.base import DetectorConfig, Event
from detectors.episodes import EpisodeTracker
from detectors.video.common import colour_samples
from detectors.video.framewise import FramewiseDetector
from harness.media import Frame


class NoSignalConfig(DetectorConfig):
    tolerance: int = Field(14, ge=0, le=255, description="a sample within this (per channel, 0-255) of the colour it should have counts as that colour")
    still_solid_ratio: float = Field(0.95, gt=0, le=1, description="share of samples that must be uniform in a still picture (solid; a caption may cover the rest) ...")
    solid_ratio: float = Field(0.998, gt=0, le=1, description="... or in a changing one; share of columns that must be uniform (bars)")
    still_change: float = Field(1.0, ge=0, description="a picture whose downscaled luma changes by at most this (mean level) from the last is still")
    bars_height: float = Field(0.6, gt=0, le=1, description="the share of the picture, from the top, that colour bars fill")
    min_saturation: int = Field(100, ge=0, le=255, description="bars must include a colour whose max - min channel reaches this")
    black_level: int = Field(32, ge=0, le=255, description="a solid colour with no channel above this is black")
    report_black: bool = Field(False, description="also report solid black (by default black is the black detector's)")
    sample_step: int = Field(8, ge=1, le=64, description="judge every n-th pixel of every n-th row")
    analysis_width: int = Field(160, ge=16, le=7680, description="the luma pre-check runs at this width")
    min_duration_s: float = Field(0.5, ge=0, description="shorter states are not reported")
    region: tuple[int, int, int, int] | None = Field(None, description="[x, y, w, h] to look at; default whole frame")


class NoSignalDetector(FramewiseDetector):
    name = "no_signal"
    kind = "no_signal"
    media = "video"
    Config = NoSignalConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        self._styles: dict[str, EpisodeTracker] = {}
        self._previous: np.ndarray | None = None

    def _tracker_for(self, frame: Frame, style: str) -> EpisodeTracker:
        tracker = self._styles.get(style)
        if tracker is None:
            tracker = self._styles[style] = EpisodeTracker(
                self.kind, self.name, self.config.min_duration_s,
                region=self._roi.source_region(frame))
        return tracker

    def feed(self, frame: Frame) -> list[Event]:
        cfg = self.config
        style, score, details = None, 0.0, {}
        plane = self._plane(frame)
        previous, self._previous = self._previous, plane
        if flat_columns(plane, cfg.tolerance, cfg.bars_height):
            samples = self._roi.crop(frame, colour_samples(frame, cfg.sample_step))
            still = previous is not None and previous.shape == plane.shape and \
                float(cv2.norm(plane, previous, cv2.NORM_L1)) <= cfg.still_change * plane.size
            style, score, details = judge(samples, cfg, still)
        out: list[Event] = []
        for name in ("solid", "bars"):
            hit = style == name
            events = self._tracker_for(frame, name).update(
                frame.t, hit, score, evidence=frame.image if hit else None,
                details={"style": name, **details} if hit else None)
            out.extend(events)
        return out

    def finish(self) -> list[Event]:
        return [e for tracker in self._styles.values() for e in tracker.finish()]


def flat_columns(plane: np.ndarray, tolerance: int, height: float = 0.6) -> bool:
    """Cheap test on the shared downscaled luma: is the upper ``height`` of the picture made of
    columns uniform top to bottom within ``tolerance`` (as a solid colour or bars are)?  Content
    fails here, at a few microseconds a frame; ``freeze`` uses it to leave such pictures to
    ``no_signal``."""
    top = plane[: max(2, int(plane.shape[0] * height))]
    spread = cv2.subtract(cv2.reduce(top, 0, cv2.REDUCE_MAX), cv2.reduce(top, 0, cv2.REDUCE_MIN))
    return float(np.count_nonzero(spread <= tolerance)) >= 0.9 * spread.size


def judge(samples: np.ndarray, cfg: NoSignalConfig,
          still: bool = True) -> tuple[str | None, float, dict]:
    """``("solid" | "bars" | None, score, details)`` for one frame's colour samples."""
    pixels = samples.reshape(-1, 3)
    # solid: almost every sample near the median colour
    median = np.median(pixels[:: max(1, len(pixels) // 512)], axis=0)
    near = np.abs(pixels.astype(np.int16) - median.astype(np.int16)).max(axis=1) <= cfg.tolerance
    solid = float(near.mean())
    # a no-signal slate is still (a caption on it too); a test pattern or a logo moves
    if still and solid >= cfg.still_solid_ratio or solid >= cfg.solid_ratio:
        b, g, r = (float(v) for v in median)
        if max(b, g, r) <= cfg.black_level and not cfg.report_black:
            return None, 0.0, {}
        return "solid", solid, {"colour_bgr": [round(b), round(g), round(r)]}
    # bars: columns of the upper part uniform, a few clear colour steps across
    rows = max(2, int(samples.shape[0] * cfg.bars_height))
    top = samples[:rows].astype(np.int16)
    columns = np.median(top, axis=0)                                   # (w, 3)
    uniform = (np.abs(top - columns[None]).max(axis=2) <= cfg.tolerance).mean(axis=0) >= 0.9
    if float(uniform.mean()) < cfg.solid_ratio:
        return None, 0.0, {}
    steps = np.abs(np.diff(columns, axis=0)).max(axis=1) > 3 * cfg.tolerance
    edges = int(np.count_nonzero(steps & ~np.roll(steps, 1)))       # adjacent steps count once
    saturation = float((columns.max(axis=1) - columns.min(axis=1)).max())
    if 3 <= edges <= 12 and saturation >= cfg.min_saturation:
        return "bars", float(uniform.mean()), {"bars": edges + 1}
    return None, 0.0, {}
