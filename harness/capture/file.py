"""Sources that read a media file: video through OpenCV, audio through ffmpeg.

``harness analyze`` uses these directly (timestamps are presentation times from
the start of the file); as a profile backend (``type: file``) the times are
shifted onto the session clock and, on a real clock, paced to real time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.capture.base import AudioSource, EndOfStream, VideoSource
from harness.errors import BadInput
from harness.media import AudioChunk, AudioInfo, CaptureStats, Frame, VideoInfo


class FileParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str


@dataclass(frozen=True)
class MediaInfo:
    path: str
    duration_s: float | None
    video: VideoInfo | None
    video_frames: int | None
    audio: AudioInfo | None
    video_duration_s: float | None = None   # each stream's own, where the container says
    audio_duration_s: float | None = None


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise BadInput(f"{tool} is not installed; run the project's setup (scripts/setup.sh) "
                       f"or install the Debian package ffmpeg")
    return found


def probe(path: str | Path) -> MediaInfo:
    """Streams and duration of a media file, via ffprobe; BadInput if it is not media."""
    path = str(path)
    if not Path(path).is_file():
        raise BadInput(f"{path}: no such file")
    result = subprocess.run(
        [_require("ffprobe"), "-v", "error", "-print_format", "json", "-show_format",
         "-show_streams", path], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["not a media file"])[-1]
        raise BadInput(f"{path}: cannot read media ({reason})")
    data = json.loads(result.stdout or "{}")
    video = audio = None
    frames = None
    lengths: dict[str, float | None] = {"video": None, "audio": None}
    for stream in data.get("streams", []):
        if stream.get("codec_type") == "video" and video is None and \
                stream.get("disposition", {}).get("attached_pic", 0) == 0:
            num, _, den = (stream.get("avg_frame_rate") or "0/1").partition("/")
            fps = float(num) / float(den) if float(den or 0) else 0.0
            if not fps:
                num, _, den = (stream.get("r_frame_rate") or "0/1").partition("/")
                fps = float(num) / float(den) if float(den or 0) else 25.0
            video = VideoInfo(int(stream["width"]), int(stream["height"]), fps)
            lengths["video"] = _seconds(stream.get("duration"))
            if stream.get("nb_frames", "").isdigit():
                frames = int(stream["nb_frames"])
        elif stream.get("codec_type") == "audio" and audio is None:
            audio = AudioInfo(int(stream.get("sample_rate", 48000)), int(stream.get("channels", 2)))
            lengths["audio"] = _seconds(stream.get("duration"))
            if audio.sample_rate <= 0 or audio.channels <= 0:
                raise BadInput(f"{path}: its audio stream has no samples to read (sample rate "
                               f"{audio.sample_rate}, {audio.channels} channels: an empty or "
                               f"truncated file)")
    duration = data.get("format", {}).get("duration")
    if video is None and audio is None:
        raise BadInput(f"{path}: no video or audio stream")
    return MediaInfo(path, float(duration) if duration else None, video, frames, audio,
                     lengths["video"], lengths["audio"])


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


class FileVideoSource(VideoSource):
    """Frames of a file via ``cv2.VideoCapture``; ``t`` is the frame's presentation time."""

    Params = FileParams
    supports_virtual_clock = True
    live = False

    def __init__(self, spec=None, rig=None, *, path: str | None = None) -> None:
        if spec is not None:
            path = self.Params.model_validate(spec.params).path
        assert path is not None
        self.path = path
        self.clock = rig.clock if rig is not None else None
        self._offset = self.clock.now() if self.clock is not None else 0.0
        self._cap = cv2.VideoCapture(path)
        if not self._cap.isOpened():
            raise BadInput(f"{path}: OpenCV cannot open this video")
        fps = self._cap.get(cv2.CAP_PROP_FPS) or 25.0
        self.info = VideoInfo(int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                              int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), float(fps))
        self.stats = CaptureStats()
        self._index = 0
        self._last_t = -1.0

    @classmethod
    def open(cls, path: str) -> "FileVideoSource":
        return cls(path=path)

    def read(self, timeout_s: float | None = None) -> Frame | None:
        if self._cap is None or not self._cap.grab():
            raise EndOfStream(self.path)
        ok, image = self._cap.retrieve()
        if not ok or image is None:
            raise EndOfStream(self.path)
        pts = self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if pts <= self._last_t or (pts == 0.0 and self._index > 0):
            pts = self._index / self.info.fps  # containers without usable timestamps
        self._last_t = pts
        t = self._offset + pts
        if self.clock is not None:
            self.clock.sleep_until(t)
        frame = Frame(t=t, index=self._index, image=image)
        self._index += 1
        self.stats.delivered += 1
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class FileAudioSource(AudioSource):
    """Audio of any file ffmpeg reads (wav, flac, ogg, m4a, video with sound), as float32 chunks."""

    Params = FileParams
    supports_virtual_clock = True
    live = False

    def __init__(self, spec=None, rig=None, *, path: str | None = None,
                 sample_rate: int | None = None, channels: int | None = None,
                 chunk_s: float = 0.1) -> None:
        if spec is not None:
            path = self.Params.model_validate(spec.params).path
            sample_rate, channels, chunk_s = spec.sample_rate, spec.channels, spec.chunk_s
        assert path is not None
        self.path = path
        info = probe(path).audio
        if info is None:
            raise BadInput(f"{path}: no audio stream")
        self.info = AudioInfo(sample_rate or info.sample_rate, channels or info.channels)
        self.clock = rig.clock if rig is not None else None
        self._offset = self.clock.now() if self.clock is not None else 0.0
        self.stats = CaptureStats()
        self._chunk = max(1, round(chunk_s * self.info.sample_rate))
        self._position = 0
        self._proc = subprocess.Popen(
            [_require("ffmpeg"), "-v", "error", "-nostdin", "-i", path, "-vn", "-map", "0:a:0",
             "-f", "f32le", "-acodec", "pcm_f32le", "-ac", str(self.info.channels),
             "-ar", str(self.info.sample_rate), "-"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    @classmethod
    def open(cls, path: str, **kwargs) -> "FileAudioSource":
        return cls(path=path, **kwargs)

    def read(self, timeout_s: float | None = None) -> AudioChunk | None:
        if self._proc is None or self._proc.stdout is None:
            raise EndOfStream(self.path)
        frame_bytes = 4 * self.info.channels
        data = self._proc.stdout.read(self._chunk * frame_bytes)
        if not data:
            self.close()
            raise EndOfStream(self.path)
        usable = len(data) - len(data) % frame_bytes
        samples = np.frombuffer(data[:usable], dtype="<f4").reshape(-1, self.info.channels)
        t = self._offset + self._position / self.info.sample_rate
        self._position += samples.shape[0]
        if self.clock is not None:
            self.clock.sleep_until(self._offset + self._position / self.info.sample_rate)
        self.stats.delivered += 1
        return AudioChunk(t=t, samples=samples.copy(), sample_rate=self.info.sample_rate)

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
