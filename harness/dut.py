"""The device under test: what a test touches.

A :class:`Dut` joins a rig's controller and capture sources.  Frames and audio
are pulled by one *pump* (``pump_until``), which stamps nothing itself (sources
stamp on the session clock) and hands each item to whoever listens: active
steps and their detectors, recorders, ``wait_for`` conditions.  Nothing is
buffered beyond what the sources' own bounded buffers hold.

Every key press, step and event also goes into ``dut.log``, one list that is both
the artifact attached to the report and something tests can assert on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol

from harness.capture import EndOfStream
from harness.control.base import KeyPress
from harness.errors import BadInput, CaptureLost
from harness.media import AudioChunk, CaptureStats, Frame
from harness.profile import Profile
from harness.recording import Recorder, Segment
from harness.rig import Rig
from harness.vision import ANALYSIS_WIDTH, RegionOfInterest, changed_fraction


class Listener(Protocol):
    def on_frame(self, frame: Frame) -> None: ...

    def on_audio(self, chunk: AudioChunk) -> None: ...


@dataclass
class LogEntry:
    t: float
    type: str  # key | step | event | capture | note
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"t": round(self.t, 4), "type": self.type, **self.data}


@dataclass
class Transition:
    """What ``press_and_wait`` saw. Truthy when the screen changed and then settled.

    ``latency_s``: key press to first change on screen; ``duration_s``: press to
    the last change before the screen settled.
    """

    key: str
    press_t: float
    status: str  # complete | no_change | not_settled
    frame: Frame | None
    change_t: float | None = None
    settle_t: float | None = None
    region: tuple[int, int, int, int] | None = None

    def __bool__(self) -> bool:
        return self.status == "complete"

    @property
    def latency_s(self) -> float | None:
        return None if self.change_t is None else self.change_t - self.press_t

    @property
    def duration_s(self) -> float | None:
        return None if self.settle_t is None else self.settle_t - self.press_t

    def __repr__(self) -> str:
        lat = "-" if self.latency_s is None else f"{self.latency_s * 1000:.0f} ms"
        dur = "-" if self.duration_s is None else f"{self.duration_s:.2f} s"
        return (f"Transition(key={self.key!r}, status={self.status!r}, press_t={self.press_t:.3f}, "
                f"latency={lat}, duration={dur})")


@dataclass
class Match:
    """What ``wait_for`` saw: truthy when the condition held; carries time, frame and value."""

    matched: bool
    t: float
    frame: Frame | None
    value: Any = None
    waited_s: float = 0.0

    def __bool__(self) -> bool:
        return self.matched

    def __repr__(self) -> str:
        return f"Match(matched={self.matched}, t={self.t:.3f}, waited_s={self.waited_s:.2f}, value={self.value!r})"


class Dut:
    """The ``dut`` fixture. Build with :meth:`open` (profile name or path) or from a Rig."""

    def __init__(self, rig: Rig, reporter: Any = None) -> None:
        self.rig = rig
        self.profile: Profile = rig.profile
        self.clock = rig.clock
        self.controller = rig.controller
        self.video = rig.video
        self.audio = rig.audio
        self.reporter = reporter
        self.log: list[LogEntry] = []
        self._listeners: list[Listener] = []
        self._last_frame: Frame | None = None
        fps = self.video.info.fps
        self.capture_timeout_s = max(2.0, 30.0 / fps)

    def __repr__(self) -> str:
        clock = "virtual" if self.clock.is_virtual else "real"
        return f"Dut({self.profile.name!r}, t={self.clock.now():.3f} s on the {clock} clock)"

    @classmethod
    def open(cls, device: str = "mock", realtime: bool = False, reporter: Any = None) -> "Dut":
        from harness.profile import load_profile

        return cls(Rig(load_profile(device), realtime=realtime), reporter=reporter)

    # -- the simulated device, where there is one ------------------------
    @property
    def sim(self):
        """The simulated device (inject defects, read ground truth); None on real hardware."""
        sim = self.rig.sim
        if sim is None and self.profile.controller.type == "mock":
            sim = self.rig.simulator()
        return sim

    # -- the pump ---------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def next_frame(self) -> Frame:
        """Read the next captured frame, hand it (and audio up to it) to the listeners."""
        waited = 0.0
        while True:
            try:
                frame = self.video.read(timeout_s=0.5)
            except EndOfStream:
                raise CaptureLost(f"device {self.profile.name!r}: video source "
                                  f"{self.profile.video.type!r} ended") from None
            if frame is not None:
                break
            waited += 0.5
            if waited >= self.capture_timeout_s:
                raise CaptureLost(f"device {self.profile.name!r}: no video frame for {waited:.1f} s "
                                  f"from {self.profile.video.type!r} capture")
        if self._last_frame is not None and frame.t <= self._last_frame.t:
            raise CaptureLost(f"video source {self.profile.video.type!r} went back in time "
                              f"({frame.t:.3f} after {self._last_frame.t:.3f})")
        self._last_frame = frame
        for listener in list(self._listeners):
            listener.on_frame(frame)
        self._pump_audio(frame.t)
        return frame

    def _pump_audio(self, until_t: float) -> None:
        if self.audio is None:
            return
        while True:
            try:
                chunk = self.audio.read(timeout_s=0)
            except EndOfStream:
                raise CaptureLost(f"device {self.profile.name!r}: audio source "
                                  f"{self.profile.audio.type!r} ended") from None
            if chunk is None:
                return
            for listener in list(self._listeners):
                listener.on_audio(chunk)
            if chunk.end >= until_t:
                return

    def pump_until(self, t: float) -> Frame:
        """Consume capture up to time ``t`` (blocking until the frame at or after ``t``)."""
        frame = self._last_frame
        while frame is None or frame.t < t:
            frame = self.next_frame()
        return frame

    def frames(self, timeout_s: float | None = None) -> Iterator[Frame]:
        """Live frames from now on (stb-tester's ``frames()``), for ``timeout_s`` if given."""
        end = None if timeout_s is None else self.clock.now() + timeout_s
        while True:
            frame = self.next_frame()
            yield frame
            if end is not None and frame.t >= end:
                return

    # -- what tests call --------------------------------------------------
    def screenshot(self) -> Frame:
        """The frame on screen now."""
        return self.pump_until(self.clock.now())

    def wait(self, seconds: float) -> Frame:
        """Let ``seconds`` of device time pass while capture (and any step) keeps analysing."""
        return self.pump_until(self.clock.now() + seconds)

    def press(self, key: str, hold_s: float = 0.0) -> KeyPress:
        return self._control(self.controller.press, key, hold_s=hold_s)

    def key_down(self, key: str) -> KeyPress:
        return self._control(self.controller.key_down, key)

    def key_up(self, key: str) -> KeyPress:
        return self._control(self.controller.key_up, key)

    def text(self, text: str) -> KeyPress:
        return self._control(self.controller.text, text)

    def _control(self, action: Callable[..., KeyPress], *args: Any, **kwargs: Any) -> KeyPress:
        self.pump_until(self.clock.now())  # listeners see everything up to the key action
        record = action(*args, **kwargs)
        self._note("key", record.t_down, record.to_json())
        return record

    def press_and_wait(self, key: str, region: tuple[int, int, int, int] | None = None,
                       stable_s: float = 0.5, timeout_s: float = 10.0,
                       pixel_threshold: int = 25, min_changed_fraction: float = 0.0005) -> Transition:
        """Press ``key`` and wait for the screen (or ``region``) to change and then settle.

        Returns a :class:`Transition` carrying the key-to-screen latency and the
        transition's duration; falsy with ``status`` no_change / not_settled.
        """
        roi = RegionOfInterest(region)
        reference = self.screenshot()
        record = self.press(key)
        previous = roi.crop(reference, reference.gray(ANALYSIS_WIDTH))
        change_t = last_change_t = None
        frame = reference
        deadline = record.t_down + timeout_s
        while frame.t < deadline:
            frame = self.next_frame()
            plane = roi.crop(frame, frame.gray(ANALYSIS_WIDTH))
            moved = changed_fraction(plane, previous, pixel_threshold) > min_changed_fraction
            previous = plane
            if moved:
                if change_t is None:
                    change_t = frame.t
                last_change_t = frame.t
            elif change_t is not None and frame.t - last_change_t >= stable_s:
                result = Transition(key, record.t_down, "complete", frame, change_t,
                                    last_change_t, roi.source_region(frame))
                break
        else:
            result = Transition(key, record.t_down, "no_change" if change_t is None else "not_settled",
                                frame, change_t, None, roi.source_region(frame))
        self._note("transition", frame.t, {"key": key, "status": result.status,
                                           "latency_s": result.latency_s, "duration_s": result.duration_s})
        return result

    def wait_for(self, condition: Callable[[Frame], Any], timeout_s: float = 10.0,
                 description: str = "") -> Match:
        """Feed live frames to ``condition`` until it returns something truthy or time runs out."""
        start = self.clock.now()
        frame = None
        value = None
        for frame in self.frames(timeout_s=timeout_s):
            value = condition(frame)
            if value:
                return Match(True, frame.t, frame, value, frame.t - start)
        t = frame.t if frame is not None else self.clock.now()
        self._note("note", t, {"wait_for": description or repr(condition), "timed_out_s": timeout_s})
        return Match(False, t, frame, value, t - start)

    def wait_for_motion(self, region=None, timeout_s: float = 10.0, consecutive_frames: int = 3) -> Match:
        """Wait until the picture moves for ``consecutive_frames`` frames in a row."""
        from harness.vision import Motion

        motion = Motion(region)
        run = 0

        def moving(frame: Frame):
            nonlocal run
            result = motion(frame)
            run = run + 1 if result else 0
            return result if run >= consecutive_frames else None

        return self.wait_for(moving, timeout_s, description=f"motion in {region or 'full frame'}")

    def wait_until_still(self, stable_s: float = 1.0, region=None, timeout_s: float = 10.0) -> Match:
        """Wait until the picture (or ``region``) has not moved for ``stable_s`` seconds."""
        from harness.vision import Motion

        motion = Motion(region)
        still_since: float | None = None

        def still(frame: Frame):
            nonlocal still_since
            if motion(frame):
                still_since = None
            elif still_since is None:
                still_since = frame.t
            return still_since is not None and frame.t - still_since >= stable_s

        return self.wait_for(still, timeout_s, description=f"no motion for {stable_s} s")

    def record(self, duration_s: float, scale: float = 1.0,
               max_bytes: int = 512 * 1024 * 1024) -> Segment:
        """Capture ``duration_s`` into a :class:`Segment` (JPEG frames + audio, bounded memory)."""
        if duration_s <= 0:
            raise BadInput(f"record duration must be > 0, got {duration_s}")
        start = self.clock.now()
        self.pump_until(start)
        recorder = Recorder(start, scale=scale, max_bytes=max_bytes)
        self.add_listener(recorder)
        try:
            self.pump_until(start + duration_s)
        finally:
            self.remove_listener(recorder)
        return recorder.finish(self.clock.now(), self.keylog)

    def step(self, name: str, expect=(), detectors=(), thresholds=None, evidence_scale: float = 0.5,
             keep: str | None = None):
        """A step: records, runs detectors, checks expectations (see ``harness.steps.Step``).

        ``keep``: also write the step's capture (at ``evidence_scale``) with its audio to this MP4.
        """
        from harness.steps import Step

        return Step(self, name, expect=expect, detectors=detectors, thresholds=thresholds,
                    evidence_scale=evidence_scale, keep=keep)

    # -- bookkeeping ------------------------------------------------------
    @property
    def keylog(self) -> list[KeyPress]:
        return self.controller.keylog

    def capture_stats(self) -> dict[str, dict[str, int]]:
        stats = {"video": self.video.stats.as_dict()}
        if self.audio is not None:
            stats["audio"] = self.audio.stats.as_dict()
        return stats

    def _note(self, kind: str, t: float, data: dict[str, Any]) -> None:
        self.log.append(LogEntry(t, kind, data))

    def close(self) -> None:
        self.rig.close()


def stats_delta(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict:
    return {media: {k: after[media][k] - before.get(media, {}).get(k, 0) for k in after[media]}
            for media in after}


__all__ = ["CaptureStats", "Dut", "LogEntry", "Match", "Segment", "Transition", "stats_delta"]
