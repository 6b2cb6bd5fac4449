"""Freeze: the picture stops while it should move.

Consecutive frames are compared on a downscaled luma plane (capture noise
averages out there); a frame "repeats" its predecessor when at most
``max_changed_fraction`` of its pixels differ by more than ``pixel_threshold``.
A run of repeats lasting ``min_duration_s`` is a freeze: it starts at the first
repeated frame (when motion was due) and ends at the first frame that moves.

"While it should move" is judged from the content itself: a run of repeats only
counts when at least ``min_prior_motion`` of the frames in the ``context_s``
before it moved.  Static menus, slides and test cards never were moving, so they
are not freezes; a film that stops is.  Near-uniform pictures (black, solid
colour) are left to ``black``/``no_signal``.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np
from pydantic import Field

from detectors.base import DetectorConfig, Event
from detectors.video.framewise import FramewiseDetector
from harness.media import Frame


class FreezeConfig(DetectorConfig):
    pixel_threshold: int = Field(12, ge=1, le=255, description="luma change (0-255) that counts as a changed pixel")
    max_changed_fraction: float = Field(0.002, ge=0, lt=1,
                                        description="a frame with at most this fraction of changed pixels repeats its predecessor")
    min_duration_s: float = Field(0.5, ge=0, description="shorter holds are left to the stutter detector")
    analysis_width: int = Field(160, ge=16, le=7680)
    min_texture: float = Field(3.0, ge=0, description="frames with luma std below this (solid/black) are not judged")
    region: tuple[int, int, int, int] | None = Field(None, description="[x, y, w, h] to watch; default whole frame")
    context_s: float = Field(1.0, gt=0, description="how far back motion is looked for before a hold")
    min_prior_motion: float = Field(0.25, ge=0, le=1,
                                    description="fraction of frames in context_s that must have moved "
                                                "(0.25 keeps content down to 1/4 of the capture rate, "
                                                "e.g. 10 fps footage in 30 fps or 3:2 pulldown, moving)")


class FreezeDetector(FramewiseDetector):
    name = "freeze"
    kind = "freeze"
    media = "video"
    Config = FreezeConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        self._previous: np.ndarray | None = None
        self._recent: deque[tuple[float, bool]] = deque()  # (t, moved) over context_s
        self._run_open = False  # the previous frame repeated its predecessor
        self._hold_counts = False  # the current run of repeats follows motion

    def feed(self, frame: Frame) -> list[Event]:
        cfg = self.config
        tracker = self._tracker(frame)
        plane = self._plane(frame)
        previous, self._previous = self._previous, plane
        if previous is None or previous.shape != plane.shape:
            return []
        diff = cv2.absdiff(plane, previous)
        changed = float(np.count_nonzero(diff > cfg.pixel_threshold)) / diff.size
        textured = float(plane.std()) >= cfg.min_texture
        repeated = textured and changed <= cfg.max_changed_fraction
        if repeated and not self._run_open:  # a hold begins: was the picture moving?
            self._hold_counts = self._moving_before(frame.t)
        self._run_open = repeated
        self._recent.append((frame.t, textured and not repeated))
        while self._recent and self._recent[0][0] < frame.t - cfg.context_s:
            self._recent.popleft()
        freezing = repeated and self._hold_counts
        score = 1.0 - changed / max(cfg.max_changed_fraction, 1e-6) * 0.5 if freezing else 0.0
        return tracker.update(frame.t, freezing, score, evidence=frame.image if freezing else None,
                              details={"max_changed_fraction": round(changed, 5)})

    def _moving_before(self, t: float) -> bool:
        window = [moved for when, moved in self._recent if when >= t - self.config.context_s]
        return len(window) >= 2 and sum(window) / len(window) >= self.config.min_prior_motion
