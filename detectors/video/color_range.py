"""Colour range: a limited/full range mismatch (grey blacks and dull whites, or crushed shadows
and clipped highlights).

What range a picture *should* use cannot be read off one frame: plenty of content has no true
black (a misty scene, a soft grade) or is all shadows.  What gives a mismatch away is the
switch: when the device starts (or stops) treating the signal in the wrong range, the same
picture's luma is remapped around the middle of the scale, ``y = 16 + 219/255 x`` (full shown
as limited: *washed*) or its inverse (limited shown as full: *crushed*), in one frame.  Content
does not do that: fades and exposure changes scale the luma about black, cuts change the
picture.

So on the shared downscaled luma, each frame's contrast (standard deviation) is compared with
the previous frame's.  A contrast change of ``min_change`` to ``max_change`` about a pivot in
``pivot`` (the level that stays put; about 113 for a range switch, about 0 for a fade) is
checked by a least-squares fit ``y = a + b x`` between the two frames' luma quantiles (which
motion leaves almost in place) away from the clipping ends; if the fit explains ``explained``
of their change, and a fit pixel by pixel finds the same gain (a cut to a scene with a similar
histogram would not), the tone curve switched: a squeeze starts a
washed episode (or ends a crushed one), a stretch starts a crushed episode (or ends a washed
one).  An end without a seen start (the switch came with a scene cut) is reported from that
cut (within ``max_episode_s``).  A mismatch present from the first frame, or switched on at a
cut and never off, is not seen: documented as the limit of the method.
"""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from detectors.base import Detector, DetectorConfig, Event
from detectors.video.common import FrameClock, SceneCuts
from harness.media import Frame


class ColorRangeConfig(DetectorConfig):
    min_change: float = Field(0.04, gt=0, lt=1, description="smallest contrast change (relative) of a range switch (a half-strength mismatch changes it by 7 %)")
    max_change: float = Field(0.3, gt=0, description="largest (a full mismatch changes it by 14-16 %)")
    pivot: tuple[float, float] = Field((64.0, 176.0), description="the luma a range switch leaves in place lies in this range")
    explained: float = Field(0.8, gt=0, lt=1, description="share of the change of the luma quantiles the tone-curve fit must explain ...")
    agreement: float = Field(0.08, ge=0, description="... and the gain fitted pixel by pixel must agree with it within this (motion only blurs that fit)")
    max_episode_s: float = Field(30.0, gt=0, description="an end more than this after the last cut is not traced back to it")
    analysis_width: int = Field(160, ge=16, le=7680, description="frames are analysed downscaled to this width")


class ColorRangeDetector(Detector):
    name = "color_range"
    kind = "color_range"
    media = "video"
    Config = ColorRangeConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        self._clock = FrameClock()
        self._cuts = SceneCuts()
        self._previous: tuple[np.ndarray, float, float] | None = None
        self._open: dict | None = None
        self._last_t = 0.0

    def feed(self, frame: Frame) -> list[Event]:
        cfg = self.config
        self._clock.update(frame.t)
        self._last_t = frame.t
        plane = frame.gray(cfg.analysis_width)
        _, cut = self._cuts.update(plane, frame.t)
        mean, std = (float(v[0][0]) for v in cv2.meanStdDev(plane))
        previous, self._previous = self._previous, (plane, mean, std)
        if previous is None or previous[0].shape != plane.shape or previous[2] < 4.0:
            return []
        gain = std / previous[2]
        if not cfg.min_change <= abs(gain - 1.0) <= cfg.max_change:
            return []
        pivot = (mean - gain * previous[1]) / (1.0 - gain)
        if not cfg.pivot[0] <= pivot <= cfg.pivot[1]:
            return []
        fit = _tone_fit(previous[0], plane)
        if fit is None or fit[1] < cfg.explained or \
                abs(_pixel_gain(previous[0], plane) - fit[0]) > cfg.agreement:
            return []
        gain = fit[0]
        if cut:  # a tone-curve switch changes every pixel, as a cut does; it was not one
            self._cuts.not_a_cut()
        return self._switch(frame, previous[0], "washed" if gain < 1 else "crushed",
                            abs(gain - 1.0))

    def finish(self) -> list[Event]:
        if self._open is None:
            return []
        episode, self._open = self._open, None
        return [self._event(episode, self._last_t + self._clock.interval)]

    def _switch(self, frame: Frame, before: np.ndarray, squeeze: str,
                change: float) -> list[Event]:
        undoes = {"washed": "crushed", "crushed": "washed"}[squeeze]
        if self._open is not None and self._open["mode"] == undoes:
            episode, self._open = self._open, None
            return [self._event(episode, frame.t)]
        out: list[Event] = []
        if self._open is None and self._cuts.last_cut is not None and \
                frame.t - self._cuts.last_cut <= self.config.max_episode_s and \
                _looked_wrong(before, undoes):
            out.append(self._event({"start": self._cuts.last_cut, "mode": undoes,
                                    "change": change, "frame": frame.image}, frame.t))
            return out
        if self._open is not None:
            out.append(self._event(self._open, frame.t))
        self._open = {"start": frame.t, "mode": squeeze, "change": change, "frame": frame.image}
        return out

    def _event(self, episode: dict, end_s: float) -> Event:
        return Event(self.kind, episode["start"], end_s,
                     float(np.clip(0.5 + 3 * episode["change"], 0.0, 1.0)), self.name, None,
                     {"mode": episode["mode"], "contrast_change": round(episode["change"], 3)},
                     frame=episode["frame"])


def _looked_wrong(plane: np.ndarray, mode: str) -> bool:
    """Whether a picture looks like ``mode``: a switch seen without its start may be the end of
    an episode that came in with a cut.  Washed: no black and no white at all; crushed:
    clipped at both ends."""
    low, high = np.percentile(plane, [0.5, 99.5])
    if mode == "washed":
        return bool(low >= 8 and high <= 240)
    return bool(low <= 1 and high >= 254)


def _pixel_gain(before: np.ndarray, after: np.ndarray) -> float:
    """Least-squares gain ``b`` of ``after = a + b before`` pixel by pixel, away from the ends."""
    x = before.astype(np.float32).ravel()
    y = after.astype(np.float32).ravel()
    keep = (x > 20) & (x < 235)
    x, y = x[keep], y[keep]
    if x.size < 64:
        return 0.0
    dx = x - x.mean()
    vx = float(np.dot(dx, dx))
    return float(np.dot(dx, y - y.mean())) / vx if vx > 0 else 0.0


def _tone_fit(before: np.ndarray, after: np.ndarray) -> tuple[float, float] | None:
    """Least-squares ``after = a + b before`` between the two pictures' luma quantiles (2 % to
    98 %, away from the clipping ends), which motion leaves almost in place while a tone-curve
    switch maps them all: ``(b, share of their change the fit explains)``."""
    levels = np.linspace(2, 98, 25)
    x = np.percentile(before, levels).astype(np.float64)
    y = np.percentile(after, levels).astype(np.float64)
    keep = (x > 16) & (x < 240) & (y > 4) & (y < 251)
    if np.count_nonzero(keep) < 8:
        return None
    x, y = x[keep], y[keep]
    vx = float(np.dot(x - x.mean(), x - x.mean()))
    if vx <= 0:
        return None
    b = float(np.dot(x - x.mean(), y - y.mean())) / vx
    a = float(y.mean()) - b * float(x.mean())
    change = float(np.sqrt(np.mean((y - x) ** 2)))
    residual = float(np.sqrt(np.mean((y - (a + b * x)) ** 2)))
    return b, 1.0 - residual / max(change, 1e-6)
