"""Offline analysis: the same streaming detectors as live steps, fed from a file.

``analyze_file`` decodes once, hands every frame to every video detector and
every audio chunk to every audio detector, and returns the ``harness analyze``
result object of ``shared/DEFECTS.md``.
"""

from __future__ import annotations

from typing import Any

from detectors import base as registry
from harness.capture.file import FileAudioSource, FileVideoSource, probe
from harness.errors import BadInput


def analyze_file(path: str, detectors: str | list[str] | None = "all",
                 thresholds: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    names = registry.resolve_names(detectors)
    thresholds = thresholds or {}
    info = probe(path)
    video_names = [n for n in names if registry.detector_class(n).media == "video"]
    audio_names = [n for n in names if registry.detector_class(n).media == "audio"]
    if info.video is None:
        video_names = []
    if info.audio is None:
        audio_names = []
    events = []
    frames = 0
    last_t = 0.0
    if video_names:
        detectors_v = [registry.create(n, thresholds.get(n)) for n in video_names]
        source = FileVideoSource.open(path)
        try:
            for frame in source:
                frames += 1
                last_t = frame.t
                for detector in detectors_v:
                    events.extend(detector.feed(frame))
        finally:
            source.close()
        for detector in detectors_v:
            events.extend(detector.finish())
        if frames == 0:
            raise BadInput(f"{path}: no video frame could be decoded")
    audio_end = 0.0
    if audio_names:
        detectors_a = [registry.create(n, thresholds.get(n)) for n in audio_names]
        source_a = FileAudioSource.open(path, sample_rate=info.audio.sample_rate,
                                        channels=info.audio.channels)
        try:
            for chunk in source_a:
                audio_end = chunk.end
                for detector in detectors_a:
                    events.extend(detector.feed(chunk))
        finally:
            source_a.close()
        for detector in detectors_a:
            events.extend(detector.finish())
    duration = info.duration_s
    if duration is None:
        fps = info.video.fps if info.video else 0
        duration = max(last_t + (1 / fps if fps else 0), audio_end)
    result: dict[str, Any] = {
        "source": path,
        "duration_s": round(float(duration), 4),
        "video": None if info.video is None else {
            "width": info.video.width, "height": info.video.height,
            "fps": round(info.video.fps, 4), "frames": frames},
        "audio": None if info.audio is None else {
            "sample_rate": info.audio.sample_rate, "channels": info.audio.channels},
        "detectors": video_names + audio_names,
        "events": [e.to_json() for e in sorted(events, key=lambda e: (e.start_s, e.kind))],
        "measurements": {},
    }
    return result
