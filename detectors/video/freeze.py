"""Freeze: the picture stops while it should move.

Every frame is classified as a new picture or a repeat of the last one, by the rule ``stutter``
uses too (:class:`~detectors.video.transitions.PictureChanges`, on the shared downscaled luma):
enough pixels change clearly, or a global motion fitted to the whole plane explains the change
(slow pans, dim and soft pictures move every pixel by a fraction of a pixel or a level, which a
per-pixel threshold alone takes for a still picture); a change that is a small fraction of what
the last new pictures changed, without motion, is a repeat seen through a noisy codec or
capture.  A run of repeats (a *hold*) starts at the first repeated frame and ends at the first
frame that moves; a freeze starts when the next picture was due (the first repeated frame, for
content at the capture rate; a picture interval after the last new one, for slower content).

"While it should move" is judged from the content itself:

- pictures must have kept coming before the hold: over the ``context_s`` before it (or since
  pictures were first judged: a step that starts as the picture stops has little before it;
  or since the scene's cut, when the scene has enough pictures to judge by itself),
  at least ``min_pictures``, never more than ``max_picture_gap_s`` without a new one, at a steady rate
  (no interval over ``max_interval_ratio`` times their median, plus a frame: 3:2 pulldown is
  steady; a pointer or a UI redrawing now and then is not footage), over a good part of the
  picture (``min_motion_share``: a pointer or spinner over a still screen is not footage: a
  ``region`` can watch one), and the held picture must
  not be the one of ``context_s`` before (a still picture disturbed for a moment, by damaged
  blocks or a blinking cursor, did not move on);  Static menus, slides and test cards never were
  moving; a UI animation that comes to rest after a still screen was not moving for long;
- the hold must last ``min_duration_s`` and ``hold_factor`` times the content's own picture
  interval (the median over the context): footage at 2.5 pictures/s shows each for 0.4 s;
- a hold on the first picture of a new scene (right after a cut) is also what a cut to a still
  picture looks like (a slide after a video, an end card).  It is a freeze only when the scene
  then moves on without a cut and keeps moving for ``confirm_s``: the picture was the scene's,
  and it stopped.  Such a freeze is reported ``confirm_s`` after it ends.

Pictures the ``black`` and ``no_signal`` detectors own (untextured, solid colour, colour bars)
are not judged and end a hold.  Events are reported when the hold ends (or at ``finish``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np
from pydantic import Field

from detectors.base import Event
from detectors.video.common import above
from detectors.video.framewise import FramewiseDetector
from detectors.video.no_signal import flat_columns
from detectors.video.transitions import PictureChangeConfig, PictureChanges, transition
from harness.media import Frame


class FreezeConfig(PictureChangeConfig):
    """Also the picture-change thresholds of :class:`~detectors.video.transitions.PictureChangeConfig`."""

    min_duration_s: float = Field(0.5, ge=0, description="shorter holds are left to the stutter detector")
    region: tuple[int, int, int, int] | None = Field(None, description="[x, y, w, h] to watch; default whole frame")
    context_s: float = Field(2.0, gt=0, description="how far back pictures must have kept coming before a hold")
    min_pictures: int = Field(3, ge=2, description="... at least this many new pictures in that time ...")
    max_picture_gap_s: float = Field(0.75, gt=0, description="... never longer than this without a new one (footage down to about 1.5 pictures/s)")
    max_interval_ratio: float = Field(1.5, ge=1, description="... and at a steady rate: no interval longer than this many times their median (plus one frame; 3:2 pulldown passes, sporadic UI changes do not)")
    min_motion_share: float = Field(0.02, ge=0, le=1, description="... and changing this share of the picture (median; pixels changed by change_threshold at analysis_width): a pointer or spinner moving over a still screen is not footage")
    hold_factor: float = Field(2.5, ge=1, description="a hold must last this many of the content's picture intervals (median over context_s)")
    confirm_s: float = Field(0.5, ge=0, description="a hold right after a cut is a freeze when the scene then keeps moving this long")
    flat_tolerance: int = Field(14, ge=0, le=255, description="a picture whose upper part is made of columns uniform within this (0-255; solid colour, colour bars) is no_signal's, not judged")


@dataclass
class _Hold:
    start_s: float                      # the first repeated frame
    after_cut: bool
    required_s: float
    scores: list[float] = field(default_factory=list)
    evidence: np.ndarray | None = None
    max_changed: float = 0.0
    end_s: float | None = None          # set when the hold ended (awaiting confirmation)
    due_s: float = 0.0                  # when the next picture was due: the event's start


class FreezeDetector(FramewiseDetector):
    name = "freeze"
    kind = "freeze"
    media = "video"
    Config = FreezeConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        self._previous: np.ndarray | None = None
        self._previous_index = -1
        self._changes = PictureChanges(self.config)
        self._since: float | None = None   # pictures have been judged since (not untextured)
        self._news: deque[float] = deque()  # times of new pictures, over context_s ...
        self._shares: deque[float] = deque()  # ... and the share of pixels each changed
        self._scene_start: float | None = None  # the last cut
        self._planes: deque[tuple[float, np.ndarray]] = deque()  # (t, plane) over context_s
        self._holding = False               # the last frame repeated its predecessor ...
        self._hold: _Hold | None = None     # ... in a hold that may be a freeze
        self._confirming: _Hold | None = None
        self._last_t = 0.0
        self._interval = 0.0

    def feed(self, frame: Frame) -> list[Event]:
        cfg = self.config
        if self._episodes is None:
            self._tracker(frame)  # (for the region in source pixels)
        if frame.t > self._last_t:
            self._interval = frame.t - self._last_t
        self._last_t = frame.t
        plane = self._plane(frame)
        previous, self._previous = self._previous, plane
        previous_index, self._previous_index = self._previous_index, frame.index
        if previous is None or previous.shape != plane.shape:
            return []
        change = transition(frame, plane, previous, cfg.change_threshold,
                            (cfg.analysis_width, cfg.region, previous_index))
        new = None if flat_columns(plane, cfg.flat_tolerance) else self._changes.classify(change)
        out: list[Event] = []
        if new is None:  # untextured or flat: not judged; a hold ends without a verdict on it
            out += self._end_hold(frame.t, judged=False)
            self._confirming = None
            self._since = None
            self._news.clear()
            self._shares.clear()
            self._planes.clear()
            return out
        self._planes.append((frame.t, plane))
        while self._planes[0][0] < frame.t - cfg.context_s - 1e-9:
            self._planes.popleft()
        if self._since is None:
            self._since = frame.t
        if new:
            out += self._end_hold(frame.t, judged=not self._changes.cut)
            self._news.append(frame.t)
            if self._changes.cut:
                self._scene_start = frame.t
            self._shares.append(change.changed)
            while self._news and self._news[0] < frame.t - cfg.context_s - cfg.confirm_s:
                self._news.popleft()
                self._shares.popleft()
        else:
            if not self._holding:
                self._holding = True
                self._hold = self._begin_hold(frame.t)
            if self._hold is not None:
                hold = self._hold
                # exact repeats score 1; a repeat with some change (noise, a codec) less
                hold.scores.append(1.0 - 0.5 * min(1.0, change.changed /
                                                   (2.5 * cfg.min_changed_fraction + 1e-9)))
                hold.max_changed = max(hold.max_changed, change.changed)
                if hold.evidence is None:
                    hold.evidence = frame.image
        out += self._confirm(frame.t)
        return out

    def finish(self) -> list[Event]:
        end = self._last_t + self._interval
        out = self._end_hold(end, judged=True)
        out += self._confirm(end, final=True)
        return out

    # -- holds ---------------------------------------------------------------------
    def _begin_hold(self, t: float) -> _Hold | None:
        """A hold starting at ``t``, if pictures kept coming before it (else None)."""
        cfg = self.config
        if self._since is None:
            return None
        since = max(t - cfg.context_s, self._since)
        if self._scene_start is not None and since < self._scene_start and \
                sum(1 for x in self._news if x >= self._scene_start) >= cfg.min_pictures:
            since = self._scene_start  # judge the scene since its cut by itself
        times = [x for x in self._news if x >= since]
        # (right after the start, a step that begins as the picture stops, two will do)
        needed = cfg.min_pictures if t - self._since >= cfg.context_s else 2
        if len(times) < needed:
            return None
        shares = list(self._shares)[-len(times):]
        if float(np.median(shares)) < cfg.min_motion_share:
            return None  # a pointer, a spinner, a ticker: the picture itself was not moving
        gaps = np.diff([since, *times, t])
        if float(gaps.max()) > cfg.max_picture_gap_s + 1e-9:
            return None
        held, oldest = self._planes[-1][1], self._planes[0][1]
        if cv2.countNonZero(above(cv2.absdiff(held, oldest), cfg.change_threshold - 1)) <= \
                2.5 * cfg.min_changed_fraction * held.size:
            return None  # back to the picture of context_s ago: a still picture, disturbed
        intervals = np.diff(times)
        interval = float(np.median(intervals))
        if float(intervals.max()) > cfg.max_interval_ratio * interval + self._interval + 1e-9:
            return None  # sporadic changes (a pointer, a UI redrawing now and then): not footage
        # the picture stopped when the next one was due: a picture interval after the last new
        # one (the first repeated frame, for content at the capture rate)
        due = times[-1] + max(interval, self._interval)
        return _Hold(t, self._changes.cut,
                     max(cfg.min_duration_s, cfg.hold_factor * interval) - 1e-9,
                     due_s=max(t, min(due, t + interval)))

    def _end_hold(self, t: float, judged: bool) -> list[Event]:
        """The hold (if any) ends at ``t``; ``judged``: by a picture that continues the scene."""
        hold, self._hold, self._holding = self._hold, None, False
        if hold is None or t - hold.start_s < hold.required_s:
            return []
        if not hold.after_cut:
            return [self._event(hold, t)]
        if judged and self._confirming is None:
            hold.end_s = t
            self._confirming = hold
        return []

    def _confirm(self, t: float, final: bool = False) -> list[Event]:
        """Reports a held-after-cut freeze once the scene kept moving ``confirm_s`` after it."""
        hold = self._confirming
        if hold is None or hold.end_s is None:
            return []
        cfg = self.config
        times = [x for x in self._news if x >= hold.end_s]
        gaps = np.diff([*times, t])
        if self._holding or (gaps.size and float(gaps.max()) > cfg.max_picture_gap_s):
            self._confirming = None  # it stopped again: a still scene, not a frozen one
            return []
        if t - hold.end_s < cfg.confirm_s - 1e-9 and not final:
            return []
        self._confirming = None
        if t - hold.end_s < cfg.confirm_s - 1e-9:
            return []
        return [self._event(hold, hold.end_s)]

    def _event(self, hold: _Hold, end_s: float) -> Event:
        assert self._episodes is not None
        return Event(self.kind, hold.due_s, end_s, float(np.mean(hold.scores or [1.0])),
                     self.name, self._episodes.region,
                     {"max_changed_fraction": round(hold.max_changed, 5),
                      "after_cut": hold.after_cut,
                      "required_s": round(hold.required_s, 3)}, hold.evidence)

