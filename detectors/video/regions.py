"""Regions of interest: map a source-pixel ``[x, y, w, h]`` onto a downscaled analysis plane."""

from __future__ import annotations

import numpy as np

from harness.media import Frame


class RegionOfInterest:
    def __init__(self, region: tuple[int, int, int, int] | None) -> None:
        self.region = region

    def source_region(self, frame: Frame) -> tuple[int, int, int, int]:
        if self.region is None:
            return (0, 0, frame.width, frame.height)
        x, y, w, h = self.region
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(frame.width, x + w), min(frame.height, y + h)
        return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))

    def crop(self, frame: Frame, plane: np.ndarray) -> np.ndarray:
        """The part of ``plane`` (a possibly downscaled copy of ``frame``) inside the region."""
        if self.region is None:
            return plane
        sx = plane.shape[1] / frame.width
        sy = plane.shape[0] / frame.height
        x, y, w, h = self.source_region(frame)
        x0, y0 = int(x * sx), int(y * sy)
        x1 = max(x0 + 1, int(round((x + w) * sx)))
        y1 = max(y0 + 1, int(round((y + h) * sy)))
        return plane[y0:y1, x0:x1]
