"""How each frame differs from the one before: the measurements ``freeze`` and ``stutter`` share.

Both detectors ask, for every frame, whether it shows a new picture or repeats the last one.
They ask it of the same shared downscaled luma, and the measurements (changed pixels, mean
change, a fitted global motion) are computed once per frame and analysis setting through
:meth:`harness.media.Frame.cached`: one decode, one pass.

The global motion matters for slow pans and dim or soft pictures: they move every pixel by a
fraction of a pixel or a level or two, which a per-pixel threshold takes for a still picture,
but a least-squares translation fitted over the whole plane (as in Lucas-Kanade) measures.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from statistics import median

import cv2
import numpy as np
from pydantic import Field

from detectors.base import DetectorConfig
from detectors.video.common import above
from harness.media import Frame


class PictureChangeConfig(DetectorConfig):
    """When a frame shows a new picture: the thresholds ``freeze`` and ``stutter`` share."""

    analysis_width: int = Field(160, ge=16, le=7680, description="frames are compared downscaled to this width")
    change_threshold: int = Field(4, ge=1, le=255, description="luma step (0-255, at the analysis width) that counts a pixel as changed")
    min_changed_fraction: float = Field(0.002, ge=0, lt=1, description="a transition with 2.5 x this fraction of changed pixels shows a new picture (this fraction, with some motion: min_flow x 0.3)")
    min_flow_energy: float = Field(0.05, ge=0, description="... or whose fitted global motion explains at least this rms luma change ...")
    min_flow: float = Field(0.05, ge=0, description="... and moves at least this far (pixels at the analysis width; a repeat re-encoded by a lossy codec 'moves' about 0.02)")
    repeat_ratio: float = Field(0.2, ge=0, lt=1, description="... but a transition changing (mean and share of pixels) less than this share of the last new pictures, without motion, repeats")
    min_texture: float = Field(3.0, ge=0, description="frames with luma std below this (solid, black) are not judged")
    cut_change: float = Field(12.0, gt=0, description="a new picture changing this much (mean luma) and 3x the last ones is a scene cut")


@dataclass(frozen=True)
class Transition:
    """How a frame's luma (at an analysis width) differs from the previous frame's."""

    changed: float        # share of pixels that changed by more than the threshold
    mad: float            # mean absolute change (0-255 levels)
    flow: np.ndarray      # fitted global translation, pixels at the analysis width
    energy: float         # rms luma change that translation explains
    texture: float        # luma standard deviation of the frame

    @property
    def shift(self) -> float:
        return float(np.hypot(*self.flow))


def measure(plane: np.ndarray, previous: np.ndarray, threshold: int) -> Transition:
    """The :class:`Transition` from ``previous`` to ``plane`` (same-shaped ``uint8`` planes)."""
    diff = cv2.absdiff(plane, previous)
    changed = cv2.countNonZero(above(diff, threshold - 1)) / diff.size
    flow, energy = global_motion(plane, previous)
    return Transition(changed, float(cv2.mean(diff)[0]), flow, energy,
                      float(cv2.meanStdDev(plane)[1][0, 0]))


def transition(frame: Frame, plane: np.ndarray, previous: np.ndarray, threshold: int,
               key: tuple) -> Transition:
    """:func:`measure` of ``frame``'s ``plane`` against ``previous``, shared by every detector
    that asks with the same ``key`` (which names the plane: analysis width, region, and the
    previous frame's index) and ``threshold``."""
    return frame.cached(("transition", threshold, *key),
                        lambda _: measure(plane, previous, threshold))


def global_motion(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares translation (pixels) from ``b`` to ``a``, and the rms luma change it
    explains."""
    fa = a.astype(np.float32)
    fb = b.astype(np.float32)
    mean = cv2.addWeighted(fa, 0.5, fb, 0.5, 0.0)
    ix = cv2.Sobel(mean, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)[1:-1, 1:-1]
    iy = cv2.Sobel(mean, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)[1:-1, 1:-1]
    it = cv2.subtract(fa, fb)[1:-1, 1:-1]
    n = it.size
    sxx, syy, sxy = float(np.vdot(ix, ix)), float(np.vdot(iy, iy)), float(np.vdot(ix, iy))
    bx, by = -float(np.vdot(ix, it)), -float(np.vdot(iy, it))
    reg = 1e-3 * n
    sxx, syy = sxx + reg, syy + reg
    det = sxx * syy - sxy * sxy
    u = (syy * bx - sxy * by) / det
    w = (sxx * by - sxy * bx) / det
    energy = (u * u * sxx + w * w * syy + 2 * u * w * sxy) / n
    return np.array([u, w]), float(np.sqrt(max(energy, 0.0)))


class PictureChanges:
    """Classifies transitions as new pictures or repeats, remembering what the last new
    pictures changed (a repeat through a noisy codec changes a fraction of that) and whether
    the last new picture was a scene cut."""

    def __init__(self, cfg: PictureChangeConfig) -> None:
        self.cfg = cfg
        self._mads: deque[float] = deque(maxlen=8)     # mean change of the last new pictures
        self._shares: deque[float] = deque(maxlen=8)   # and their share of changed pixels
        self.cut = False                               # the last new picture was a scene cut

    def reset(self) -> None:
        self._mads.clear()
        self._shares.clear()
        self.cut = False

    def typical_change(self) -> float | None:
        """The median mean change of the last new pictures (None before three)."""
        return median(self._mads) if len(self._mads) >= 3 else None

    def classify(self, change: Transition) -> bool | None:
        """New picture (True), repeat (False), or not judged (None: an untextured picture)."""
        cfg = self.cfg
        if change.texture < cfg.min_texture:
            return None
        changed, shift = change.changed, change.shift
        # a lossy codec re-encoding a repeat changes a few pixels (about 0.3 %) without moving
        # anything: a little change counts only with some motion
        new = bool(changed >= 2.5 * cfg.min_changed_fraction
                   or (changed >= cfg.min_changed_fraction and shift >= 0.3 * cfg.min_flow)
                   or (change.energy >= cfg.min_flow_energy and shift >= cfg.min_flow))
        mads, shares = self._mads, self._shares
        if new and len(mads) >= 3 and shift < cfg.min_flow and \
                change.mad < cfg.repeat_ratio * median(mads) and \
                changed < min(cfg.repeat_ratio * median(shares), 10 * cfg.min_changed_fraction):
            # a repeat through a noisier codec: a fraction of what pictures change, and few
            # pixels (a ticker or a clock moving over a still picture is not noise)
            new = False
        if new:
            self.cut = len(mads) >= 3 and change.mad >= cfg.cut_change and \
                change.mad >= 3 * median(mads)
            mads.append(change.mad)
            shares.append(changed)
        return new
