"""Pieces several video detectors share: cached colour samples and gap-tolerant episodes.

Planes go through :meth:`harness.media.Frame.cached`, so detectors asking for the same one in
the same frame share one computation (one decode, one pass).
"""

from __future__ import annotations

from collections import deque
from statistics import median
from typing import Any, Callable

import cv2
import numpy as np

from detectors.base import Event, Region
from detectors.episodes import _merge
from harness.media import Frame

# Frame rates content and captures come in.
STANDARD_FPS = (10.0, 12.0, 12.5, 15.0, 20.0, 23.976, 24.0, 25.0, 29.97, 30.0, 48.0, 50.0,
                59.94, 60.0, 100.0, 119.88, 120.0)


def colour_samples(frame: Frame, step: int = 8) -> np.ndarray:
    """Every ``step``-th pixel of every ``step``-th row, BGR (point samples, no filtering).

    A 1080p frame gives 135 x 240 samples for about 0.1 ms, against about 1 ms for an area
    resize of the colour picture: enough for colour statistics (solid colour, range).
    """
    return frame.cached(("bgr_samples", step),
                        lambda f: np.ascontiguousarray(f.image[::step, ::step]))


def above(plane: np.ndarray, level: float) -> np.ndarray:
    """Mask (255/0) of the pixels of a ``uint8`` plane greater than ``level``.

    ``cv2.threshold``: ``cv2.compare`` against a scalar is a hundred times slower.
    """
    return cv2.threshold(plane, level, 255, cv2.THRESH_BINARY)[1]


def union(a: Region | None, b: Region | None) -> Region | None:
    """The bounding box of two regions (either may be None)."""
    if a is None:
        return b
    if b is None:
        return a
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)


class GapEpisodes:
    """Episodes from sporadic positive frames: positives closer than ``max_gap_s`` join.

    For defects that show on some frames of an episode and not others (a stutter repeats now
    and then, a torn frame every few frames, combing only where things move): each positive
    frame is ``flag``-ged with its span; ``tick`` with every frame's time closes an episode once
    no positive came for ``max_gap_s``.  Episodes with fewer than ``min_count`` positives or
    shorter than ``min_duration_s`` are dropped, and so are those whose details ``accept``
    (if given) turns down.  The event's region is the union of the
    positives' regions, its score their max (or mean, see ``score``), its evidence the frame of
    the best-scoring positive; ``count_*`` details add up, the others merge as in
    :class:`~detectors.episodes.EpisodeTracker`.
    """

    def __init__(self, kind: str, detector: str, max_gap_s: float, min_count: int = 1,
                 min_duration_s: float = 0.0, score: str = "max",
                 accept: Callable[[dict[str, Any]], bool] | None = None) -> None:
        self.kind, self.detector = kind, detector
        self.accept = accept
        self.max_gap_s, self.min_count, self.min_duration_s = max_gap_s, min_count, min_duration_s
        self.score = score
        self._open: dict[str, Any] | None = None

    @property
    def active_since(self) -> float | None:
        return None if self._open is None else self._open["start"]

    def flag(self, t: float, end_s: float, score: float, region: Region | None = None,
             evidence: np.ndarray | None = None,
             details: dict[str, Any] | None = None) -> list[Event]:
        out = self.tick(t)
        ep = self._open
        if ep is None:
            ep = self._open = {"start": t, "end": end_s, "scores": [], "region": None,
                               "evidence": None, "best": -1.0, "details": {}}
        ep["end"] = max(ep["end"], end_s)
        ep["scores"].append(score)
        ep["region"] = union(ep["region"], region)
        if evidence is not None and score > ep["best"]:
            ep["evidence"], ep["best"] = evidence, score
        for key, value in (details or {}).items():
            old = ep["details"].get(key)
            if key.startswith("count_"):  # counts add up over the episode
                ep["details"][key] = (old or 0) + value
            else:
                ep["details"][key] = _merge(old, value, key)
        return out

    def tick(self, t: float) -> list[Event]:
        """Time has reached ``t``: close the open episode if its last positive is too old."""
        if self._open is not None and t - self._open["end"] > self.max_gap_s:
            return self._close()
        return []

    def finish(self) -> list[Event]:
        return self._close() if self._open is not None else []

    def _close(self) -> list[Event]:
        ep, self._open = self._open, None
        scores = ep["scores"]
        if len(scores) < self.min_count or ep["end"] - ep["start"] < self.min_duration_s - 1e-9:
            return []
        if self.accept is not None and not self.accept(ep["details"]):
            return []
        score = max(scores) if self.score == "max" else float(np.mean(scores))
        details = dict(ep["details"])
        details["positive_frames"] = len(scores)
        return [Event(kind=self.kind, start_s=ep["start"], end_s=ep["end"],
                      score=float(np.clip(score, 0.0, 1.0)), detector=self.detector,
                      region=ep["region"], details=details, frame=ep["evidence"])]


class FrameClock:
    """The frame rate of a stream, learnt from its timestamps.

    The mean interval over the last ``span`` frames (robust to timestamps rounded to the
    millisecond or jittering around a live capture's true rate), snapped to a standard rate
    (:data:`STANDARD_FPS`) when within 0.2 % of one.
    """

    def __init__(self, default_fps: float = 30.0, span: int = 64) -> None:
        self._times: deque[float] = deque(maxlen=span)
        self._count = 0
        self.fps = default_fps
        self.interval = 1.0 / default_fps

    def update(self, t: float) -> float:
        times = self._times
        if times and t <= times[-1]:
            return self.interval
        times.append(t)
        self._count += 1
        if len(times) >= 2 and (self._count < 64 or self._count % 16 == 0):
            fps = (len(times) - 1) / (times[-1] - times[0])
            nearest = min(STANDARD_FPS, key=lambda f: abs(f - fps))
            self.fps = nearest if abs(nearest - fps) <= 0.002 * nearest else fps
            self.interval = 1.0 / self.fps
        return self.interval


class SceneCuts:
    """Frame-to-frame change of a (downscaled) luma plane and scene cuts.

    ``update(plane, t)`` returns the mean absolute change from the previous plane (None for
    the first) and whether it is a cut: a change at least ``factor`` times the median of the
    last ``span`` changes (``typical``) and at least ``minimum`` levels.  ``previous`` is the
    plane before the current one, ``last_cut`` the time of the last cut.
    """

    def __init__(self, factor: float = 3.0, minimum: float = 6.0, span: int = 9) -> None:
        self.factor, self.minimum = factor, minimum
        self._changes: deque[float] = deque(maxlen=span)
        self._current: np.ndarray | None = None
        self.previous: np.ndarray | None = None
        self.typical: float | None = None
        self.last_cut: float | None = None
        self._before_cut: float | None = None

    def update(self, plane: np.ndarray, t: float) -> tuple[float | None, bool]:
        self.previous, self._current = self._current, plane
        previous = self.previous
        if previous is None or previous.shape != plane.shape:
            self._changes.clear()
            self.typical = None
            return None, False
        change = float(cv2.norm(plane, previous, cv2.NORM_L1)) / plane.size
        self.typical = median(self._changes) if len(self._changes) >= 3 else None
        self._changes.append(change)
        cut = self.typical is not None and change >= max(self.minimum, self.factor * self.typical)
        self._before_cut = self.last_cut
        if cut:
            self.last_cut = t
        return change, cut

    def not_a_cut(self) -> None:
        """The last change was explained otherwise (a switch of rendition): not a cut."""
        self.last_cut = self._before_cut
