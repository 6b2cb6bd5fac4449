"""Screen conditions for ``dut.wait_for`` and ``dut.press_and_wait``.

A condition is any callable ``condition(frame) -> truthy`` (stateful ones keep
what they need between frames).  Results are truthy objects carrying time, frame
and region, so a failed ``assert`` shows the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from detectors.video.black import is_black
from detectors.video.regions import RegionOfInterest
from harness.media import Frame

ANALYSIS_WIDTH = 160


def changed_fraction(a: np.ndarray, b: np.ndarray, pixel_threshold: int) -> float:
    return float(np.count_nonzero(cv2.absdiff(a, b) > pixel_threshold)) / a.size


@dataclass
class MotionResult:
    """Truthy when motion was seen; carries the frame, time, region and the changed fraction."""

    motion: bool
    t: float
    frame: Frame
    region: tuple[int, int, int, int]
    changed_fraction: float

    def __bool__(self) -> bool:
        return self.motion


class Motion:
    """Is the picture (or a region of it) moving?  Compares each frame with the previous one."""

    def __init__(self, region: tuple[int, int, int, int] | None = None, pixel_threshold: int = 25,
                 min_changed_fraction: float = 0.002) -> None:
        self.roi = RegionOfInterest(region)
        self.pixel_threshold = pixel_threshold
        self.min_changed_fraction = min_changed_fraction
        self._previous: np.ndarray | None = None

    def reset(self, reference: Frame | None = None) -> None:
        self._previous = None if reference is None else self._plane(reference)

    def _plane(self, frame: Frame) -> np.ndarray:
        return self.roi.crop(frame, frame.gray(ANALYSIS_WIDTH))

    def __call__(self, frame: Frame) -> MotionResult:
        plane = self._plane(frame)
        previous, self._previous = self._previous, plane
        fraction = 0.0 if previous is None or previous.shape != plane.shape else \
            changed_fraction(plane, previous, self.pixel_threshold)
        return MotionResult(fraction > self.min_changed_fraction, frame.t, frame,
                            self.roi.source_region(frame), fraction)


class NotBlack:
    """True once the picture is no longer black (e.g. playback has started)."""

    def __init__(self, **thresholds: Any) -> None:
        self.thresholds = thresholds

    def __call__(self, frame: Frame) -> bool:
        return not is_black(frame, **self.thresholds)


class Black:
    def __init__(self, **thresholds: Any) -> None:
        self.thresholds = thresholds

    def __call__(self, frame: Frame) -> bool:
        return is_black(frame, **self.thresholds)


def draw_region(image: np.ndarray, region, label: str = "", color=(0, 0, 255)) -> np.ndarray:
    """A copy of ``image`` with ``region`` outlined and labelled (evidence pictures)."""
    out = image.copy()
    if region is not None:
        x, y, w, h = (int(v) for v in region)
        thickness = max(2, out.shape[1] // 400)
        cv2.rectangle(out, (x, y), (x + max(w, 1) - 1, y + max(h, 1) - 1), color, thickness)
        if label:
            scale = max(0.5, out.shape[1] / 1600)
            ty = y + int(28 * scale) if y < 40 else y - 8
            cv2.putText(out, label, (x + 6, ty), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                        thickness + 2, cv2.LINE_AA)
            cv2.putText(out, label, (x + 6, ty), cv2.FONT_HERSHEY_SIMPLEX, scale, color,
                        thickness, cv2.LINE_AA)
    return out


def draw_cells(image: np.ndarray, cells, cell_px, color=(0, 200, 255)) -> np.ndarray:
    """A copy of ``image`` with the map cells ``[row, col]`` a detector found outlined (cells of
    ``cell_px`` = [w, h] source pixels: the block-corruption CNN's corrupted cells)."""
    out = image.copy()
    cw, ch = float(cell_px[0]), float(cell_px[1])
    for row, col in cells:
        cv2.rectangle(out, (int(col * cw), int(row * ch)),
                      (min(out.shape[1] - 1, int((col + 1) * cw) - 1),
                       min(out.shape[0] - 1, int((row + 1) * ch) - 1)), color, 1)
    return out
