"""Stutter: dropped or repeated frames, uneven cadence, broken pulldown.

Every frame-to-frame transition is classified on the downscaled luma (the plane ``freeze`` and
``black`` already use): it shows a *new* picture or *repeats* the last one.  A transition is new
when enough pixels change clearly (``change_threshold``, ``min_changed_fraction``) or when a
global motion explains a measurable part of the change (a least-squares translation fitted to
the whole plane, as in Lucas-Kanade: slow pans move every pixel by a fraction of a pixel,
which capture noise would hide from a per-pixel test, but not from a fit over all of them).
Everything else repeats; so does a change without motion that is a small fraction
(``repeat_ratio``) of what the last new pictures changed (a repeat re-encoded by a lossy
codec changes a few pixels).

The cadence is the sequence of new pictures, in capture frames.  Content at ``f`` frames/s in
a capture at ``F`` shows its k-th picture at frame ``k r + c`` (``r = F/f``), rounded: 1,1,1...
frames apart at the capture rate, 3,2,3,2 for 24 in 60, 2,2,3,2,3 for 25 in 60, a repeat every
25th frame for 24 in 25.  So the *drift* ``d_k = n_k - k r`` of the k-th new picture (at frame
``n_k``) stays within a band narrower than one frame: ``1 - 1/q`` wide for ``r = p/q``.  A
new picture that widens the band of the pictures since the last irregularity beyond that (plus
``drift_tolerance``) is an irregular step: a repeat out of pattern, a picture early or late.
The content rate is taken from ``content_fps`` or learnt per scene: the standard rate under
which the last ``window_s`` of cadence is most regular (switching only to a clearly more
regular one, since a stutter can look like another cadence: repeats every fourth frame of 30p
are 24p in 30).

Frames dropped while the cadence stays regular (content at the capture rate, a decoder
skipping a picture) show as a motion jump: when the fitted global motion of one transition is
about twice that of its neighbours, in the same direction, while they agree with each other
(``drop_ratio``; a pan, the usual case where judder is seen).

Two things keep a changing cadence from reading as judder: when the pictures since the last
irregularity are regular at the rate learnt before the current one (a 24p film after an overlay
or damaged pictures that came at every frame, or after a cut), the detector goes back to that
rate; and a "repeat" that changed a little (a quiet scene's next picture looks like that too)
counts as a new picture when the cadence has one due.

Irregular steps closer than ``max_gap_s`` form one episode; within one, the cadence is judged
again at once after a hold (the rate is known), where otherwise it settles first.  Repeats lasting ``freeze_s`` or
more are freezes (the ``freeze`` detector's), and their intervals are not judged; untextured
pictures (black, solid colour) are not judged either; nor are damaged pictures (a cluster of
corrupted blocks, ``block_corruption``'s measure over ``max_damaged_area``: a damaged stream
redraws pictures out of cadence, and the viewer sees the blocks), nor short animations (the
cadence is judged once pictures have kept coming for ``settle_s``), and after a scene cut (a
new scene may come at another rate) the rate is learnt again; the interval ending at a cut
is judged for a hold only (a decoder holding its last good picture, then showing a damaged
one, as different as a cut).  A hold after a faint picture
(motion fading out: the next pictures may change too little to tell from repeats) is not
judged either.  Episodes need ``min_steps`` irregular steps (a lone repeated picture in the
source is not judder), with pictures held too long twice, or once among two early ones: one
picture displaced by a frame is the smallest slip there is (splices and damaged pictures make
it too), and pictures that only come early, between the cadence's, are another change to a
repeated picture (blocks redrawn, fields woven, a rendition switched), not its timing.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction

import numpy as np
from pydantic import Field

from detectors.base import Detector, Event
from detectors.video.block_corruption import damaged_area
from detectors.video.common import STANDARD_FPS, FrameClock, GapEpisodes
from detectors.video.transitions import (PictureChangeConfig, PictureChanges, Transition,
                                          transition)
from detectors.video.regions import RegionOfInterest
from harness.media import Frame


class StutterConfig(PictureChangeConfig):
    """Also the picture-change thresholds of :class:`~detectors.video.transitions.PictureChangeConfig`
    (a scene cut restarts the cadence: it is learnt again)."""

    content_fps: float | None = Field(None, gt=0, description="the content's frame rate; default: learnt from the cadence")
    freeze_s: float = Field(0.5, gt=0, description="repeats lasting this long are a freeze, left to the freeze detector")
    settle_s: float = Field(0.5, ge=0, description="the cadence is judged once pictures have kept coming for this long (not in short UI animations)")
    hold_s: float = Field(0.2, gt=0, description="after a hold this long (judged, if it broke a settled cadence) the cadence must settle again")
    drift_tolerance: float = Field(0.1, ge=0, lt=1, description="frames the cadence may drift beyond its band (timestamp jitter)")
    window_s: float = Field(5.0, gt=0, description="the content rate is learnt over this much recent cadence")
    drop_ratio: float = Field(1.7, ge=0, lt=2, description="a global motion this many (to 4 - this many) times its steady neighbours', same direction, is a dropped frame (0: off)")
    max_gap_s: float = Field(0.5, ge=0, description="irregular steps closer than this are one episode")
    min_steps: int = Field(2, ge=1, description="episodes with fewer irregular steps are not reported (a lone repeated frame in the source is not judder)")
    min_duration_s: float = Field(0.0, ge=0, description="shorter episodes are not reported")
    faint_factor: float = Field(5.0, ge=1, description="a new picture changing under this many times min_changed_fraction and min_flow_energy is faint: a hold after it is not judged (motion fading out)")
    max_damaged_area: float | None = Field(0.004, ge=0, le=1, description="pictures with a cluster of corrupted blocks over this share of the picture (block_corruption's measure) are not judged, nor the cadence around them (None: judge them)")
    region: tuple[int, int, int, int] | None = Field(None, description="[x, y, w, h] to watch; default whole frame")


class StutterDetector(Detector):
    name = "stutter"
    kind = "stutter"
    media = "video"
    Config = StutterConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self._roi = RegionOfInterest(cfg.region)
        self._clock = FrameClock()
        self._episodes = GapEpisodes(self.kind, self.name, cfg.max_gap_s, min_count=cfg.min_steps,
                                     min_duration_s=cfg.min_duration_s, accept=_held)
        self._previous: np.ndarray | None = None
        self._previous_index = -1
        self._n = 0                       # transitions seen
        self._last_new: tuple[int, float] | None = None  # (transition, time), last new picture
        self._last_faint = False  # was it faint (a hold after it is not judged)
        self._run_start: float | None = None  # first new picture since pictures last stopped
        self._drift: list[float] = []        # drift of the new pictures since the last irregularity
        self._k = 0                          # new pictures since then
        self._pos = 0                        # capture frames since then
        self._history: deque[int] = deque()  # intervals over the learning window
        self._history_sum = 0
        self._ratio: float | None = None     # capture frames per content frame
        self._former_ratio: float | None = None  # the rate learnt before it (this scene or the last)
        self._since_learn = 0
        self._motion: deque[tuple[float, np.ndarray | None, float]] = deque(maxlen=9)
        self._changes = PictureChanges(cfg)
        self._region = None

    # -- per frame -------------------------------------------------------------
    def feed(self, frame: Frame) -> list[Event]:
        cfg = self.config
        self._clock.update(frame.t)
        if self._region is None:
            self._region = self._roi.source_region(frame)
        out = self._episodes.tick(frame.t)
        plane = self._roi.crop(frame, frame.gray(cfg.analysis_width))
        previous, self._previous = self._previous, plane
        previous_index, self._previous_index = self._previous_index, frame.index
        if previous is None or previous.shape != plane.shape:
            return out
        self._n += 1
        change = transition(frame, plane, previous, cfg.change_threshold,
                            (cfg.analysis_width, cfg.region, previous_index))
        new, flow = self._classify(change)
        if new is False and self._faint_change_is_due(change):
            new, flow = True, change.flow
        if new and cfg.max_damaged_area is not None and \
                damaged_area(frame) > cfg.max_damaged_area:
            new = None  # damaged pictures are redrawn out of cadence: block_corruption's
        if new is None:  # not judged: restart the cadence after it
            self._reset()
            return out
        if cfg.drop_ratio > 0:
            out += self._check_drop(frame, flow if new else None)
        if not new:
            return out
        if self._last_new is not None:
            interval = self._n - self._last_new[0]
            if interval * self._clock.interval >= cfg.freeze_s:
                self._restart()  # a freeze: its interval is not cadence
                self._run_start = frame.t
            else:
                if not self._changes.cut:  # (a cut comes whenever the edit says, not on the cadence)
                    self._learn(interval)
                settled = self._last_new[1] - self._run_start >= cfg.settle_s - 1e-9
                # (within a stutter the rate is known: the cadence is judged again at once)
                if not self._changes.cut and (settled or self._episodes.active_since is not None):
                    out += self._judge(frame, interval, self._last_new[1], self._last_faint)
                elif self._changes.cut and settled:  # a cut comes when the edit says, but
                    # the picture before it may still have been held too long (a decoder
                    # holding the last good picture, then showing a damaged one)
                    out += self._judge(frame, interval, self._last_new[1], self._last_faint,
                                       holds_only=True)
                if interval * self._clock.interval >= cfg.hold_s:
                    self._restart()
                    self._run_start = frame.t
            if self._changes.cut:  # a new scene may come at another rate: learn it afresh
                self._restart()
                self._history.clear()
                self._history_sum = 0
                self._since_learn = 1 << 30
                self._run_start = frame.t
        else:
            self._run_start = frame.t
        self._last_new = (self._n, frame.t)
        self._last_faint = change.changed < cfg.faint_factor * cfg.min_changed_fraction and \
            change.energy < cfg.faint_factor * cfg.min_flow_energy
        return out

    def finish(self) -> list[Event]:
        return self._episodes.finish()

    def _reset(self) -> None:
        self._last_new = None
        self._restart()
        self._motion.clear()
        self._changes.reset()

    def _restart(self) -> None:
        """The cadence starts again at the next new picture."""
        self._drift.clear()
        self._k = 0

    def _classify(self, change: Transition) -> tuple[bool | None, np.ndarray | None]:
        """New picture (True), repeat (False) or not judged (None); and the fitted global motion."""
        new = self._changes.classify(change)
        return new, (None if new is None else change.flow)

    # -- cadence -------------------------------------------------------------------
    def _judge(self, frame: Frame, interval: int, since_t: float, after_faint: bool,
               holds_only: bool = False) -> list[Event]:
        ratio = self._ratio
        if ratio is None:
            return []
        drift = self._drift
        if not drift:  # the cadence (re)starts at the picture before this one
            drift.append(0.0)
            self._pos, self._k = 0, 0
        self._pos += interval
        self._k += 1
        now = self._pos - self._k * ratio
        late = now > max(drift)  # held too long (else: came early)
        drift.append(now)
        band = max(drift) - min(drift)
        allowed = _band(ratio) + self.config.drift_tolerance
        if band <= allowed:
            return []
        self._restart()
        if self._back_to_former_rate():
            return []
        if (late and after_faint) or (holds_only and not late):
            return []  # motion fading out: the pictures after a faint one may be too faint to see
        step = "repeats" if late else "skips"
        return self._episodes.flag(since_t, frame.t, min(1.0, 0.6 + 0.4 * (band - allowed)),
                                   region=self._region, evidence=frame.image,
                                   details={"content_fps": round(self._clock.fps / ratio, 3),
                                            "max_interval_frames": interval,
                                            "count_" + step: 1})

    def _faint_change_is_due(self, change: Transition) -> bool:
        """A "repeat" that changed a little (a few pixels, a faint motion: a quiet scene's next
        picture looks like that too) counts as new when the cadence has a picture due now: the
        pictures since the last irregularity stay regular with it, not without it."""
        cfg = self.config
        if self._ratio is None or not self._drift or self._last_new is None or \
                (change.changed < cfg.min_changed_fraction and change.energy < cfg.min_flow_energy):
            return False
        interval = self._n - self._last_new[0]
        now = self._pos + interval - (self._k + 1) * self._ratio
        allowed = _band(self._ratio) + cfg.drift_tolerance
        return max(self._drift + [now]) - min(self._drift + [now]) <= allowed and \
            now < max(self._drift) + 1e-9  # (due: holding it back would make it late)

    def _back_to_former_rate(self) -> bool:
        """Is the latest cadence regular at the rate learnt before the current one?  Then the
        content went back to it (a 24p film after an overlay animated at the capture rate, or
        after damaged pictures came at every frame): switch back, not a stutter."""
        former = self._former_ratio
        if former is None:
            return False
        q = Fraction(former).limit_denominator(48).denominator
        recent = list(self._history)[-(q + 1):]  # a period of its cadence and one more
        if len(recent) < q + 1:
            return False
        positions = np.concatenate(([0], np.cumsum(recent)))
        drift = positions - np.arange(len(positions)) * former
        if float(drift.max() - drift.min()) > _band(former) + self.config.drift_tolerance:
            return False
        self._ratio, self._former_ratio = former, self._ratio
        return True

    def _learn(self, interval: int) -> None:
        cfg = self.config
        fps = self._clock.fps
        if cfg.content_fps is not None:
            self._ratio = max(1.0, fps / cfg.content_fps)
            return
        self._history.append(interval)
        self._history_sum += interval
        limit = max(8, round(cfg.window_s * fps))
        while self._history_sum - self._history[0] >= limit:
            self._history_sum -= self._history.popleft()
        self._since_learn += interval
        if self._ratio is not None and self._since_learn < fps * 0.5:
            return
        if self._history_sum < min(limit, max(8, fps * 0.8)) or len(self._history) < 8:
            return  # not enough cadence yet to tell the content rate
        self._since_learn = 0
        scores = _regularity(np.fromiter(self._history, np.int64), fps,
                             cfg.drift_tolerance)
        if not scores:
            return
        # the most regular; among equally regular ones (25 and 24 in 60 both are, over short
        # runs), the nearest to the mean interval
        mean = self._history_sum / len(self._history)
        best = max(scores, key=lambda r: (scores[r], -abs(mean - r)))
        # the content rate rarely changes, and a stutter looks like another cadence (repeats
        # every fourth frame of 30p are 24p in 30): switch only to a clearly more regular rate
        # (a new scene's rate is regular from its start: damaged pictures are not)
        if self._ratio is None and scores[best] < 0.6:
            return  # no rate fits yet
        if self._ratio is None or (scores[best] >= 0.9 and
                                   scores[best] >= scores.get(self._ratio, 0.0) + 0.2):
            if self._ratio is not None and best != self._ratio:
                self._former_ratio = self._ratio
            self._ratio = best

    # -- drops at a regular cadence --------------------------------------------------
    def _check_drop(self, frame: Frame, flow: np.ndarray | None) -> list[Event]:
        """Judges the middle of the last nine transitions' global motions (a repeat enters as
        None)."""
        self._motion.append((frame.t, flow, self._clock.interval))
        if len(self._motion) < self._motion.maxlen:
            return []
        entries = list(self._motion)
        mid = len(entries) // 2
        t, v, step = entries[mid]
        if v is None or self._ratio is None or self._ratio > 1.05:
            return []
        others = [e[1] for e in entries if e[1] is not None and e is not entries[mid]]
        if len(others) < 6:
            return []
        speeds = np.array([np.hypot(*o) for o in others])
        typical = float(np.median(speeds))
        if typical < 0.05 or typical > 0.5:  # too slow to see, or beyond what the fit measures
            return []
        if float(np.max(np.abs(speeds - typical))) > 0.15 * typical:
            return []  # neighbours disagree (a cadence of their own): no steady motion to judge by
        direction = np.median(np.array(others), axis=0)
        direction = direction / (np.linalg.norm(direction) + 1e-9)
        along = float(np.dot(v, direction))
        across = abs(float(v[0] * direction[1] - v[1] * direction[0]))
        ratio = self.config.drop_ratio
        if not ratio * typical <= along <= (4.0 - ratio) * typical or across > 0.25 * typical:
            return []  # not the same motion, twice as far (2 +- (2 - drop_ratio))
        return self._episodes.flag(t, t + step, 0.7, region=self._region, evidence=None,
                                   details={"count_drops": 1})


def _held(details: dict) -> bool:
    """Judder holds a picture too long somewhere (or skips one in a pan).  Pictures that only
    come early, between the cadence's, are some other change to a repeated picture (blocks
    redrawn, fields woven, a rendition switch), not the content's timing.  And one picture
    displaced by a frame (shown a frame late and the next on time, or early and then held) is
    the smallest timing slip there is, which splices and damaged pictures make too: judder
    holds pictures twice, or once among two more irregular steps."""
    holds = details.get("count_repeats", 0) + details.get("count_drops", 0)
    return holds >= 2 or (holds == 1 and details.get("count_skips", 0) >= 2)


def _band(ratio: float) -> float:
    """How wide (frames) the drift of a regular cadence at ``ratio`` capture frames per content
    frame may be: ``1 - 1/q`` for ``ratio = p/q`` (0 at an integer ratio)."""
    return 1.0 - 1.0 / Fraction(ratio).limit_denominator(48).denominator


def _regularity(intervals: np.ndarray, fps: float, tolerance: float) -> dict[float, float]:
    """For each standard ratio of capture frames per content frame, the share of ``intervals``
    (weighted by length) regular under it: intervals after which the drift of the last few
    pictures stays in its band."""
    out: dict[float, float] = {}
    positions = np.concatenate(([0], np.cumsum(intervals)))
    for ratio in sorted({fps / f for f in STANDARD_FPS if f <= fps * 1.001}):
        q = Fraction(ratio).limit_denominator(48).denominator
        span = min(len(positions), 2 * q + 2)
        drift = positions - np.arange(len(positions)) * ratio
        windows = np.lib.stride_tricks.sliding_window_view(drift, span)
        bad = (windows.max(axis=1) - windows.min(axis=1)) > _band(ratio) + tolerance
        ok = np.ones(len(intervals), bool)
        for k in np.flatnonzero(bad):  # every interval of a bad window is suspect
            ok[k:k + span - 1] = False
        out[ratio] = round(float(intervals[ok].sum()) / float(intervals.sum()), 3)
    return out
