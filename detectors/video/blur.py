"""Blur: loss of detail (a wrong rendition, a bad upscale, a soft scaler).

How sharp a picture should be depends on the content (a soft scene, an upscaled old clip), so
detail is judged against the content's own recent level, not against an absolute scale.  The
measure is the mean luma step between neighbouring pixels at full resolution (horizontally on
every ``line_step``-th row, vertically between pairs of rows there): the finest detail, the
first to go when a picture is blurred or rendered small and scaled up.

A rendition switch changes the detail of the *same* picture from one frame to the next, which
content does not: focus pulls and motion blur come and go over several frames, and at a scene
cut the detail changes with everything else.  So:

- a frame whose detail drops, both across and down, below ``drop`` times the level of the
  frames just before it (their median over ``reference_frames``), over the whole picture (in
  ``uniform`` of its 3 x 3 areas that have detail), while the picture stays the same at low
  resolution (no cut: the luma at a quarter of ``analysis_width``, where no blur shows,
  changes no more than usual) and its brightness holds (no fade), starts a blur episode (a
  stretch loses detail only across, combing adds it only down, a menu closing loses it in
  one place);
- a rise of the same size, under the same conditions, ends it;
- a rise without an open episode means the blur came in with a scene cut: the episode is
  reported from that cut (the last one within ``max_episode_s``) to the rise.

Detail is only judged on pictures with some (``min_detail``); the score is the relative loss.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np
from pydantic import Field

from detectors.base import Detector, DetectorConfig, Event
from detectors.video.common import FrameClock, SceneCuts
from harness.media import Frame


class BlurConfig(DetectorConfig):
    drop: float = Field(0.7, gt=0, lt=1, description="detail falling below this share of the level just before is a loss (rising above its inverse, a recovery)")
    reference_frames: int = Field(5, ge=1, description="the level just before: median detail of this many frames")
    min_detail: float = Field(0.3, ge=0, description="pictures with less detail (mean luma step, either way) than this are not judged (black, flat)")
    cut_change: float = Field(3.0, gt=1, description="a frame changing (at a quarter of the analysis width) this many times the recent median, and at least 6 levels, is a cut")
    max_fade: float = Field(0.08, ge=0, description="brightness changing more than this share between frames is a fade: not judged")
    max_episode_s: float = Field(30.0, gt=0, description="a recovery more than this after the last cut is not traced back to it")
    uniform: float = Field(0.75, gt=0, le=1, description="share of the picture's areas (3 x 3, those with detail) that must lose it (or regain it)")
    line_step: int = Field(4, ge=1, le=32, description="detail is measured on every n-th row")
    analysis_width: int = Field(160, ge=16, le=7680, description="cuts are judged on the luma downscaled to this width")


class BlurDetector(Detector):
    name = "blur"
    kind = "blur"
    media = "video"
    Config = BlurConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self._clock = FrameClock()
        self._detail: deque[np.ndarray] = deque(maxlen=cfg.reference_frames)
        self._cuts = SceneCuts(cfg.cut_change)
        self._brightness: float | None = None
        self._open: dict | None = None
        self._last_t = 0.0

    def feed(self, frame: Frame) -> list[Event]:
        cfg = self.config
        self._clock.update(frame.t)
        self._last_t = frame.t
        cells = _detail_cells(frame.gray(), cfg.line_step)   # (2 directions, 9 areas)
        plane = frame.gray(cfg.analysis_width)
        brightness = float(cv2.mean(plane)[0])
        last_brightness, self._brightness = self._brightness, brightness
        reference = np.median(np.array(self._detail), axis=0) if self._detail else None
        self._detail.append(cells)
        # cuts are judged at a resolution no blur reaches (a recovery changes the fine detail)
        coarse = cv2.resize(plane, (max(8, plane.shape[1] // 4), max(8, plane.shape[0] // 4)),
                            interpolation=cv2.INTER_AREA)
        change, cut = self._cuts.update(coarse, frame.t)
        fading = last_brightness is not None and \
            abs(brightness - last_brightness) > cfg.max_fade * max(last_brightness, 8.0)
        detail = cells.mean(axis=1)
        if change is None or cut or fading or reference is None or \
                min(detail.min(), reference.mean(axis=1).min()) < cfg.min_detail:
            self._restart(cells)  # a cut, a fade, a dark or flat picture: the level starts again
            return []
        out: list[Event] = []
        if self._open is None and _changed(reference, cells, cfg):
            loss = float((1 - detail / reference.mean(axis=1)).min())
            self._open = {"start": frame.t, "frame": frame.image, "loss": loss}
            self._restart(cells)
        elif _changed(cells, reference, cfg):  # detail came back
            loss = float((1 - reference.mean(axis=1) / detail).min())
            if self._open is not None:
                episode, self._open = self._open, None
                out.append(self._event(episode["start"], frame.t, max(loss, episode["loss"]),
                                       episode["frame"]))
            elif self._cuts.last_cut is not None and \
                    frame.t - self._cuts.last_cut <= cfg.max_episode_s:
                out.append(self._event(self._cuts.last_cut, frame.t, loss, frame.image))
            self._restart(cells)
        return out

    def _restart(self, cells: np.ndarray) -> None:
        self._detail.clear()
        self._detail.append(cells)

    def finish(self) -> list[Event]:
        if self._open is None:
            return []
        episode, self._open = self._open, None
        end = self._last_t + self._clock.interval
        return [self._event(episode["start"], end, episode["loss"], episode["frame"])]

    def _event(self, start: float, end: float, loss: float, image) -> Event:
        return Event(self.kind, start, end, float(np.clip(loss, 0.0, 1.0)), self.name, None,
                     {"detail_loss": round(float(loss), 3)}, frame=image)


def _changed(before: np.ndarray, after: np.ndarray, cfg: BlurConfig) -> bool:
    """Whether the detail fell from ``before`` to ``after`` (both (2, 9)) as blur takes it: both
    ways (a stretch takes it only across, combing adds it only down), over the whole picture
    (at least ``uniform`` of the areas with detail; a menu closing or a caption going takes
    it from one place)."""
    whole = after.mean(axis=1) < cfg.drop * before.mean(axis=1)
    if not whole.all():
        return False
    textured = before.sum(axis=0) >= 2 * cfg.min_detail
    if not textured.any():
        return False
    fell = (after.sum(axis=0) < cfg.drop * before.sum(axis=0))[textured]
    return float(fell.mean()) >= cfg.uniform


def _detail_cells(full: np.ndarray, step: int) -> np.ndarray:
    """Mean luma step between neighbouring pixels across (row 0) and down (row 1), on every
    ``step``-th row and the row below it, in each of 3 x 3 areas of the picture."""
    rows = full[::step]
    below = full[1::step][: rows.shape[0]]
    rows = rows[: below.shape[0]]
    across = cv2.absdiff(rows[:, 1:], rows[:, :-1])
    down = cv2.absdiff(rows, below)
    h, w = across.shape
    ys, xs = (0, h // 3, 2 * h // 3, h), (0, w // 3, 2 * w // 3, w)
    out = np.empty((2, 9))
    for i in range(3):
        for j in range(3):
            area = (slice(ys[i], ys[i + 1]), slice(xs[j], xs[j + 1]))
            out[0, 3 * i + j] = cv2.mean(across[area])[0]
            out[1, 3 * i + j] = cv2.mean(down[area])[0]
    return out
