"""Timestamped media: what every source yields and every detector consumes.

A :class:`Frame` carries its picture (BGR ``uint8``, as OpenCV delivers it), its
time on the session clock and its index in the source.  Derived planes (grey,
downscaled) are computed once and cached on the frame, so several detectors
sharing a frame share one conversion: one decode, one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass(eq=False)
class Frame:
    t: float
    index: int
    image: np.ndarray  # HxWx3 BGR uint8
    _planes: dict = field(default_factory=dict, repr=False)

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    def gray(self, width: int | None = None) -> np.ndarray:
        """Luma (BT.601, 0..255 uint8), optionally downscaled to ``width`` (area filter).

        Cached per width: detectors asking for the same analysis size share it.
        """
        key = ("gray", width)
        plane = self._planes.get(key)
        if plane is None:
            full = self._planes.get(("gray", None))
            if full is None:
                full = cv2.cvtColor(self.image, cv2.COLOR_BGR2GRAY)
                self._planes[("gray", None)] = full
            if width is None or width >= self.width:
                plane = full
            else:
                height = max(1, round(self.height * width / self.width))
                plane = cv2.resize(full, (width, height), interpolation=cv2.INTER_AREA)
            self._planes[key] = plane
        return plane

    def small(self, width: int) -> np.ndarray:
        """The colour picture downscaled to ``width`` (cached)."""
        key = ("bgr", width)
        plane = self._planes.get(key)
        if plane is None:
            if width >= self.width:
                plane = self.image
            else:
                height = max(1, round(self.height * width / self.width))
                plane = cv2.resize(self.image, (width, height), interpolation=cv2.INTER_AREA)
            self._planes[key] = plane
        return plane

    def cached(self, key: tuple, make) -> np.ndarray:
        """Any other derived plane: ``make(frame)`` runs once per frame and ``key``.

        For planes several detectors share beyond :meth:`gray` and :meth:`small` (colour
        samples, a horizontally downscaled luma, ...); keys are tuples naming the plane.
        """
        plane = self._planes.get(key)
        if plane is None:
            plane = make(self)
            self._planes[key] = plane
        return plane

    def release_planes(self) -> None:
        self._planes.clear()


@dataclass(eq=False)
class AudioChunk:
    """``samples`` is float32 in [-1, 1], shape (n, channels); ``t`` is the first sample's time."""

    t: float
    samples: np.ndarray
    sample_rate: int
    _derived: dict = field(default_factory=dict, init=False, repr=False)

    def cached(self, key: tuple, make):
        """Anything derived from the samples that several detectors share (the spectra of
        the frames ending in this chunk, ...): ``make(chunk)`` runs once per chunk and ``key``;
        keys are tuples naming what is derived and from what state."""
        value = self._derived.get(key)
        if value is None:
            value = make(self)
            self._derived[key] = value
        return value

    @property
    def duration(self) -> float:
        return self.samples.shape[0] / self.sample_rate

    @property
    def end(self) -> float:
        return self.t + self.duration

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int


@dataclass
class CaptureStats:
    """Counts every source keeps: nothing is dropped silently."""

    delivered: int = 0
    dropped: int = 0  # lost before the harness saw them (ring overflow, card/stream gaps)
    duplicated: int = 0  # delivered twice by the capture chain

    def as_dict(self) -> dict:
        return {"delivered": self.delivered, "dropped": self.dropped, "duplicated": self.duplicated}
