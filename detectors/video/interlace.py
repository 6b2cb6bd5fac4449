"""Interlace: combing on motion (fields of different times woven into one frame).

In a woven frame the odd rows belong to another instant than the even ones: where the picture
moves, each odd row stands out from *both* even rows around it, while those two, of the same
field, agree.  As in ffmpeg ``idet``, the test compares inter-field and intra-field differences,
at full resolution on a sample of row triples (rows ``nk, nk+1, nk+2``, n = ``row_step``): a
pixel combs when ``min(|odd - even above|, |odd - even below|)`` exceeds ``|even above - even
below|`` by ``comb_threshold`` luma levels.  A natural edge passes between the rows once (the
odd row lies between its neighbours) and does not comb; a thin horizontal line does, but it does
not move, so only pixels whose odd row changed since the previous frame (``motion_threshold``)
count.  Moving fine texture (foliage, a crowd) combs too, in up to about 1 % of the pixels; what
tells a weave is time: where the picture moves, the odd field of a frame woven from the frame
before fits that frame's even field (interpolated at the odd rows) better than its own.  A frame
combs when ``min_combed`` of the sampled pixels do and its odd field is late by
``min_lateness``, or when ``strong_combed`` do and the odd field fits this frame no better than
the last (fields of other instants; heavy grain combs too, but its odd rows fit this frame); its
region is the combing's bounding box.  Combed frames closer than ``max_gap_s`` form one episode
(combing shows only while something moves).
"""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from detectors.base import Detector, DetectorConfig, Event
from detectors.video.common import FrameClock, GapEpisodes, above
from harness.media import Frame


class InterlaceConfig(DetectorConfig):
    row_step: int = Field(8, ge=4, le=64, description="rows 0-2 of every n: the triples measured (even, odd, even)")
    comb_threshold: int = Field(12, ge=1, le=255, description="luma levels by which an odd row must stand out beyond its even neighbours' difference")
    motion_threshold: int = Field(8, ge=0, le=255, description="only pixels whose odd row changed this much since the last frame count")
    min_combed: float = Field(0.002, gt=0, lt=1, description="share of the sampled pixels that must comb ...")
    min_lateness: float = Field(1.2, gt=0, description="... with the odd field fitting the last frame's even field this many times better than this frame's ...")
    strong_combed: float = Field(0.03, gt=0, lt=1, description="... or this share combing with the odd field fitting neither frame better (fields of other instants; fine moving texture combs up to about 1 %)")
    max_gap_s: float = Field(0.5, ge=0, description="combed frames closer than this are one episode")
    min_frames: int = Field(2, ge=1, description="episodes with fewer combed frames are not reported")


class InterlaceDetector(Detector):
    name = "interlace"
    kind = "interlace"
    media = "video"
    Config = InterlaceConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self._clock = FrameClock()
        self._episodes = GapEpisodes(self.kind, self.name, cfg.max_gap_s, min_count=cfg.min_frames)
        self._previous: tuple[np.ndarray, np.ndarray] | None = None  # odd field, even between

    def feed(self, frame: Frame) -> list[Event]:
        cfg = self.config
        self._clock.update(frame.t)
        out = self._episodes.tick(frame.t)
        full = frame.gray()
        step = cfg.row_step
        n = (full.shape[0] - 1) // step
        if n < 2:
            return out
        upper, odd, lower = full[0:step * n:step], full[1:step * n:step], full[2:step * n + 1:step]
        between = cv2.addWeighted(upper, 0.5, lower, 0.5, 0.0)  # the even field at the odd rows
        previous, self._previous = self._previous, (odd.copy(), between)
        if previous is None or previous[0].shape != odd.shape:
            return out
        standout = cv2.min(cv2.absdiff(odd, upper), cv2.absdiff(odd, lower))
        same_field = cv2.absdiff(upper, lower)
        comb = above(cv2.subtract(standout, same_field), cfg.comb_threshold)
        moving = above(cv2.absdiff(odd, previous[0]), cfg.motion_threshold)
        comb = cv2.bitwise_and(comb, moving)
        share = cv2.countNonZero(comb) / comb.size
        if share < cfg.min_combed:
            return out
        # where it moves, does the odd field fit the last frame's even field better than this
        # frame's?  (woven from the frame before)  Natural texture that combs fits this one.
        late = cv2.mean(cv2.absdiff(odd, between), moving)[0] / \
            (cv2.mean(cv2.absdiff(odd, previous[1]), moving)[0] + 1e-3)
        if late < cfg.min_lateness and (share < cfg.strong_combed or late < 0.85):
            return out  # (a strong comb with the odd field fitting this frame is grain)
        x, y, w, h = cv2.boundingRect(comb)
        region = (x, step * y, w, step * (h - 1) + 3)
        return out + self._episodes.flag(frame.t, frame.t + self._clock.interval,
                                         float(min(1.0, 0.5 + 20 * share)), region=region,
                                         evidence=frame.image,
                                         details={"max_combed_share": round(share, 4),
                                                  "max_field_lateness": round(late, 3)})

    def finish(self) -> list[Event]:
        return self._episodes.finish()
