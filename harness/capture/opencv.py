"""Live video through OpenCV: HDMI capture cards, network streams from HDMI encoders, files.

``params.device`` names the source:

* a V4L2 capture card by index (``0``) or path (``/dev/video0``): the profile's
  size, frame rate and ``pixel_format`` (a FOURCC such as ``MJPG``, ``YUYV``) are
  requested from the driver, then checked against what the card delivers;
* a stream URL for HDMI encoders and restreamers (``udp://``, ``rtp://``,
  ``srt://``, ``rtsp://``, ``tcp://``... anything FFmpeg opens): the stream's size
  and frame rate are checked against the profile;
* a media file, played in real time as a card would deliver it (for offline
  analysis as fast as possible use ``type: file``).

A capture thread grabs frames into a bounded :class:`~harness.capture.ring.Ring`
(``video.buffer_frames``).  Each frame is stamped on the harness clock at its
capture time: the stream's own timestamp (PTS, or the V4L2 buffer time) mapped
onto the clock through the least-delayed grab, or the grab time where the stream
carries none.  The frames a stream decoder buffered while the stream was probed
come in a burst on opening; they are stamped together with the first live frames,
so their times are right too.  Nothing is lost silently: frames pushed out of a full ring, and
gaps in the stream's timestamps, count as ``dropped``; a frame whose timestamp
repeats the previous one (a card re-sending a frame) counts as ``duplicated`` and
is not delivered again.  A live source that ends, or delivers nothing for
``stall_timeout_s``, raises :class:`~harness.errors.CaptureLost`; a file raises
:class:`~harness.capture.base.EndOfStream` at its end.

A card that keeps delivering its own "no signal" picture delivers frames: the
video detectors see it (``no_signal``); a card that stops delivering is a lost
capture.
"""

from __future__ import annotations

import re
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.capture.base import EndOfStream, VideoSource
from harness.capture.ring import ClockMapper, FormatMismatch, Ring
from harness.clock import RealClock
from harness.errors import BadInput, CaptureLost
from harness.media import CaptureStats, Frame, VideoInfo

if TYPE_CHECKING:
    from harness.profile import VideoSpec
    from harness.rig import Rig

SourceKind = Literal["v4l2", "stream", "file"]
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
#: frames of history the timestamp mapping keeps (about 10 s at 60 fps)
_MAPPING_WINDOW = 600
_OPENCV_LOG_ERROR = 2  # cv2.setLogLevel: errors only


class OpenCVParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: int | str = Field(description="V4L2 index (0) or path (/dev/video0), a stream URL "
                              "(udp://, rtp://, srt://, rtsp://, tcp://...), or a media file")
    pixel_format: str | None = Field(None, description="V4L2 FOURCC to request and verify, "
                                     "e.g. MJPG, YUYV, NV12 (capture cards only)")
    open_timeout_s: float = Field(10.0, gt=0, le=120, description="opening the device or stream")
    stall_timeout_s: float = Field(2.0, gt=0, le=120,
                                   description="no frame for this long is a lost capture")
    fps_tolerance: float = Field(0.01, ge=0, lt=1,
                                 description="relative frame-rate difference accepted (59.94 for 60)")

    @field_validator("pixel_format")
    @classmethod
    def _fourcc(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 4 or not value.isascii()):
            raise ValueError(f"a pixel format is a 4-character FOURCC such as MJPG or YUYV, got {value!r}")
        return value


def source_kind(device: int | str) -> SourceKind:
    """What ``device`` names: a V4L2 card (index or /dev path), a stream URL, or a file."""
    if isinstance(device, int) or (isinstance(device, str) and device.isdigit()):
        return "v4l2"
    if device.startswith("/dev/"):
        return "v4l2"
    if _URL.match(device):
        return "stream"
    return "file"


def is_live_source(name: str) -> bool:
    """True for a capture device or stream URL (not an existing file)."""
    return not Path(name).is_file() and source_kind(name) != "file"


@dataclass(frozen=True)
class VideoFormat:
    width: int
    height: int
    fps: float
    pixel_format: str | None = None

    def __str__(self) -> str:
        text = f"{self.width}x{self.height} @ {self.fps:g} fps"
        return f"{text} {self.pixel_format}" if self.pixel_format else text


def check_format(where: str, requested: VideoFormat, delivered: VideoFormat,
                 fps_tolerance: float = 0.01) -> None:
    """Raise :class:`FormatMismatch` naming both formats when ``delivered`` is not ``requested``.

    The frame rate is compared with a relative tolerance (59.94 passes for 60) and
    only when the source reports one; the pixel format only when one was requested.
    """
    wrong = (requested.width, requested.height) != (delivered.width, delivered.height)
    if delivered.fps > 0 and abs(delivered.fps - requested.fps) > fps_tolerance * requested.fps:
        wrong = True
    if requested.pixel_format and delivered.pixel_format != requested.pixel_format:
        wrong = True
    if wrong:
        raise FormatMismatch(
            f"{where}: requested {requested}, but it delivers {delivered} (fix: set the profile's "
            f"video width/height/fps/params.pixel_format to a mode the source sends, or switch "
            f"the source to the requested mode)")


def _fourcc_text(code: float) -> str | None:
    value = int(code)
    if value <= 0:
        return None
    text = "".join(chr((value >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() else None


class Grabbed(NamedTuple):
    """A frame as grabbed: its picture, its stream time (s) and its arrival on time.monotonic()."""

    image: np.ndarray
    pts: float
    arrival: float


@dataclass(frozen=True)
class Stamp:
    """What a frame's stream timestamp says: frames missing before it, a repeat, or no timestamp."""

    missing: int = 0
    duplicate: bool = False
    timed: bool = True


class FrameTimeline:
    """Capture times of frames from their stream timestamps, and what the timestamps reveal.

    ``observe(pts, arrival)`` records a frame and tells how many frames are missing
    before it (a gap of more than one frame period) or that it repeats the previous
    timestamp (a duplicate); ``capture_time`` then gives its capture time on
    ``time.monotonic()``: the stream time mapped through a :class:`ClockMapper`.  A
    frame without a timestamp (0 after the first) is stamped at arrival; a jump of
    the stream clock restarts the mapping and is not counted as missing frames.
    """

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self._mapper = ClockMapper(_MAPPING_WINDOW)
        self._last_pts: float | None = None

    def observe(self, pts: float, arrival: float) -> Stamp:
        if self._last_pts is not None and pts <= 0:
            return Stamp(timed=False)
        if pts == self._last_pts:
            return Stamp(duplicate=True)
        jumped = self._mapper.observe(pts, arrival)
        missing = 0
        if self._last_pts is not None and not jumped and self.fps > 0:
            missing = max(0, round((pts - self._last_pts) * self.fps) - 1)
        self._last_pts = pts
        return Stamp(missing=missing)

    def capture_time(self, pts: float, arrival: float, stamp: Stamp) -> float:
        return self._mapper.to_monotonic(pts) if stamp.timed else arrival


class OpenCVVideoSource(VideoSource):
    """A capture card, a stream or a file read by OpenCV in a capture thread (see the module doc)."""

    Params = OpenCVParams

    def __init__(self, spec: "VideoSpec | None" = None, rig: "Rig | None" = None, *,
                 params: OpenCVParams | None = None, clock: RealClock | None = None,
                 buffer_frames: int = 120) -> None:
        requested: VideoFormat | None = None
        if spec is not None:
            params = self.Params.model_validate(spec.params)
            requested = VideoFormat(spec.width, spec.height, spec.fps, params.pixel_format)
            buffer_frames = spec.buffer_frames
        if params is None:
            raise TypeError("OpenCVVideoSource needs a profile's video spec or params")
        session_clock = rig.clock if rig is not None else clock
        if not isinstance(session_clock, RealClock):
            raise BadInput("the opencv capture backend runs on the real clock (it captures live)")
        self.params = params
        self.clock = session_clock
        self.kind: SourceKind = source_kind(params.device)
        self.live = self.kind != "file"
        self.name = str(params.device)
        self.stats = CaptureStats()
        self._stall_s = params.stall_timeout_s
        cap = self._open(requested)
        try:
            first = self._grab(cap)
            if first is None:
                raise CaptureLost(f"video capture {self.name}: opened, but no frame arrived within "
                                  f"{params.open_timeout_s:g} s (is the source sending?)")
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            fourcc = _fourcc_text(cap.get(cv2.CAP_PROP_FOURCC)) if self.kind == "v4l2" else None
            delivered = VideoFormat(int(first.image.shape[1]), int(first.image.shape[0]), fps, fourcc)
            if requested is not None:
                check_format(f"video capture {self.name}", requested, delivered, params.fps_tolerance)
        except BaseException:
            cap.release()
            raise
        #: what the source actually delivers, e.g. "1920x1080 @ 59.94 fps MJPG"
        self.delivered = delivered
        self.info = VideoInfo(delivered.width, delivered.height, fps or (requested.fps if requested else 0.0))
        self._ring: Ring[Frame] = Ring(buffer_frames, block=not self.live)
        self._timeline = FrameTimeline(self.info.fps)
        self._last_t: float | None = None
        self._position = 0
        self._pace_origin: float | None = None  # files: monotonic time of PTS 0
        self._stop = threading.Event()
        try:
            if self.live:
                self._accept(self._catch_up(cap, first, buffer_frames))
            else:
                self._accept([first._replace(arrival=self._pace(first.pts))])
        except BaseException:
            cap.release()
            raise
        self._thread = threading.Thread(target=self._run, args=(cap,), daemon=True,
                                        name=f"capture {self.name}")
        self._thread.start()

    @classmethod
    def open(cls, device: int | str, clock: RealClock | None = None, **params) -> "OpenCVVideoSource":
        """A source for ``harness analyze``: whatever format the device or stream delivers."""
        return cls(params=OpenCVParams(device=device, **params), clock=clock or RealClock())

    # -- opening ------------------------------------------------------------
    def _open(self, requested: VideoFormat | None) -> cv2.VideoCapture:
        """Open the device or stream; its failures are reported by our errors, not OpenCV's log."""
        level = cv2.getLogLevel()
        cv2.setLogLevel(_OPENCV_LOG_ERROR)
        try:
            return self._open_quietly(requested)
        finally:
            cv2.setLogLevel(level)

    def _open_quietly(self, requested: VideoFormat | None) -> cv2.VideoCapture:
        params = self.params
        if self.kind == "v4l2":
            target: int | str = int(params.device) if str(params.device).isdigit() else str(params.device)
            cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
            if not cap.isOpened():
                raise CaptureLost(f"video capture {self.name}: V4L2 cannot open it (is the card "
                                  f"plugged in, and is the index or path right? `v4l2-ctl "
                                  f"--list-devices` lists them)")
            if requested is not None:
                if requested.pixel_format:
                    cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*requested.pixel_format))
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, requested.width)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, requested.height)
                cap.set(cv2.CAP_PROP_FPS, requested.fps)
            return cap
        if self.kind == "file" and not Path(self.name).is_file():
            raise BadInput(f"{self.name}: no such file (nor a capture device or stream URL)")
        if params.pixel_format:
            raise BadInput(f"video capture {self.name}: params.pixel_format applies to V4L2 "
                           f"capture cards only; a stream or file delivers its own format")
        cap = cv2.VideoCapture(self.name, cv2.CAP_FFMPEG, [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(params.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(params.stall_timeout_s * 1000)])
        if not cap.isOpened():
            what = "stream" if self.kind == "stream" else "file"
            raise (CaptureLost if self.kind == "stream" else BadInput)(
                f"video capture {self.name}: FFmpeg cannot open this {what}"
                + (f" within {params.open_timeout_s:g} s (is the sender running and the URL "
                   f"right?)" if self.kind == "stream" else ""))
        return cap

    @staticmethod
    def _grab(cap: cv2.VideoCapture) -> Grabbed | None:
        """Grab and decode one frame; None when the source gave none (ended, stalled, lost)."""
        if not cap.grab():
            return None
        arrival = time.monotonic()
        pts = float(cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
        ok, image = cap.retrieve()
        return Grabbed(image, pts, arrival) if ok and image is not None else None

    # -- the capture thread ---------------------------------------------------
    def _run(self, cap: cv2.VideoCapture) -> None:
        end: BaseException = EndOfStream(self.name)
        try:
            while not self._stop.is_set():
                grabbed = self._grab(cap)
                if self._stop.is_set():
                    break
                if grabbed is None:
                    end = self._ended()
                    break
                if not self.live:
                    grabbed = grabbed._replace(arrival=self._pace(grabbed.pts))
                self._accept([grabbed])
        except Exception as exc:  # noqa: BLE001 - a driver error ends the capture, reported to the reader
            end = CaptureLost(f"video capture {self.name}: capture failed: {exc}")
        finally:
            cap.release()
            self._ring.close(end)

    def _ended(self) -> BaseException:
        if not self.live:
            return EndOfStream(self.name)
        silent = time.monotonic() - self._ring.last_put_mono
        if silent >= 0.9 * self._stall_s:
            return CaptureLost(f"video capture {self.name}: stalled, no frame for {silent:.1f} s "
                               f"(after {self._position} frames)")
        return CaptureLost(f"video capture {self.name}: the source ended after {self._position} "
                           f"frames (sender stopped, signal or device lost)")

    def _pace(self, pts: float) -> float:
        """Files: release each frame at its presentation time, as a live source would."""
        now = time.monotonic()
        if self._pace_origin is None:
            self._pace_origin = now - pts
        due = self._pace_origin + pts
        if due > now:
            self._stop.wait(due - now)
            now = time.monotonic()
        return now

    def _catch_up(self, cap: cv2.VideoCapture, first: Grabbed, limit: int) -> list[Grabbed]:
        """The frames a stream decoder buffered while it was probed, taken at once.

        They arrive in a burst, each one earlier against its timestamp than the one
        before; the burst is over when two frames in a row bring that lead no
        further.  Mapped together with those live frames, the burst's timestamps
        are right from the start.
        """
        period = 1.0 / self.info.fps if self.info.fps else 0.02
        best = first.arrival - first.pts
        burst = [first]
        calm = 0
        while len(burst) < limit and calm < 2:
            grabbed = self._grab(cap)
            if grabbed is None:
                break  # the capture thread's next grab finds the end again, and reports it
            burst.append(grabbed)
            lead = grabbed.arrival - grabbed.pts
            calm = 0 if lead < best - 0.25 * period else calm + 1
            best = min(best, lead)
        return burst

    def _accept(self, grabbed: list[Grabbed]) -> None:
        """Stamp grabbed frames, count what their timestamps reveal, and queue them."""
        stamps = [self._timeline.observe(g.pts, g.arrival) for g in grabbed]
        for (image, pts, mono), stamp in zip(grabbed, stamps):
            if stamp.duplicate:
                self.stats.duplicated += 1
                continue
            self.stats.dropped += stamp.missing
            self._position += stamp.missing
            t = self.clock.from_monotonic(self._timeline.capture_time(pts, mono, stamp))
            if self._last_t is not None and t <= self._last_t:
                t = self._last_t + 1e-6  # strictly increasing, as the pump requires
            self._last_t = t
            frame = Frame(t=t, index=self._position, image=image)
            self._position += 1
            self.stats.dropped += self._ring.put(frame)

    # -- the reader -------------------------------------------------------------
    @property
    def buffer_peak(self) -> int:
        """The most frames the ring held at once (of ``buffer_frames``): how far the reader lagged."""
        return self._ring.peak

    def read(self, timeout_s: float | None = None) -> Frame | None:
        wait = timeout_s
        if self.live:
            until_stall = self._ring.last_put_mono + self._stall_s - time.monotonic()
            wait = max(0.0, until_stall) if wait is None else min(wait, max(0.0, until_stall))
        frame = self._ring.get(wait)
        if frame is None:
            silent = time.monotonic() - self._ring.last_put_mono
            if self.live and silent >= self._stall_s:
                raise CaptureLost(f"video capture {self.name}: stalled, no frame for {silent:.1f} s "
                                  f"(after {self._position} frames)")
            return None
        self.stats.delivered += 1
        return frame

    def close(self) -> None:
        """Stop the capture thread (it releases the device) and wait for it, bounded."""
        self._stop.set()
        self._ring.close(EndOfStream(self.name))
        self._thread.join(timeout=self._stall_s + 2.0)
        if self._thread.is_alive():
            warnings.warn(f"video capture {self.name}: the capture thread is still blocked in the "
                          f"driver; it releases the device when the driver returns", ResourceWarning,
                          stacklevel=2)
        self._ring.discard()
