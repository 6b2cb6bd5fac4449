"""Aspect: letterbox or pillarbox bars where none are expected, a stretched or cropped picture.

Two cues, both on the downscaled luma the other detectors share:

- *Bars.*  The rows (columns) at the top and bottom (left and right) that are black and flat
  across the picture (``bar_level``, ``bar_flatness``) are measured every frame.  Players centre
  the picture, so bars count only in pairs of about equal size (``symmetry``) at least
  ``min_bar`` of the picture each, next to picture that is not itself black (a dark scene has
  dark edges, not bars).  The active area they leave is compared with ``expected_active``
  (default: the whole frame); a difference over ``tolerance`` lasting ``min_duration_s`` is an
  episode (letterbox, pillarbox, windowbox; or *missing* bars where the expected area has them,
  which means the picture was stretched or cropped to fill the frame).  Black pictures and fades
  say nothing about bars: the last verdict holds through them.
- *Geometry jumps.*  A stretch or a crop (zoom) switched on or off shows as a cut-like change
  between two frames that a pure scaling about the centre undoes: when a frame differs much
  more than usual from the one before (``jump_change``), the previous frame is scaled by each
  of a few zoom and horizontal-stretch factors (``scales``) and a factor that explains the
  change (``explained``) marks a switch: enlarging starts an episode (``stretch`` or ``zoom``),
  the inverse ends it; one seen alone is reported as a one-frame event.  A real scaling
  switched on across a scene cut, or a slow zoom (a camera zooms a few percent a second, not
  5 % in a frame), is not seen; without a reference a stretched picture cannot be told from
  content shot that way.
"""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from detectors.base import Detector, DetectorConfig, Event
from detectors.episodes import EpisodeTracker
from detectors.video.common import FrameClock, SceneCuts
from detectors.video.regions import RegionOfInterest
from harness.media import Frame


class AspectConfig(DetectorConfig):
    expected_active: tuple[int, int, int, int] | None = Field(None, description="[x, y, w, h] the picture should fill; default the whole frame")
    tolerance: float = Field(0.025, ge=0, lt=0.5, description="bars (or their absence) within this share of the frame size are as expected")
    bar_level: int = Field(28, ge=0, le=255, description="a row or column whose brightest point (luma, downscaled) is at most this ...")
    bar_flatness: int = Field(8, ge=0, le=255, description="... and whose brightest and darkest points differ by at most this is a bar line")
    min_bar: float = Field(0.03, gt=0, lt=0.5, description="bars narrower than this share of the frame are not bars")
    symmetry: float = Field(0.03, ge=0, lt=0.5, description="paired bars differ by at most this share of the frame")
    min_duration_s: float = Field(1.0, ge=0, description="shorter bar states are not reported")
    jump_change: float = Field(3.0, gt=1, description="a frame changing this many times the recent median (and 4 levels) is tested for a geometry switch")
    explained: float = Field(0.4, gt=0, lt=1, description="a scaling that leaves at most this share of the change (and no more than the usual change) explains it")
    scales: tuple[float, ...] = Field((1.05, 1.08, 1.11, 1.14, 1.18, 1.22, 1.26, 1.3, 1.35), description="zoom / stretch factors tried (and their inverses)")
    analysis_width: int = Field(160, ge=16, le=7680, description="frames are analysed downscaled to this width")
    region: tuple[int, int, int, int] | None = Field(None, description="[x, y, w, h] to look at; default whole frame")


class AspectDetector(Detector):
    name = "aspect"
    kind = "aspect"
    media = "video"
    Config = AspectConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        self._roi = RegionOfInterest(self.config.region)
        self._clock = FrameClock()
        self._bars: EpisodeTracker | None = None
        self._wrong = False                 # the last verdict on bars (held through black frames)
        self._cuts = SceneCuts(self.config.jump_change, minimum=4.0)
        self._geometry: dict | None = None  # an open stretch/zoom episode

    def feed(self, frame: Frame) -> list[Event]:
        cfg = self.config
        self._clock.update(frame.t)
        plane = self._roi.crop(frame, frame.gray(cfg.analysis_width))
        x, y, w, h = self._roi.source_region(frame)
        if self._bars is None:
            self._bars = EpisodeTracker(self.kind, self.name, cfg.min_duration_s)
        out: list[Event] = []
        was_wrong = self._wrong
        active = _active_area(plane, cfg)
        details = None
        if active is not None:
            sx, sy = w / plane.shape[1], h / plane.shape[0]
            ax, ay, aw, ah = active
            measured = (x + round(ax * sx), y + round(ay * sy), round(aw * sx), round(ah * sy))
            expected = cfg.expected_active or (x, y, w, h)
            off = max(abs(measured[0] - expected[0]) / w, abs(measured[1] - expected[1]) / h,
                      abs(measured[2] - expected[2]) / w, abs(measured[3] - expected[3]) / h)
            self._wrong = off > cfg.tolerance
            if self._wrong:
                self._bars.region = measured
                details = {"active": list(measured), "expected_active": list(expected),
                           "mode": _mode(measured, expected)}
        out += self._bars.update(frame.t, self._wrong, 1.0 if self._wrong else 0.0,
                                 evidence=frame.image if self._wrong else None, details=details)
        # bars coming or going rescale the picture too: that switch is the bars' episode
        bars = self._wrong or was_wrong
        out += self._jumps(frame, plane, (x, y, w, h), explain=not bars)
        return out

    def finish(self) -> list[Event]:
        out = self._bars.finish() if self._bars else []
        if self._geometry is not None:
            end = self._geometry["last"] + self._clock.interval
            out.append(self._geometry_event(self._geometry, end))
        return out

    # -- geometry switches --------------------------------------------------------
    def _jumps(self, frame: Frame, plane: np.ndarray, source: tuple,
               explain: bool = True) -> list[Event]:
        _, jump = self._cuts.update(plane, frame.t)
        if self._geometry is not None:
            self._geometry["last"] = frame.t
        if not jump or not explain:
            return []
        found = self._explain(plane, self._cuts.previous, self._cuts.typical)
        if found is None:
            return []
        mode, scale = found
        if scale > 1:  # the picture got enlarged: a stretch or zoom starts
            out = []
            if self._geometry is not None:
                out.append(self._geometry_event(self._geometry, frame.t))
            self._geometry = {"start": frame.t, "last": frame.t, "mode": mode, "scale": scale,
                              "frame": frame.image, "region": source}
            return out
        if self._geometry is not None and self._geometry["mode"] == mode:
            episode, self._geometry = self._geometry, None
            return [self._geometry_event(episode, frame.t)]
        # the end of a switch whose start was not seen (it came with a cut)
        return [self._geometry_event({"start": frame.t, "mode": mode, "scale": 1 / scale,
                                      "frame": frame.image, "region": source},
                                     frame.t + self._clock.interval)]

    def _explain(self, plane: np.ndarray, previous: np.ndarray,
                 typical: float) -> tuple[str, float] | None:
        """The zoom or stretch of ``previous`` about the centre that best matches ``plane``, if
        it explains the change."""
        cfg = self.config
        h, w = plane.shape
        my, mx = h // 8, w // 8  # compare inside a margin (scaling moves the borders out)
        inner = plane[my:h - my, mx:w - mx]

        def residual_of(mode: str, scale: float) -> float:
            warped = cv2.warpAffine(previous, _matrix(mode, scale, w, h), (w, h),
                                    flags=cv2.INTER_LINEAR)
            return float(cv2.norm(inner, warped[my:h - my, mx:w - mx], cv2.NORM_L1)) / inner.size

        best = min((residual_of(mode, scale), mode, scale) for mode, scale in self._candidates())
        for step in (0.012, 0.006):  # refine between the coarse factors
            _, mode, scale = best
            best = min([best] + [(residual_of(mode, scale * f), mode, scale * f)
                                 for f in (1 - step, 1 + step)])
        reference = float(cv2.norm(inner, previous[my:h - my, mx:w - mx], cv2.NORM_L1)) / inner.size
        residual, mode, scale = best
        if residual <= cfg.explained * reference and residual <= max(3.0, 2.5 * typical):
            return mode, scale
        return None

    def _candidates(self) -> list[tuple[str, float]]:
        return [(mode, scale) for s in self.config.scales for scale in (s, 1 / s)
                for mode in ("zoom", "stretch")]

    def _geometry_event(self, episode: dict, end_s: float) -> Event:
        return Event(self.kind, episode["start"], end_s, 0.8, self.name, episode["region"],
                     {"mode": episode["mode"], "scale": round(episode["scale"], 3)},
                     frame=episode["frame"])


def _matrix(mode: str, scale: float, w: int, h: int) -> np.ndarray:
    """Scaling about the centre: both ways (zoom) or horizontally (stretch)."""
    cx, cy = (w - 1) / 2, (h - 1) / 2
    sy = scale if mode == "zoom" else 1.0
    return np.float32([[scale, 0, (1 - scale) * cx], [0, sy, (1 - sy) * cy]])


def _active_area(plane: np.ndarray, cfg: AspectConfig) -> tuple[int, int, int, int] | None:
    """The area between black bars, in plane pixels; None when the picture is too dark to
    tell (black, a fade, a night scene without bars)."""
    h, w = plane.shape
    row_max = cv2.reduce(plane, 1, cv2.REDUCE_MAX).ravel()
    col_max = cv2.reduce(plane, 0, cv2.REDUCE_MAX).ravel()
    row_min = cv2.reduce(plane, 1, cv2.REDUCE_MIN).ravel()
    col_min = cv2.reduce(plane, 0, cv2.REDUCE_MIN).ravel()
    # bars are black and flat (digital black, or noise on it); a dark scene edge has texture
    dark_rows = (row_max <= cfg.bar_level) & (row_max - row_min <= cfg.bar_flatness)
    dark_cols = (col_max <= cfg.bar_level) & (col_max - col_min <= cfg.bar_flatness)
    if dark_rows.all() or dark_cols.all():
        return None
    top, bottom = _run(dark_rows), _run(dark_rows[::-1])
    left, right = _run(dark_cols), _run(dark_cols[::-1])
    top, bottom = _pair(top, bottom, h, cfg)
    left, right = _pair(left, right, w, cfg)
    if top is None or left is None:
        return None
    inner = plane[top:h - bottom, left:w - right]
    if inner.size == 0 or float(inner.max()) <= 2 * cfg.bar_level:
        return None  # nothing bright inside: too dark to tell bars from the scene
    return (left, top, w - left - right, h - top - bottom)


def _run(dark: np.ndarray) -> int:
    """Length of the run of True at the start of ``dark``."""
    stops = np.flatnonzero(~dark)
    return int(stops[0]) if stops.size else int(dark.size)


def _pair(a: int, b: int, size: int, cfg: AspectConfig) -> tuple[int | None, int | None]:
    """Bars on opposite sides: both real and about equal (a centred picture), else none;
    (None, None) when one side is dark and the other not (the scene's own darkness)."""
    least = max(1, int(np.ceil(cfg.min_bar * size)))
    if a < least and b < least:
        return 0, 0
    if abs(a - b) <= max(1, int(np.ceil(cfg.symmetry * size))) and min(a, b) >= least - 1:
        return a, b
    return None, None


def _mode(measured: tuple, expected: tuple) -> str:
    narrower = measured[2] < expected[2]
    shorter = measured[3] < expected[3]
    if narrower and shorter:
        return "windowbox"
    if shorter:
        return "letterbox"
    if narrower:
        return "pillarbox"
    return "filled"  # bars expected, none seen: stretched or cropped to fill
