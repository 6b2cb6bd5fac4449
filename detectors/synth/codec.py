"""Real codec damage through ffmpeg: corrupted H.264/HEVC bitstreams and lossy audio re-encoding.

Transmission errors are made the way they happen: the pristine clip is encoded (libx264 or
libx265), bytes of some packets are overwritten by ffmpeg's ``noise`` bitstream filter, and the
stream is decoded with the decoder's own error concealment.  Ground truth is read off the result:
every frame is compared with the decode of the *undamaged* stream, and a frame is damaged where
its :data:`BLOCK` x :data:`BLOCK` blocks differ visibly (:data:`DAMAGE_LEVEL`).  Runs of damaged
frames are ``block_corruption`` episodes carrying their bounding region, damaged-area ratios,
codec and severity.

Concealment also holds pictures: a decoder that loses a frame shows the last good one again.
Where the damaged decode repeats its previous picture while the clean decode moves, the viewer
sees the picture stop, and the ground truth says so (:func:`label_holds`): a hold of
:data:`FREEZE_S` or more is a ``freeze``; shorter holds, at least :data:`STUTTER_STEPS` of them
less than :data:`STUTTER_GAP_S` apart, are ``stutter`` (a lone repeated picture is not judder,
as DEFECTS.md's detectors define it).

Everything here is deterministic: fixed encoder threads, bit-exact muxing, a single-threaded
damaged decode, and the ``noise`` filter's own deterministic byte choice.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from detectors.base import Event
from detectors.synth import truth
from detectors.synth.audio import replace_samples, sample_span
from detectors.synth.video import episode_span
from harness.capture.file import _require
from harness.media import AudioChunk, Frame

Codec = Literal["h264", "hevc"]

GOP_S = 2.0           # keyframe interval of the damaged stream: damage lasts until the next one
BLOCK = 16            # damage is measured per macroblock-sized block ...
DAMAGE_LEVEL = 10.0   # ... a block is damaged when its mean absolute difference exceeds this
MIN_BLOCKS = 2        # a frame is damaged when at least this many blocks are
MERGE_GAP = 2         # damaged runs this many frames apart or less are one episode
HOLD_WIDTH = 160      # holds are judged on luma downscaled to this width ...
HOLD_LEVEL = 4        # ... where a pixel changed when it moved by more than this (0-255) ...
HOLD_REPEAT = 0.002   # ... a picture repeats its predecessor when at most this share changed ...
HOLD_MOVED = 0.01     # ... while the clean decode changed at least this share
FREEZE_S = 0.5        # a hold this long is a freeze ...
STUTTER_STEPS = 2     # ... shorter holds are stutter when at least this many come ...
STUTTER_GAP_S = 0.5   # ... less than this apart

_ENCODERS: dict[str, list[str]] = {
    "h264": ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-threads", "2"],
    "hevc": ["-c:v", "libx265", "-preset", "veryfast", "-crf", "26",
             "-x265-params", "log-level=error:pools=2:frame-threads=2"],
}


@dataclass(frozen=True)
class Hit:
    """Packets ``[first, last]`` (decode order) to damage, about ``flips`` bytes overwritten in
    each (whatever its size)."""

    first: int
    last: int
    flips: int
    severity: float


def hit_for(packet: int, severity: float) -> Hit:
    """The damage of one hit at ``packet``: 1 to 4 consecutive packets, 2 (severity near 0) to
    32 (severity 1) bytes of each overwritten."""
    return Hit(packet, packet + round(3 * severity), round(2 + 30 * severity), severity)


def noise_expression(hits: Sequence[Hit]) -> str:
    """The ``noise`` filter's per-packet ``amount`` expression for ``hits``: it overwrites about
    one byte in ``amount`` (0: the packet is untouched)."""
    expr = "0"
    for hit in reversed(hits):
        expr = (f"if(between(n\\,{hit.first}\\,{hit.last})\\,"
                f"max(floor(size/{hit.flips})\\,1)\\,{expr})")
    return expr


def _ffmpeg(args: list[str], stdin: bytes | None = None) -> bytes:
    proc = subprocess.run([_require("ffmpeg"), "-v", "error", "-nostdin", "-y", *args],
                          input=stdin, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def _decode(path: Path, n: int, width: int, height: int, fps: float) -> list[np.ndarray]:
    """``n`` BGR frames on the constant-rate timeline (a frame the decoder lost repeats the one
    before, as on a real sink)."""
    raw = _ffmpeg(["-threads", "1", "-i", str(path), "-fps_mode", "cfr", "-r", f"{fps:g}",
                   "-f", "rawvideo", "-pix_fmt", "bgr24", "-"])
    frame_bytes = width * height * 3
    count = len(raw) // frame_bytes
    if count == 0:
        raise RuntimeError(f"{path}: nothing decoded")
    frames = [np.frombuffer(raw, np.uint8, frame_bytes, k * frame_bytes).reshape(height, width, 3)
              for k in range(min(count, n))]
    return frames + [frames[-1]] * (n - len(frames))


def damaged_blocks(clean: np.ndarray, damaged: np.ndarray) -> np.ndarray:
    """Boolean map of the :data:`BLOCK`-sized blocks whose mean absolute difference (the largest
    over the colour channels) exceeds :data:`DAMAGE_LEVEL`; partial edge blocks are ignored."""
    h, w = clean.shape[:2]
    rows, cols = h // BLOCK, w // BLOCK
    diff = np.abs(clean[:rows * BLOCK, :cols * BLOCK].astype(np.int16)
                  - damaged[:rows * BLOCK, :cols * BLOCK]).max(axis=2)
    means = diff.reshape(rows, BLOCK, cols, BLOCK).mean(axis=(1, 3))
    return means > DAMAGE_LEVEL


def label_damage(clean: Sequence[np.ndarray], damaged: Sequence[np.ndarray],
                 times: Sequence[float], codec: str, hits: Sequence[Hit]) -> list[Event]:
    """Ground truth from the per-frame difference of two decodes of one stream: runs of damaged
    frames (gaps up to :data:`MERGE_GAP` frames bridged) become ``block_corruption`` events with
    the bounding region of every damaged block, ``area_ratio`` (largest) and ``mean_area_ratio``
    over the damaged frames, and the severity of the hit that caused them (the last one whose
    first packet is at most :data:`MERGE_GAP` frames after the run's start: B-frames show
    damage a little before their packet's decode position)."""
    maps = [damaged_blocks(a, b) for a, b in zip(clean, damaged)]
    hit = [int(m.sum()) >= MIN_BLOCKS for m in maps]
    events: list[Event] = []
    k = 0
    while k < len(hit):
        if not hit[k]:
            k += 1
            continue
        last = k
        while True:
            ahead = [j for j in range(last + 1, min(last + 2 + MERGE_GAP, len(hit))) if hit[j]]
            if not ahead:
                break
            last = ahead[0]
        union = np.logical_or.reduce([maps[j] for j in range(k, last + 1)])
        ys, xs = np.nonzero(union)
        ratios = [float(maps[j].mean()) for j in range(k, last + 1) if hit[j]]
        region = (int(xs.min()) * BLOCK, int(ys.min()) * BLOCK,
                  int(xs.max() - xs.min() + 1) * BLOCK, int(ys.max() - ys.min() + 1) * BLOCK)
        _, _, start, end = episode_span(times, times[k], times[last] + 1e-6)
        cause = [h for h in hits if h.first <= k + MERGE_GAP] or [hits[0]]
        events.append(truth("block_corruption", start, end, cause[-1].severity, region,
                            source="bitstream", codec=codec, area_ratio=round(max(ratios), 4),
                            mean_area_ratio=round(float(np.mean(ratios)), 4),
                            frames=last - k + 1))
        k = last + 1
    return events


def _small_luma(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    size = (HOLD_WIDTH, max(1, round(height * HOLD_WIDTH / width)))
    return cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), size, interpolation=cv2.INTER_AREA)


def _changed(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(np.abs(a.astype(np.int16) - b) > HOLD_LEVEL)) / a.size


def label_holds(clean: Sequence[np.ndarray], damaged: Sequence[np.ndarray],
                times: Sequence[float], codec: str) -> list[Event]:
    """``freeze`` and ``stutter`` ground truth where the damaged decode repeats a picture the
    clean decode does not (see the module's docstring)."""
    small_clean = [_small_luma(img) for img in clean]
    small_bad = [_small_luma(img) for img in damaged]
    held = [False] + [_changed(small_bad[k], small_bad[k - 1]) <= HOLD_REPEAT
                      and _changed(small_clean[k], small_clean[k - 1]) >= HOLD_MOVED
                      for k in range(1, len(times))]
    interval = (times[-1] - times[0]) / max(1, len(times) - 1) if len(times) > 1 else 0.04
    runs: list[tuple[int, int]] = []          # [first, last] held frames
    for k, h in enumerate(held):
        if h and runs and runs[-1][1] == k - 1:
            runs[-1] = (runs[-1][0], k)
        elif h:
            runs.append((k, k))
    events: list[Event] = []
    short: list[tuple[int, int]] = []

    def close_stutter() -> None:
        if len(short) >= STUTTER_STEPS:
            _, _, start, end = episode_span(times, times[short[0][0]], times[short[-1][1]] + 1e-6)
            events.append(truth("stutter", start, end, 1.0, source="bitstream", codec=codec,
                                pattern="concealment", count_repeats=len(short)))
        short.clear()

    for first, last in runs:
        if (last - first + 1) * interval >= FREEZE_S - 1e-9:
            close_stutter()
            _, _, start, end = episode_span(times, times[first], times[last] + 1e-6)
            events.append(truth("freeze", start, end, 1.0, source="bitstream", codec=codec))
            continue
        if short and times[first] - times[short[-1][1]] >= STUTTER_GAP_S:
            close_stutter()
        short.append((first, last))
    close_stutter()
    return events


def bitstream_damage(frames: Sequence[Frame], fps: float, codec: Codec,
                     hits: Sequence[Hit]) -> tuple[list[Frame], list[Event]]:
    """Encode ``frames`` with ``codec``, damage the packets of ``hits`` (decode order; see
    :func:`hit_for`), decode, and label the damage (:func:`label_damage`).

    Returns the damaged decode (the clean decode elsewhere: the codec's own compression is part
    of the picture) and its ground truth (``block_corruption``, and the ``freeze``/``stutter``
    its concealment caused); a hit the decoder fully concealed yields no event.
    """
    height, width = frames[0].image.shape[:2]
    raw = b"".join(np.ascontiguousarray(f.image).tobytes() for f in frames)
    with tempfile.TemporaryDirectory() as tmp:
        clean_path, bad_path = Path(tmp) / "clean.mkv", Path(tmp) / "damaged.mkv"
        _ffmpeg(["-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
                 "-r", f"{fps:g}", "-i", "-", *_ENCODERS[codec], "-g", str(round(GOP_S * fps)),
                 "-pix_fmt", "yuv420p", "-fflags", "+bitexact", "-flags:v", "+bitexact",
                 str(clean_path)], stdin=raw)
        _ffmpeg(["-i", str(clean_path), "-c", "copy",
                 "-bsf:v", f"noise=amount={noise_expression(hits)}",
                 "-fflags", "+bitexact", "-flags:v", "+bitexact", str(bad_path)])
        clean = _decode(clean_path, len(frames), width, height, fps)
        damaged = _decode(bad_path, len(frames), width, height, fps)
    times = [f.t for f in frames]
    events = label_damage(clean, damaged, times, codec, hits) + \
        label_holds(clean, damaged, times, codec)
    out = [Frame(f.t, f.index, image) for f, image in zip(frames, damaged)]
    return out, events


def lossy_bitrate_kbps(severity: float) -> int:
    """Opus bitrate of a lossy re-encode: 24 kb/s (severity near 0) down to 6 kb/s (severity 1),
    for stereo programme sound."""
    return round(24 - 18 * severity)


def lossy_episode(audio: AudioChunk, start_s: float, end_s: float,
                  severity: float = 1.0) -> tuple[AudioChunk, Event]:
    """``distortion`` by a lossy re-encode at a very low bitrate (:func:`lossy_bitrate_kbps`,
    Opus): band-limited, warbling sound over the episode.  The whole track goes through the codec
    (so the episode's edges are in time; Opus' pre-skip is honoured by the decoder) and the
    episode's samples are taken from it."""
    a, b, start, end = sample_span(audio, start_s, end_s)
    rate, channels = audio.sample_rate, audio.channels
    kbps = lossy_bitrate_kbps(severity)
    with tempfile.TemporaryDirectory() as tmp:
        coded = Path(tmp) / "lossy.ogg"
        _ffmpeg(["-f", "f32le", "-ar", str(rate), "-ac", str(channels), "-i", "-",
                 "-c:a", "libopus", "-b:a", f"{kbps}k", "-fflags", "+bitexact", str(coded)],
                stdin=np.ascontiguousarray(audio.samples, "<f4").tobytes())
        raw = _ffmpeg(["-i", str(coded), "-f", "f32le", "-ar", str(rate), "-ac", str(channels),
                       "-"])
    decoded = np.frombuffer(raw, "<f4").reshape(-1, channels)
    segment = np.zeros((b - a, channels), np.float32)
    usable = decoded[a:b]
    segment[:usable.shape[0]] = usable
    return (replace_samples(audio, a, segment),
            truth("distortion", start, end, severity, mode="lossy", codec="opus",
                  bitrate_kbps=kbps))
