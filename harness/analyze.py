"""Analysis outside a test: the same streaming detectors as live steps.

``analyze_file`` decodes once, hands every frame to every video detector and
every audio chunk to every audio detector, and returns the ``harness analyze``
result object of ``shared/DEFECTS.md``.  ``analyze_live`` does the same for a
capture device or stream URL, read live through the opencv capture backend until
the source ends or for a given duration; ``analyze`` picks one of them.
"""

from __future__ import annotations

from typing import Any

from detectors import base as registry
from detectors.base import Event
from detectors.merge import merge_events
from harness.capture.base import EndOfStream
from harness.capture.file import FileAudioSource, FileVideoSource, MediaInfo, probe
from harness.capture.opencv import OpenCVVideoSource, is_live_source
from harness.clock import RealClock
from harness.errors import BadInput, CaptureLost, InfrastructureError, StreamMissing
from harness.media import AudioChunk


# audio chunks of harness analyze: 20 x 0.1 s. The detectors' results do not depend on the
# chunking; 2-s chunks cost 5 % less than 1-s ones (fewer calls; the suite 210-221x real time
# against 198-211x, benchmarks/audio_detectors.py's setting, idle machine, session 6), and 0.5 s
# ones 14 % more
AUDIO_STEPS = 20

# a stream whose decoding stops this much (or 2 %) short of the length its header gives is
# reported as incomplete (truncated or damaged): what follows was never analysed
TRUNCATION_S = 0.5


def analyze(source: str, detectors: str | list[str] | None = "all",
            thresholds: dict[str, dict[str, Any]] | None = None,
            duration_s: float | None = None) -> dict[str, Any]:
    """Analyse a media file, a capture device (``/dev/video0``, ``0``) or a stream URL."""
    if is_live_source(source):
        return analyze_live(source, detectors, thresholds, duration_s)
    return analyze_file(source, detectors, thresholds, duration_s)


class DetectorBank:
    """Detectors fed together from one decode: every item goes to each of them, in order."""

    def __init__(self, names: list[str], thresholds: dict[str, dict[str, Any]]) -> None:
        self.detectors = [registry.create(n, thresholds.get(n)) for n in names]
        self.events: list[Event] = []

    def feed(self, item: Any) -> None:
        for detector in self.detectors:
            self.events.extend(detector.feed(item))

    def finish(self) -> list[Event]:
        """Every event, one per episode and kind: where several detectors report the same kind
        (a DSP detector and a classifier), their overlapping events become one
        (:func:`~detectors.merge.merge_events`: detectors joined ``hum+audio_artifacts``, each
        one's details kept)."""
        for detector in self.detectors:
            self.events.extend(detector.finish())
        return merge_events(self.events)

    def measurements(self) -> dict[str, Any]:
        """Each detector's :attr:`~detectors.base.Detector.measurements`, by name (those with any)."""
        return {d.name: m for d in self.detectors if (m := d.measurements)}


def _events_json(events: list[Event]) -> list[dict[str, Any]]:
    return [e.to_json() for e in sorted(events, key=lambda e: (e.start_s, e.kind))]


def analyze_file(path: str, detectors: str | list[str] | None = "all",
                 thresholds: dict[str, dict[str, Any]] | None = None,
                 duration_s: float | None = None) -> dict[str, Any]:
    """Analyse a media file (its first ``duration_s`` seconds if given)."""
    names = registry.resolve_names(detectors)
    thresholds = thresholds or {}
    info = probe(path)
    video_names = [n for n in names if registry.detector_class(n).media == "video"]
    audio_names = [n for n in names if registry.detector_class(n).media == "audio"]
    skipped: dict[str, str] = {}   # detector -> why it did not run
    if info.video is None:
        skipped.update(dict.fromkeys(video_names, "no video stream"))
        video_names = []
    if info.audio is None:
        skipped.update(dict.fromkeys(audio_names, "no audio stream"))
        audio_names = []
    if skipped and not video_names and not audio_names:
        has = "an audio" if info.audio is not None else "a video"
        raise StreamMissing(
            f"{path}: none of the detectors asked for can run on it: {', '.join(skipped)} "
            f"need a stream it lacks ({'; '.join(sorted(set(skipped.values())))}); it has "
            f"{has} stream only (fix: pick detectors for it, `harness detectors` lists each "
            f"one's media, or leave --detectors out to run all that apply)")
    events = []
    measurements: dict[str, Any] = {}
    frames = 0
    last_t = 0.0
    if video_names:
        bank_v = DetectorBank(video_names, thresholds)
        source = FileVideoSource.open(path)
        try:
            for frame in source:
                if duration_s is not None and frame.t >= duration_s:
                    break
                frames += 1
                last_t = frame.t
                bank_v.feed(frame)
        finally:
            source.close()
        events += bank_v.finish()
        measurements.update(bank_v.measurements())
        if frames == 0:
            raise BadInput(f"{path}: no video frame could be decoded")
    audio_end = 0.0
    if audio_names:
        bank_a = DetectorBank(audio_names, thresholds)
        # decoded in chunks of AUDIO_STEPS steps of 0.1 s: the detectors' results do not depend
        # on the chunking, and every call into them costs (numpy, Python) per chunk, not per
        # sample; the duration is cut at the same 0.1 s step as with 0.1 s chunks
        rate = info.audio.sample_rate
        step = max(1, round(0.1 * rate))
        source_a = FileAudioSource.open(path, sample_rate=rate, channels=info.audio.channels,
                                        chunk_s=AUDIO_STEPS * step / rate)
        try:
            for chunk in source_a:
                if duration_s is not None and chunk.t >= duration_s:
                    break
                n = chunk.samples.shape[0]
                position = round(chunk.t * rate)
                steps = -(-n // step)
                if duration_s is not None:
                    steps = next((j for j in range(steps)
                                  if (position + j * step) / rate >= duration_s), steps)
                    if steps * step < n:
                        chunk = AudioChunk(chunk.t, chunk.samples[:steps * step], rate)
                # where the last 0.1 s step ends, computed as for a chunk of its own
                last = (steps - 1) * step
                audio_end = (position + last) / rate + (min(n, steps * step) - last) / rate
                bank_a.feed(chunk)
        finally:
            source_a.close()
        events += bank_a.finish()
        measurements.update(bank_a.measurements())
    duration = info.duration_s
    if duration is None:
        fps = info.video.fps if info.video else 0
        duration = max(last_t + (1 / fps if fps else 0), audio_end)
    if duration_s is not None:
        duration = min(duration, duration_s)
    result: dict[str, Any] = {
        "source": path,
        "duration_s": round(float(duration), 4),
        "video": None if info.video is None else {
            "width": info.video.width, "height": info.video.height,
            "fps": round(info.video.fps, 4), "frames": frames},
        "audio": None if info.audio is None else {
            "sample_rate": info.audio.sample_rate, "channels": info.audio.channels},
        "detectors": video_names + audio_names,
        "events": _events_json(events),
        "measurements": measurements,
    }
    if skipped:
        result["skipped"] = skipped
    decoded = {}
    if video_names:
        fps = info.video.fps if info.video else 0
        decoded["video"] = last_t + (1 / fps if fps else 0) if frames else 0.0
    if audio_names:
        decoded["audio"] = audio_end
    if incomplete := _incomplete(info, decoded, duration_s):
        result["incomplete"] = incomplete
    return result


def _incomplete(info: MediaInfo, decoded: dict[str, float],
                limit_s: float | None) -> dict[str, dict[str, float]]:
    """The streams whose decoding (``decoded``: seconds, by stream) stopped short of the length
    their header gives (up to ``limit_s`` if one was asked), with both figures."""
    out = {}
    for stream, seconds in decoded.items():
        length = info.video_duration_s if stream == "video" else info.audio_duration_s
        expected = length if length is not None else info.duration_s
        if expected is None:
            continue
        if limit_s is not None:
            expected = min(expected, limit_s)
        if seconds < expected - max(TRUNCATION_S, 0.02 * expected):
            out[stream] = {"expected_s": round(expected, 3), "decoded_s": round(seconds, 3)}
    return out


def analyze_live(source: str, detectors: str | list[str] | None = "all",
                 thresholds: dict[str, dict[str, Any]] | None = None,
                 duration_s: float | None = None) -> dict[str, Any]:
    """Analyse a capture device or stream URL live, until it ends (or stalls) or for ``duration_s``.

    Event times are on a harness clock started with the analysis.  The video
    detectors run (the opencv backend captures video); ``measurements.capture``
    counts the frames delivered, dropped and duplicated.  Ctrl-C ends the
    analysis early and still reports what was seen.
    """
    names = registry.resolve_names(detectors)
    thresholds = thresholds or {}
    video_names = [n for n in names if registry.detector_class(n).media == "video"]
    if not video_names:
        raise BadInput(f"{source}: a capture device or stream is analysed for video; "
                       f"choose at least one video detector")
    try:
        capture = OpenCVVideoSource.open(source, RealClock())
    except InfrastructureError as exc:
        raise BadInput(str(exc)) from None
    bank = DetectorBank(video_names, thresholds)
    frames = 0
    first_t: float | None = None
    last_t: float | None = None
    try:
        while True:
            try:
                frame = capture.read()
            except (EndOfStream, CaptureLost):
                break  # the live source ended or stalled: the analysis covers what came
            if frame is None:
                continue
            if first_t is None:
                first_t = frame.t
            elif duration_s is not None and frame.t - first_t >= duration_s:
                break
            frames += 1
            last_t = frame.t
            bank.feed(frame)
    except KeyboardInterrupt:
        pass
    finally:
        capture.close()
    events = bank.finish()
    measurements = {"capture": capture.stats.as_dict(), **bank.measurements()}
    fps = capture.info.fps
    span = 0.0 if first_t is None or last_t is None else last_t - first_t + (1 / fps if fps else 0)
    return {
        "source": source,
        "duration_s": round(float(span), 4),
        "video": {"width": capture.info.width, "height": capture.info.height,
                  "fps": round(fps, 4), "frames": frames},
        "audio": None,
        "detectors": video_names,
        "events": _events_json(events),
        "measurements": measurements,
    }
