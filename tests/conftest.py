"""Helpers shared by the project's own tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from harness.media import AudioChunk, Frame

REPO = Path(__file__).resolve().parent.parent


def textured_frames(n: int, fps: float = 30.0, size=(320, 180), seed: int = 0, start_t: float = 0.0,
                    moving: bool = True):
    """Frames of a panning noise texture (moving content with detail)."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.integers(0, 256, (h * 2, w * 2, 3), dtype=np.uint8)
    base = (base // 2 + 64).astype(np.uint8)
    frames = []
    for i in range(n):
        off = (i * 3) % w if moving else 0
        frames.append(Frame(t=start_t + i / fps, index=i, image=base[:h, off:off + w].copy()))
    return frames


def tone_chunks(seconds: float, rate: int = 48000, chunk_s: float = 0.02, freq: float = 440.0,
                level: float = 0.3, start_t: float = 0.0, silent=()):
    """Stereo sine chunks; ``silent`` is a list of (start, end) seconds zeroed out."""
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    mono = (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    for a, b in silent:
        mono[int(a * rate):int(b * rate)] = 0
    stereo = np.stack([mono, mono], axis=1)
    step = int(round(chunk_s * rate))
    return [AudioChunk(start_t + i / rate, stereo[i:i + step], rate) for i in range(0, n, step)]


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        pytest.fail("ffmpeg is required (scripts/setup.sh installs it)")
    return path


def make_clip(ffmpeg: str, path: Path, seconds: float = 4.0, black=(1.0, 2.0), freeze=None,
              size="320x240", fps=25, silence=None) -> Path:
    """A test clip: moving test pattern with a black stretch (and optional freeze/silence)."""
    chain = "[0:v]null"
    if freeze:
        first, last = int(freeze[0] * fps), int(freeze[1] * fps) - 1
        chain = f"[0:v]split[a][b];[a][b]freezeframes=first={first}:last={last}:replace={first - 1}"
    if black:
        chain += f",drawbox=enable='between(t,{black[0]},{black[1] - 0.001})':color=black:t=fill"
    cmd = [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={seconds}",
           "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
           "-filter_complex", chain + "[v]", "-map", "[v]", "-map", "1:a"]
    if silence:
        cmd += ["-af", f"volume=enable='between(t,{silence[0]},{silence[1]})':volume=0"]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)]
    subprocess.run(cmd, check=True)
    return path


pytest_plugins = ["pytester"]
