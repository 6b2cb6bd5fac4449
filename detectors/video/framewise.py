"""Base of video detectors that judge each frame (or a region of it) and report episodes."""

from __future__ import annotations

import numpy as np

from detectors.base import Detector, Event
from detectors.episodes import EpisodeTracker
from detectors.video.regions import RegionOfInterest
from harness.media import Frame


class FramewiseDetector(Detector):
    """Subclasses' ``Config`` has ``region``, ``analysis_width`` and ``min_duration_s``."""

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        self._roi = RegionOfInterest(self.config.region)
        self._episodes: EpisodeTracker | None = None

    def _tracker(self, frame: Frame) -> EpisodeTracker:
        if self._episodes is None:
            self._episodes = EpisodeTracker(self.kind, self.name, self.config.min_duration_s,
                                            region=self._roi.source_region(frame))
        return self._episodes

    def _plane(self, frame: Frame) -> np.ndarray:
        """The frame's luma at the analysis width, cropped to the region (shared, cached)."""
        return self._roi.crop(frame, frame.gray(self.config.analysis_width))

    def finish(self) -> list[Event]:
        return self._episodes.finish() if self._episodes else []
