"""The video and audio source protocols every capture backend implements.

A source yields timestamped items in order, stamped on the session clock, and
counts what it could not deliver.  ``read`` blocks until the next item arrives
(really, or virtually for simulated sources) or the timeout passes:

* returns the next :class:`~harness.media.Frame` / :class:`~harness.media.AudioChunk`;
* returns ``None`` when nothing arrived within ``timeout_s``;
* raises :class:`EndOfStream` when a finite source (a file) is exhausted;
* raises :class:`~harness.errors.CaptureLost` when a live source dies.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from harness.media import AudioChunk, AudioInfo, CaptureStats, Frame, VideoInfo



class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndOfStream(Exception):
    """A finite source has no more items (not an error)."""


class _Source:
    """What every source shares: params, clock support, and iteration until a finite source ends."""

    Params: ClassVar[type[BaseModel]] = NoParams
    #: True when the backend can run on a VirtualClock (simulated or file sources)
    supports_virtual_clock: ClassVar[bool] = False
    live: bool = True

    def read(self, timeout_s: float | None = None):
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __iter__(self):
        while True:
            try:
                item = self.read()
            except EndOfStream:
                return
            if item is not None:
                yield item


class VideoSource(_Source):
    info: VideoInfo
    stats: CaptureStats

    def read(self, timeout_s: float | None = None) -> Frame | None:
        raise NotImplementedError


class AudioSource(_Source):
    info: AudioInfo
    stats: CaptureStats  # counted in chunks; overflows count as dropped

    def read(self, timeout_s: float | None = None) -> AudioChunk | None:
        raise NotImplementedError
