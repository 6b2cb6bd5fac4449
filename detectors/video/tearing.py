"""Tearing: a horizontal seam where the top and the bottom belong to different frames.

A torn frame shows the new picture on one side of a seam and, on the other, still the previous
one.  Seen through frame differences (per row of the downscaled luma, the plane ``freeze`` and
``black`` share), the rows on the late side *stall*: they moved when the last picture came and
move again with the next one, but not in this frame, while the rows on the other side move now.
Clean pictures move (or hold) as a whole: a repeat stalls every row, a scene cut moves every
row, content where only part of the picture moves keeps moving rows moving.  So a frame is
torn when, among the rows that moved with the last new picture, those on one side of some row
``k`` (at least ``min_side`` of them) mostly move now and those on the other mostly stall
(``stall_ratio``, ``max_stalled_changes``, ``min_agreement``), both sides moving visibly
(``min_side_motion``: a codec skipping calm areas of a picture stalls them too, and a repeated
picture re-encoded moves a little everywhere).

Without vertical sync every frame tears and the seam moves from one frame to the next.  A seam
rolling up leaves the late rows as a *band* between this frame's seam and the last one's, with
rows moving on both sides (:func:`_stalled_band`); that counts too.  (A seam rolling down shows
no stall, only rows that moved two pictures at once; those frames are not judged.)

The test needs the next new picture, so frames are judged one new picture late.  Pictures that
repeat (cadence, pulldown) are skipped over: "the last" and "the next" picture are the nearest
that changed.  A tear that persists at one row (every frame torn) shows where it starts; each
further tear at another row, or after clean frames, shows again.  The seam is then placed
exactly, at full resolution, as the largest step of the per-row change between the last row
clearly moving now and the first stalled one (rows between them, still or barely moving, do not
tell where it is, so all of them are searched); one right on the coding grid (``grid``) is a damaged stream's lost
slice concealed with the picture before, which is ``block_corruption``'s, not a tear.  Torn
frames closer than ``max_gap_s`` form one episode; its region is the band around the seam.
"""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from detectors.base import Detector, DetectorConfig, Event
from detectors.video.common import FrameClock, GapEpisodes, above
from detectors.video.regions import RegionOfInterest
from harness.media import Frame


class TearingConfig(DetectorConfig):
    analysis_width: int = Field(160, ge=16, le=7680, description="frames are compared downscaled to this width")
    min_motion: float = Field(0.5, ge=0, description="mean luma change of a row (0-255, at the analysis width) that counts as moving")
    min_side_motion: float = Field(2.0, ge=0, description="the late side's rows moved by at least this much (median) with the last picture, the other side's with this one")
    stall_ratio: float = Field(0.35, gt=0, lt=1, description="a row stalls when it changes less than this share of its change before and after ...")
    change_threshold: int = Field(4, ge=1, le=255, description="... and at most max_stalled_changes of its pixels change by this much (luma, at the analysis width)")
    max_stalled_changes: float = Field(0.05, ge=0, lt=1, description="share of a stalled row's pixels that may change (capture noise)")
    max_jump: float = Field(3.0, gt=1, description="the next picture may change at most this many times as much as the last (more is a scene cut: no reference)")
    min_agreement: float = Field(0.8, gt=0.5, le=1, description="share of the rows on each side of the seam that must agree (stalled / moving)")
    min_side: float = Field(0.1, gt=0, lt=0.5, description="each side of the seam holds at least this share of the picture's rows that moved")
    min_band_rows: int = Field(2, ge=1, description="rows (at the analysis width) of the late band of a seam rolling up: as many as it moved since the last frame")
    max_lookahead: int = Field(6, ge=1, description="frames to wait for the next new picture before giving up on a frame")
    max_gap_s: float = Field(0.5, ge=0, description="torn frames closer than this are one episode")
    grid: int | None = Field(16, ge=2, description="seams exactly on this coding grid (rows) are a damaged stream's concealment, left to block_corruption (None: report them)")
    band: int = Field(16, ge=1, description="height (source pixels) of the reported region around the seam")
    region: tuple[int, int, int, int] | None = Field(None, description="[x, y, w, h] to watch; default whole frame")


class TearingDetector(Detector):
    name = "tearing"
    kind = "tearing"
    media = "video"
    Config = TearingConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self._roi = RegionOfInterest(cfg.region)
        self._clock = FrameClock()
        self._episodes = GapEpisodes(self.kind, self.name, cfg.max_gap_s)
        self._previous: np.ndarray | None = None
        self._previous_full: Frame | None = None
        # the last two new pictures' transitions: (time, picture, per-row mean change, per-row
        # share of changed pixels)
        self._last: tuple | None = None
        self._pending: tuple | None = None
        self._waited = 0

    def feed(self, frame: Frame) -> list[Event]:
        cfg = self.config
        self._clock.update(frame.t)
        out = self._episodes.tick(frame.t)
        plane = self._roi.crop(frame, frame.gray(cfg.analysis_width))
        previous, self._previous = self._previous, plane
        previous_full, self._previous_full = self._previous_full, frame
        if previous is None or previous.shape != plane.shape:
            self._last = self._pending = None
            return out
        diff = cv2.absdiff(plane, previous)
        rows = cv2.reduce(diff, 1, cv2.REDUCE_AVG, dtype=cv2.CV_32F).ravel()
        if float(rows.max()) < cfg.min_motion:  # a repeat: the pictures before and after decide
            if self._pending is not None:
                self._waited += 1
                if self._waited > cfg.max_lookahead:
                    self._last, self._pending = self._pending, None
            return out
        changed = cv2.reduce(above(diff, cfg.change_threshold - 1), 1,
                             cv2.REDUCE_AVG, dtype=cv2.CV_32F).ravel() / 255.0
        current = (frame.t, frame, rows, changed, previous_full)
        if self._last is not None and self._pending is not None:
            out += self._judge(self._last[2], self._pending, rows)
        if self._pending is not None:
            self._last = self._pending
        self._pending, self._waited = current, 0
        return out

    def finish(self) -> list[Event]:
        return self._episodes.finish()

    def _judge(self, before: np.ndarray, pending: tuple, after: np.ndarray) -> list[Event]:
        cfg = self.config
        t, frame, now, changed, previous_frame = pending
        if float(after.mean()) > cfg.max_jump * float(before.mean()):
            return []  # the next picture is a cut: nothing to tell a stall from
        moved = before >= cfg.min_motion  # rows that moved with the last picture
        stalled = (moved & (after >= cfg.min_motion) & (changed <= cfg.max_stalled_changes)
                   & (now < cfg.stall_ratio * np.minimum(before, after)))
        moving = moved & (now >= 0.5 * before) & ~stalled
        n_moved = int(moved.sum())
        if n_moved < 4 or not stalled.any() or not moving.any():
            return []
        min_rows = max(2, int(np.ceil(cfg.min_side * n_moved)))
        seam = _seam(moved, stalled, moving, cfg.min_agreement, min_rows)
        if seam is not None:
            k, agreement, late_below = seam
            late_rows = np.zeros_like(moved)
            late_rows[slice(k, None) if late_below else slice(0, k)] = True
            side = "bottom" if late_below else "top"
        else:
            band = _stalled_band(moved, stalled, moving, cfg.min_agreement, min_rows,
                                 cfg.min_band_rows)
            if band is None:
                return []
            k, end, agreement = band  # a seam rolling up: the rows between it and the last
            late_rows = np.zeros_like(moved)
            late_rows[k:end] = True
            side = "band"
        if float(np.median(before[late_rows & moved])) < cfg.min_side_motion or \
                float(np.median(now[~late_rows & moved])) < cfg.min_side_motion:
            return []  # a side barely moves: a codec skipping calm areas, a repeat, not a tear
        x, y, w, h = self._roi.source_region(frame)
        # the seam lies between the last row clearly moving now and the first stalled one;
        # rows between them (still, or barely moving) do not tell where: search all of them
        clear = moving & (now >= cfg.min_side_motion)
        lo, hi = (k, k) if side == "band" else _uncertain_span(clear, stalled, k, late_below)
        scale = h / now.shape[0]
        seam = _exact_row(self._roi.crop(frame, frame.gray()),
                          self._roi.crop(previous_frame, previous_frame.gray()),
                          round((lo + hi) / 2 * scale),
                          max(4, round(2 * scale + (hi - lo) / 2 * scale)))
        if cfg.grid and seam % cfg.grid == 0:
            return []  # a seam on the coding grid: a lost slice concealed (block_corruption's)
        row = y + seam
        top = max(y, row - cfg.band // 2)
        region = (x, top, w, min(y + h, row + cfg.band // 2) - top)
        return self._episodes.flag(t, t + self._clock.interval, agreement, region=region,
                                   evidence=frame.image,
                                   details={"row": row, "late_side": side})


def _exact_row(current: np.ndarray, previous: np.ndarray, estimate: int, reach: int) -> int:
    """The full-resolution row where the frame stops (or starts) changing, near ``estimate``:
    the boundary with the largest step in the per-row change."""
    lo, hi = max(1, estimate - reach), min(current.shape[0] - 1, estimate + reach)
    band = slice(max(0, lo - 4), min(current.shape[0], hi + 4))
    rows = cv2.reduce(cv2.absdiff(current[band], previous[band]), 1, cv2.REDUCE_AVG,
                      dtype=cv2.CV_32F).ravel()
    cum = np.concatenate(([0.0], np.cumsum(rows)))
    best, best_step = estimate, -1.0
    for r in range(lo, hi + 1):
        i = r - band.start
        n_above, n_below = min(4, i), min(4, len(rows) - i)
        if n_above < 1 or n_below < 1:
            continue
        step = abs((cum[i] - cum[i - n_above]) / n_above - (cum[i + n_below] - cum[i]) / n_below)
        if step > best_step:
            best, best_step = r, step
    return best


def _uncertain_span(clear: np.ndarray, stalled: np.ndarray, k: int,
                    late_below: bool) -> tuple[int, int]:
    """Rows ``[lo, hi]`` (at the analysis width; row boundaries) around the seam estimate ``k``
    in which it may lie: from the nearest row clearly moving now on the early side to the
    nearest stalled row on the late side."""
    early, late = (clear[:k][::-1], stalled[k:]) if late_below else (clear[k:], stalled[:k][::-1])
    to_early = int(np.argmax(early)) if early.any() else len(early)
    to_late = int(np.argmax(late)) if late.any() else 0
    return (k - to_early, k + to_late) if late_below else (k - to_late, k + to_early)


def _seam(moved: np.ndarray, stalled: np.ndarray, moving: np.ndarray, agreement: float,
          min_rows: int) -> tuple[int, float, bool] | None:
    """The row ``k`` splitting the moved rows into a moving side and a stalled side, each of
    ``min_rows`` moved rows at least, with ``agreement`` on both; and whether the bottom is the
    stalled (late) side.  None when no row does."""
    m = np.concatenate(([0], np.cumsum(moved)))        # moved rows above k: m[k]
    s = np.concatenate(([0], np.cumsum(stalled)))
    v = np.concatenate(([0], np.cumsum(moving)))
    total_m, total_s, total_v = m[-1], s[-1], v[-1]
    above_m, below_m = m[1:-1], total_m - m[1:-1]
    ok = (above_m >= min_rows) & (below_m >= min_rows)
    if not ok.any():
        return None
    above_m_safe, below_m_safe = np.maximum(above_m, 1), np.maximum(below_m, 1)
    best: tuple[int, float, bool] | None = None
    for late_below in (True, False):
        if late_below:
            a = v[1:-1] / above_m_safe                     # moving share above
            b = (total_s - s[1:-1]) / below_m_safe         # stalled share below
        else:
            a = s[1:-1] / above_m_safe
            b = (total_v - v[1:-1]) / below_m_safe
        score = np.where(ok, np.minimum(a, b), 0.0)
        k = int(np.argmax(score))
        if score[k] >= agreement and (best is None or score[k] > best[1]):
            best = (k + 1, float(score[k]), late_below)
    return best


def _stalled_band(moved: np.ndarray, stalled: np.ndarray, moving: np.ndarray, agreement: float,
                  min_rows: int, min_band: int) -> tuple[int, int, float] | None:
    """Rows ``[a, b)`` that stalled between rows that moved on both sides, each part holding
    ``min_rows`` moved rows at least and ``agreement`` on all three: a tear whose seam rolls up
    the picture from one frame to the next (without vertical sync it moves every frame), whose
    late rows lie between this frame's seam and the last one's: the band holds ``min_band``
    moved rows at least (as many as the seam rolled).  None when no band does."""
    m = np.concatenate(([0], np.cumsum(moved)))
    s = np.concatenate(([0], np.cumsum(stalled)))
    v = np.concatenate(([0], np.cumsum(moving)))
    n = len(moved)
    a = np.arange(1, n)[:, None]
    b = np.arange(1, n)[None, :]
    inside_m = m[b] - m[a]
    above_m, below_m = m[a], m[-1] - m[b]
    ok = (b > a) & (inside_m >= min_band) & (above_m >= min_rows) & (below_m >= min_rows)
    if not ok.any():
        return None
    stalled_in = (s[b] - s[a]) / np.maximum(inside_m, 1)
    moving_above = v[a] / np.maximum(above_m, 1)
    moving_below = (v[-1] - v[b]) / np.maximum(below_m, 1)
    score = np.where(ok, np.minimum(stalled_in, np.minimum(moving_above, moving_below)), 0.0)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    if score[i, j] < agreement:
        return None
    return int(i + 1), int(j + 1), float(score[i, j])
