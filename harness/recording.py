"""Recording what the capture saw, with memory kept bounded.

A :class:`Recorder` listens to the Dut's frame pump and keeps every frame as a
JPEG (optionally downscaled) plus the audio, up to ``max_bytes``; beyond that
the oldest frames are discarded and *counted* (``discarded_frames``), never
silently lost.  ``finish()`` gives a :class:`Segment`: frames, audio and the key
log of a stretch of time, replayable through any detector and writable as a clip
(H.264 with the audio muxed in).  A clip that cannot be written (a full disk, a
directory that takes no files) is a :class:`RecordingError` naming the path and
the reason; nothing half-written is left, and files written before are kept.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import subprocess
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from harness.control.base import KeyPress
from harness.errors import BadInput, HarnessError
from harness.media import AudioChunk, Frame


@dataclass(frozen=True)
class StoredFrame:
    t: float
    index: int
    jpeg: bytes
    source_size: tuple[int, int]  # width, height of the captured frame

    def decode(self) -> Frame:
        image = cv2.imdecode(np.frombuffer(self.jpeg, np.uint8), cv2.IMREAD_COLOR)
        return Frame(t=self.t, index=self.index, image=image)


@dataclass
class Segment:
    """A stretch of captured time: frames, audio and key presses, all on the session clock."""

    start_s: float
    end_s: float
    stored_frames: list[StoredFrame] = field(default_factory=list)
    audio_chunks: list[AudioChunk] = field(default_factory=list)
    keys: list[KeyPress] = field(default_factory=list)
    discarded_frames: int = 0
    discarded_audio_chunks: int = 0

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def frames(self) -> Iterator[Frame]:
        """Decoded frames in order (decoded lazily: a long segment is not expanded at once)."""
        return (stored.decode() for stored in self.stored_frames)

    @property
    def audio(self) -> list[AudioChunk]:
        return self.audio_chunks

    def __len__(self) -> int:
        return len(self.stored_frames)

    def frame_at(self, t: float) -> Frame | None:
        """The frame on screen at time ``t`` (the last one shown at or before it)."""
        best = None
        for stored in self.stored_frames:
            if stored.t <= t + 1e-9:
                best = stored
            else:
                break
        if best is None and self.stored_frames:
            best = self.stored_frames[0]
        return None if best is None else best.decode()

    def audio_between(self, start_s: float, end_s: float) -> tuple[np.ndarray, int] | None:
        if not self.audio_chunks:
            return None
        rate = self.audio_chunks[0].sample_rate
        parts = [c.samples for c in self.audio_chunks if c.end > start_s and c.t < end_s]
        if not parts:
            return None
        first = next(c for c in self.audio_chunks if c.end > start_s)
        samples = np.concatenate(parts)
        skip = max(0, int(round((start_s - first.t) * rate)))
        keep = int(round((end_s - start_s) * rate))
        return samples[skip:skip + keep], rate

    def write_clip(self, path: str | Path, start_s: float | None = None,
                   end_s: float | None = None) -> Path:
        """Encode ``[start_s, end_s]`` (default: all) as H.264 MP4 with the audio muxed in."""
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise BadInput("writing a clip needs ffmpeg; run scripts/setup.sh")
        start_s = self.start_s if start_s is None else start_s
        end_s = self.end_s if end_s is None else end_s
        chosen = [f for f in self.stored_frames if start_s - 1e-9 <= f.t <= end_s]
        if not chosen:
            raise BadInput(f"no frames recorded between {start_s:.2f} and {end_s:.2f} s")
        path = Path(path)
        directory = _writable_dir(path)
        first = chosen[0].decode().image
        height, width = first.shape[:2]
        span = max(chosen[-1].t - chosen[0].t, 1e-3)
        fps = max(1.0, (len(chosen) - 1) / span) if len(chosen) > 1 else 25.0
        try:
            with tempfile.TemporaryDirectory(dir=directory, prefix=".clip-") as tmp:
                # encoded beside the clip, then renamed: a failed write leaves no half clip and
                # never replaces one written before
                partial = Path(tmp) / f"partial{path.suffix or '.mp4'}"
                cmd = [ffmpeg, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
                       "-s", f"{width}x{height}", "-r", f"{fps:.4f}", "-i", "-"]
                audio = self.audio_between(chosen[0].t, chosen[-1].t + 1.0 / fps)
                if audio is not None:
                    import soundfile

                    wav = Path(tmp) / "audio.wav"
                    encoded = io.BytesIO()  # encoded in memory, so a full disk is a plain OSError
                    soundfile.write(encoded, np.clip(audio[0], -1, 1), audio[1], format="WAV",
                                    subtype="PCM_16")
                    wav.write_bytes(encoded.getvalue())
                    cmd += ["-i", str(wav), "-c:a", "aac", "-b:a", "128k"]
                cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                        "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-movflags", "+faststart",
                        "-shortest", str(partial)]
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
                assert proc.stdin is not None
                try:
                    for stored in chosen:
                        image = stored.decode().image
                        if image.shape[:2] != (height, width):
                            image = cv2.resize(image, (width, height))
                        proc.stdin.write(image.tobytes())
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                if proc.wait() != 0:
                    if "No space left" in err:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    raise RecordingError(f"ffmpeg could not write {path}: {err.strip()[-300:]}")
                os.replace(partial, path)
        except RecordingError:
            raise
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                free = shutil.disk_usage(directory).free
                raise RecordingError(f"disk full writing {path} ({free // 1024} KiB free in "
                                     f"{directory}); clips and results written before are kept "
                                     f"(fix: free space or record elsewhere)") from None
            raise RecordingError(f"cannot write {path}: {exc.strerror or exc}") from None
        return path


class RecordingError(HarnessError, OSError):
    """A clip could not be written (disk full, directory not writable); nothing half-written is left."""


def _writable_dir(path: Path) -> Path:
    """The clip's directory, created if needed; :class:`RecordingError` if it cannot take files."""
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecordingError(f"cannot create the directory for {path}: {exc.strerror or exc} "
                             f"(fix: record into a writable directory)") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise RecordingError(f"cannot write {path}: {directory} is not writable "
                             f"(fix: record into a writable directory)")
    return directory


class Recorder:
    """Keeps what the pump delivers between ``start`` and ``finish``, within ``max_bytes``."""

    def __init__(self, start_s: float, scale: float = 1.0, jpeg_quality: int = 90,
                 max_bytes: int = 256 * 1024 * 1024, keep_audio: bool = True) -> None:
        if not 0 < scale <= 1:
            raise BadInput(f"recording scale must be in (0, 1], got {scale}")
        self.start_s = start_s
        self.scale = scale
        self.jpeg_quality = jpeg_quality
        self.max_bytes = max_bytes
        self.keep_audio = keep_audio
        self._frames: deque[StoredFrame] = deque()
        self._audio: deque[AudioChunk] = deque()
        self._frame_bytes = 0
        self._audio_bytes = 0
        self.discarded_frames = 0
        self.discarded_audio_chunks = 0

    def on_frame(self, frame: Frame) -> None:
        image = frame.image
        if self.scale < 1:
            image = frame.small(max(16, int(frame.width * self.scale)))
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:  # pragma: no cover - imencode only fails on invalid input
            self.discarded_frames += 1
            return
        stored = StoredFrame(frame.t, frame.index, buf.tobytes(), (frame.width, frame.height))
        self._frames.append(stored)
        self._frame_bytes += len(stored.jpeg)
        while self._frame_bytes + self._audio_bytes > self.max_bytes and len(self._frames) > 1:
            dropped = self._frames.popleft()
            self._frame_bytes -= len(dropped.jpeg)
            self.discarded_frames += 1

    def on_audio(self, chunk: AudioChunk) -> None:
        if not self.keep_audio:
            return
        self._audio.append(chunk)
        self._audio_bytes += chunk.samples.nbytes
        while self._audio_bytes > self.max_bytes // 4 and len(self._audio) > 1:
            dropped = self._audio.popleft()
            self._audio_bytes -= dropped.samples.nbytes
            self.discarded_audio_chunks += 1

    def finish(self, end_s: float, keys: list[KeyPress]) -> Segment:
        return Segment(start_s=self.start_s, end_s=end_s, stored_frames=list(self._frames),
                       audio_chunks=list(self._audio),
                       keys=[k for k in keys if self.start_s <= k.t_down <= end_s],
                       discarded_frames=self.discarded_frames,
                       discarded_audio_chunks=self.discarded_audio_chunks)
