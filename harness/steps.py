"""Steps: record what happens, run detectors on it, assert expectations, keep the evidence.

    with dut.step("Play 30 s", expect=[no("freeze", longer_than=0.5), no("black"),
                                        no("silence")]):
        dut.wait(30)

While the step is open its detectors analyse every captured frame and audio
chunk as it arrives (streaming: the same code ``harness analyze`` runs on files).
On exit the expectations are checked; a violation raises ``AssertionError``
naming the defect kind, its time in the step and its score.  An infrastructure
error inside the step propagates unchanged (pytest ERROR, Allure broken).  Every
step is an Allure step with a screenshot, the defect frames with their regions
drawn, a clip around each failure and the detector JSON attached.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import allure

from detectors import base as registry
from detectors.base import Detector, Event
from detectors.merge import merge_events
from harness.errors import BadInput, CaptureMissing, HarnessError, InfrastructureError
from harness.media import AudioChunk, Frame
from harness.recording import Recorder, Segment
from harness.report import evidence
from harness.vision import draw_cells, draw_region

if TYPE_CHECKING:
    from harness.dut import Dut

MAX_EVENT_PICTURES = 8
MAX_FAILURE_CLIPS = 3
CLIP_MARGIN_S = 2.0


# -- expectations ---------------------------------------------------------
@dataclass(frozen=True)
class Violation:
    expectation: "Expectation"
    message: str
    event: Event | None = None


@dataclass(frozen=True)
class Expectation:
    kind: str
    detector: str  # registry name of the detector whose events this expectation judges

    def check(self, events: list[Event], step_start: float) -> list[Violation]:
        """``events``: what this expectation's detector reported during the step."""
        raise NotImplementedError


@dataclass(frozen=True)
class NoDefect(Expectation):
    longer_than: float = 0.0
    min_score: float = 0.0
    fault: str | None = None   # only events whose details["fault"] is this (loudness "jump")

    def __str__(self) -> str:
        text = f"no {self.kind}" + (f" {self.fault}" if self.fault else "")
        if self.longer_than:
            text += f" longer than {self.longer_than:.2f} s"
        return text

    def check(self, events: list[Event], step_start: float) -> list[Violation]:
        return [Violation(self, f"expected {self}, found {e.describe(step_start, 'the step')}", e)
                for e in events
                if e.kind == self.kind and e.duration_s > self.longer_than
                and e.score >= self.min_score
                and (self.fault is None or e.details.get("fault") == self.fault)]


@dataclass(frozen=True)
class DefectPresent(Expectation):
    at_least_s: float = 0.0

    def __str__(self) -> str:
        text = f"{self.kind} present"
        if self.at_least_s:
            text += f" for at least {self.at_least_s:.2f} s"
        return text

    def check(self, events: list[Event], step_start: float) -> list[Violation]:
        if any(e.kind == self.kind and e.duration_s >= self.at_least_s for e in events):
            return []
        return [Violation(self, f"expected {self}, but the {self.detector} detector reported none")]


def no(kind: str, longer_than: float = 0.0, detector: str | None = None,
       min_score: float = 0.0, fault: str | None = None) -> NoDefect:
    """Expect no ``kind`` episode (longer than ``longer_than`` seconds) during the step; with
    ``fault``, only of that fault (``no("loudness", fault="jump")``: no level jump, whatever
    the programme's loudness against its target, which is a programme figure)."""
    return NoDefect(kind, detector or kind, longer_than, min_score, fault)


def present(kind: str, at_least_s: float = 0.0, detector: str | None = None) -> DefectPresent:
    """Expect a ``kind`` episode (e.g. the picture freezes while paused)."""
    return DefectPresent(kind, detector or kind, at_least_s)


# -- the step -------------------------------------------------------------
@dataclass
class StepResult:
    name: str
    start_s: float
    end_s: float
    events: list[Event] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    capture: dict[str, Any] = field(default_factory=dict)
    frames_analysed: int = 0
    audio_chunks_analysed: int = 0
    segment: Segment | None = None
    status: str = "running"  # passed | failed | broken
    #: figures over the step that are no event, by detector (``loudness``: integrated
    #: loudness, LRA, true peak against the profile's target)
    measurements: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.status == "passed"

    def events_of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.name, "status": self.status,
            "start_s": round(self.start_s, 4), "end_s": round(self.end_s, 4),
            "events": [e.to_json() for e in self.events],
            "events_relative_to_step": [e.shifted(self.start_s).to_json() for e in self.events],
            "violations": [v.message for v in self.violations],
            "frames_analysed": self.frames_analysed,
            "audio_chunks_analysed": self.audio_chunks_analysed,
            "capture": self.capture,
            "measurements": self.measurements,
            "recording": {"frames_kept": len(self.segment) if self.segment else 0,
                          "frames_discarded": self.segment.discarded_frames if self.segment else 0},
        }


class Step:
    """Context manager made by ``dut.step(...)``; see the module docstring."""

    def __init__(self, dut: "Dut", name: str, expect: Iterable[Expectation] = (),
                 detectors: Iterable[str] = (), thresholds: dict[str, dict] | None = None,
                 evidence_scale: float = 0.5, keep: str | Path | None = None) -> None:
        self.dut = dut
        self.keep = None if keep is None else Path(keep)
        self.name = name
        self.expectations = list(expect)
        names = [e.detector for e in self.expectations] + list(detectors)
        self.detector_names = list(dict.fromkeys(names))
        self.thresholds = thresholds or {}
        for detector_name in self.thresholds:
            if detector_name not in self.detector_names:
                raise BadInput(f"step {name!r}: thresholds given for {detector_name!r}, which the step "
                               f"does not run (it runs: {', '.join(self.detector_names) or 'none'})")
        self.detectors: list[Detector] = [
            registry.create(n, dut.profile.detector_config(n.split(":")[0],
                                                           **self.thresholds.get(n, {})))
            for n in self.detector_names]
        media_of = {n: d.media for n, d in zip(self.detector_names, self.detectors)}
        for media, source in (("audio", dut.audio), ("video", dut.video)):
            blind = [str(e) for e in self.expectations if source is None and media_of[e.detector] == media]
            if blind:
                raise CaptureMissing(
                    f"step {name!r} expects {', '.join(blind)}, but device {dut.profile.name!r} "
                    f"captures no {media} (its profile has no '{media}:' section): add the capture "
                    f"card's {media} input to the profile, or leave {media} expectations out of "
                    f"steps on this rig (dut.profile.has({media!r}))")
        self.evidence_scale = evidence_scale
        self.result: StepResult | None = None
        self._events: dict[str, list[Event]] = {n: [] for n in self.detector_names}
        self._frames = 0
        self._chunks = 0
        self._recorder: Recorder | None = None
        self._allure_step = None
        self._stats_before: dict = {}
        self._log_dir: tempfile.TemporaryDirectory | None = None
        self._device_logs: list = []

    # listener protocol
    def on_frame(self, frame: Frame) -> None:
        self._frames += 1
        self._recorder.on_frame(frame)
        for name, detector in zip(self.detector_names, self.detectors):
            if detector.media == "video":
                self._events[name].extend(detector.feed(frame))

    def on_audio(self, chunk: AudioChunk) -> None:
        self._chunks += 1
        self._recorder.on_audio(chunk)
        for name, detector in zip(self.detector_names, self.detectors):
            if detector.media == "audio":
                self._events[name].extend(detector.feed(chunk))

    def __enter__(self) -> "Step":
        self._allure_step = allure.step(self.name)
        self._allure_step.__enter__()
        try:
            start = self.dut.screenshot().t
        except BaseException as exc:
            self._allure_step.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._stats_before = self.dut.capture_stats()
        self._start_device_logs()
        self._recorder = Recorder(start, scale=self.evidence_scale, jpeg_quality=80)
        self.result = StepResult(self.name, start, start)
        self.dut.add_listener(self)
        self.dut._note("step", start, {"step": self.name, "phase": "start",
                                       "expect": [str(e) for e in self.expectations]})
        return self

    def _start_device_logs(self) -> None:
        """Device logs (logcat...) for the step's evidence, only when a report is written."""
        if not evidence.reporting():
            return
        self._log_dir = tempfile.TemporaryDirectory(prefix="step-logs-")
        try:
            self._device_logs = self.dut.controller.start_evidence(Path(self._log_dir.name))
        except HarnessError as exc:
            evidence.attach_text("device log (not started)", f"could not start device logs: {exc}")

    def _attach_device_logs(self) -> None:
        for stream in self._device_logs:
            try:
                path = stream.stop()
                evidence.attach_file(path.name, path)
                if stream.error:
                    evidence.attach_text(f"{path.name}: stream error", stream.error)
            except (HarnessError, OSError) as exc:
                evidence.attach_text(f"{stream.path.name} (lost)", str(exc))
        self._device_logs = []
        if self._log_dir is not None:
            self._log_dir.cleanup()
            self._log_dir = None

    def __exit__(self, exc_type, exc, tb) -> bool:
        __tracebackhide__ = True  # the failure points at the test's `with` line, not here
        late: InfrastructureError | None = None  # capture lost while draining at the step's end
        try:
            if exc is None:
                try:
                    self.dut.pump_until(self.dut.clock.now())
                except InfrastructureError as infra:
                    late = infra
            self._close(exc or late)
        except BaseException as failure:  # the step's verdict (AssertionError) or an error closing it
            self._allure_step.__exit__(type(failure), failure, failure.__traceback__)
            raise
        ended_by = exc or late
        self._allure_step.__exit__(type(ended_by) if ended_by else None, ended_by,
                                   ended_by.__traceback__ if ended_by else None)
        if late is not None:
            raise late
        return False

    def _close(self, exc: BaseException | None) -> None:
        __tracebackhide__ = True
        from harness.dut import stats_delta

        dut = self.dut
        self.dut.remove_listener(self)
        result = self.result
        for name, detector in zip(self.detector_names, self.detectors):
            self._events[name].extend(detector.finish())
        end = dut._last_frame.t if dut._last_frame is not None else result.start_s
        result.end_s = end
        # one event per episode and kind: where several detectors report a kind (a DSP detector
        # and the classifier), their overlapping events become one, each one's details kept
        # (expectations still judge their own detector's events)
        result.events = merge_events([e for events in self._events.values() for e in events])
        result.measurements = {name: m for name, detector in zip(self.detector_names, self.detectors)
                               if (m := detector.measurements)}
        result.frames_analysed, result.audio_chunks_analysed = self._frames, self._chunks
        result.capture = stats_delta(self._stats_before, dut.capture_stats())
        result.segment = self._recorder.finish(end, dut.keylog)
        if self.keep is not None:  # RecordingError (disk full, unwritable) names the file
            result.segment.write_clip(self.keep)
            dut._note("recording", end, {"step": self.name, "path": str(self.keep)})
        if isinstance(exc, InfrastructureError):
            result.status = "broken"
        elif exc is not None:
            result.status = "failed" if isinstance(exc, AssertionError) else "broken"
        else:
            for expectation in self.expectations:
                result.violations.extend(expectation.check(self._events[expectation.detector],
                                                           result.start_s))
            result.status = "failed" if result.violations else "passed"
        for event in result.events:
            dut._note("event", event.start_s, {"step": self.name, **event.to_json()})
        dut._note("step", end, {"step": self.name, "phase": "end", "status": result.status,
                                "capture": result.capture})
        self._attach_evidence(result)
        if result.status == "failed" and exc is None:
            raise AssertionError(self.failure_message(result))

    def failure_message(self, result: StepResult) -> str:
        lines = [f"step {result.name!r} failed ({result.end_s - result.start_s:.2f} s, "
                 f"{result.frames_analysed} frames analysed):"]
        lines += [f"  - {v.message}" for v in result.violations]
        for media, unit in (("video", "frames"), ("audio", "audio chunks")):
            dropped = result.capture.get(media, {}).get("dropped", 0)
            if dropped:
                lines.append(f"  (capture dropped {dropped} {unit} during the step)")
        return "\n".join(lines)

    def _attach_evidence(self, result: StepResult) -> None:
        if not evidence.reporting():
            return
        self._attach_device_logs()
        segment = result.segment
        last = segment.frame_at(result.end_s) if segment else None
        if self.dut._last_frame is not None:
            evidence.attach_image("screenshot at step end", self.dut._last_frame.image)
        elif last is not None:
            evidence.attach_image("screenshot at step end", last.image)
        failing = {id(v.event) for v in result.violations if v.event is not None}
        shown = sorted(result.events, key=lambda e: (id(e) not in failing, -e.score))
        for event in shown[:MAX_EVENT_PICTURES]:
            image = event.frame
            if image is None and segment is not None:
                found = segment.frame_at(event.start_s)
                image = None if found is None else found.image
            if image is not None:
                label = f"{event.kind} {event.start_s - result.start_s:.2f}s score {event.score:.2f}"
                if event.details.get("cells") and event.details.get("cell_px"):
                    image = draw_cells(image, event.details["cells"], event.details["cell_px"])
                evidence.attach_image(f"{event.kind} at {event.start_s - result.start_s:.2f} s",
                                      draw_region(image, event.region, label))
        for violation in [v for v in result.violations if v.event is not None][:MAX_FAILURE_CLIPS]:
            e = violation.event
            evidence.attach_clip(f"clip: {e.kind} at {e.start_s - result.start_s:.2f} s", segment,
                                 max(result.start_s, e.start_s - CLIP_MARGIN_S),
                                 min(result.end_s, e.end_s + CLIP_MARGIN_S))
        evidence.attach_json("detectors.json", result.to_json())

