"""Calibrating the capture chain's own audio-video offset with a flash-and-beep pattern.

A capture rig delays picture and sound by different amounts (the card's frame
buffering and USB transfer against the audio interface's buffers).  Played
through the chain, a pattern whose white flashes and tone bursts start at the
same instant shows that difference: each beep's onset (to the sample, from the
chunk's ADC time) minus its flash's onset (the first bright frame's capture
time).  The median over every pair is stored in the profile as
``latency.capture_av_offset_ms`` (positive: the rig delivers audio later than
video), so reported A/V offsets are the device's, not the rig's.

    harness calibrate DEVICE --pattern cal.mp4   # make the pattern for the profile's format
    (play cal.mp4 on a loop into the capture chain: from the device, or an HDMI source)
    harness calibrate DEVICE                     # measure and write it into the profile
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from harness.capture.file import _require
from harness.errors import BadInput, HarnessError
from harness.media import AudioChunk, Frame
from harness.profile import Profile

PERIOD_S = 1.0  # one flash and one beep per second
FLASH_S = 0.1  # each lasts 100 ms
BEEP_HZ = 1000.0
BEEP_LEVEL = 0.5
MIN_PAIRS = 3


class CalibrationFailed(HarnessError):
    """The pattern could not be measured (not playing, too few pairs, inconsistent offsets)."""


def make_pattern(path: str | Path, width: int, height: int, fps: float, seconds: float = 60.0,
                 sample_rate: int = 48000, channels: int = 2) -> Path:
    """Write the flash-and-beep pattern: black, with a white flash and a 1 kHz beep each second.

    ``.mkv``/``.mov`` carry the audio as PCM; other containers as AAC (whose
    encoder delay the container's edit list compensates).
    """
    path = Path(path)
    on = f"lt(mod(t\\,{PERIOD_S:g})\\,{FLASH_S:g})"
    pcm = path.suffix.lower() in (".mkv", ".mov")
    cmd = [_require("ffmpeg"), "-v", "error", "-y", "-nostdin",
           "-f", "lavfi", "-i", f"color=c=black:s={width}x{height}:r={fps:g}:d={seconds:g}",
           "-f", "lavfi", "-i", f"aevalsrc='if({on}\\,{BEEP_LEVEL:g}*sin(2*PI*{BEEP_HZ:g}*t)\\,0)'"
                                f":s={sample_rate}:d={seconds:g}",
           "-vf", f"drawbox=enable='{on}':color=white:t=fill",
           "-ac", str(channels), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
           "-c:a", "pcm_s16le" if pcm else "aac", *([] if pcm else ["-b:a", "192k"]),
           "-shortest", str(path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise BadInput(f"{path}: ffmpeg could not write the pattern: {result.stderr.strip()[-300:]}")
    return path


@dataclass
class Calibration:
    """Flash and beep onsets on the harness clock, paired; offsets are beep minus flash."""

    flashes: list[float]
    beeps: list[float]
    pairs: list[tuple[float, float]] = field(default_factory=list)

    @property
    def offsets_ms(self) -> np.ndarray:
        return np.array([(beep - flash) * 1000.0 for flash, beep in self.pairs])

    @property
    def offset_ms(self) -> float:
        return float(np.median(self.offsets_ms))

    @property
    def spread_ms(self) -> float:
        offsets = self.offsets_ms
        return float(offsets.max() - offsets.min())

    def __str__(self) -> str:
        return (f"{len(self.pairs)} flash/beep pairs ({len(self.flashes)} flashes, {len(self.beeps)} "
                f"beeps): audio {self.offset_ms:+.1f} ms against video (median; "
                f"{self.offsets_ms.min():+.1f} to {self.offsets_ms.max():+.1f} ms)")


class FlashBeepMeter:
    """A Dut listener that keeps each frame's brightness and the audio's envelope, then measures."""

    def __init__(self) -> None:
        self._frames: list[tuple[float, float]] = []
        self._chunks: list[tuple[float, np.ndarray]] = []
        self._rate = 0

    def on_frame(self, frame: Frame) -> None:
        self._frames.append((frame.t, float(frame.gray(64).mean())))

    def on_audio(self, chunk: AudioChunk) -> None:
        self._rate = chunk.sample_rate
        self._chunks.append((chunk.t, np.abs(chunk.samples).max(axis=1)))

    def flash_onsets(self) -> list[float]:
        """Times of the first bright frame of each flash."""
        if len(self._frames) < 2:
            raise CalibrationFailed("no video captured")
        times, luma = (np.array(v) for v in zip(*self._frames))
        dark, bright = np.percentile(luma, 5), np.percentile(luma, 95)
        if bright - dark < 50:
            raise CalibrationFailed(f"no flashes in the picture (brightness {dark:.0f} to "
                                    f"{bright:.0f}): is the pattern playing?")
        lit = luma >= (dark + bright) / 2
        return [float(t) for t in times[1:][lit[1:] & ~lit[:-1]]]

    def beep_onsets(self) -> list[float]:
        """Times of the first sample of each beep (after at least half a period of quiet)."""
        if not self._chunks:
            raise CalibrationFailed("no audio captured")
        envelope = np.concatenate([env for _, env in self._chunks])
        times = np.concatenate([t + np.arange(len(env)) / self._rate for t, env in self._chunks])
        loud, quiet = np.percentile(envelope, 99.9), np.percentile(envelope, 50)
        if loud < 0.01 or loud < 10 * quiet:
            raise CalibrationFailed(f"no beeps in the audio (peak {loud:.3f}, floor {quiet:.3f}): "
                                    f"is the pattern playing, and the audio routed?")
        above = np.flatnonzero(envelope >= 0.3 * loud)
        gap = int(0.5 * PERIOD_S * self._rate)
        starts = above[np.concatenate(([True], np.diff(above) > gap))]
        return [float(times[i]) for i in starts]

    def measure(self) -> Calibration:
        flashes, beeps = self.flash_onsets(), self.beep_onsets()
        result = Calibration(flashes, beeps)
        beep_times = np.array(beeps)
        for flash in flashes:
            nearest = beep_times[np.argmin(np.abs(beep_times - flash))]
            if abs(nearest - flash) < PERIOD_S / 2:
                result.pairs.append((flash, float(nearest)))
        if len(result.pairs) < MIN_PAIRS:
            raise CalibrationFailed(f"only {len(result.pairs)} flash/beep pairs ({len(flashes)} "
                                    f"flashes, {len(beeps)} beeps); need {MIN_PAIRS}: capture longer")
        frame_ms = 1000.0 * float(np.median(np.diff([t for t, _ in self._frames])))
        if result.spread_ms > 2 * frame_ms + 5:
            raise CalibrationFailed(f"inconsistent offsets ({result}): more than two frames apart; "
                                    f"is the pattern played smoothly?")
        return result


def calibrate(profile: Profile, seconds: float = 10.0) -> Calibration:
    """Capture ``seconds`` of the pattern through ``profile``'s rig and measure the offset."""
    from harness.dut import Dut
    from harness.rig import Rig

    if profile.audio is None:
        raise BadInput(f"device {profile.name!r} has no audio capture: there is no A/V offset "
                       f"to calibrate")
    dut = Dut(Rig(profile))
    meter = FlashBeepMeter()
    try:
        dut.add_listener(meter)
        dut.wait(seconds)
    finally:
        dut.remove_listener(meter)
        dut.close()
    return meter.measure()


_BLOCK = re.compile(r"^latency:[ \t]*(#.*)?$")
_FLOW = re.compile(r"^latency:[ \t]*\{.*\}[ \t]*(#.*)?$")
_KEY = re.compile(r"^(?P<indent>[ \t]+)capture_av_offset_ms:(?P<space>[ \t]*)[^#\n]*?"
                  r"(?P<comment>[ \t]+#.*)?$")


def set_capture_av_offset(path: str | Path, offset_ms: float) -> None:
    """Write ``latency.capture_av_offset_ms`` into a profile, keeping the rest of the file as it is.

    Only that value changes (its line, or one new line); the result is checked to
    be the same YAML but for that key and written atomically, so a failure leaves
    the profile untouched.
    """
    path = Path(path)
    text = path.read_text()
    original = yaml.safe_load(text)
    value = f"{offset_ms:.1f}"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _BLOCK.match(line.rstrip("\n"))), None)
    if start is not None:
        end = start + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
            end += 1
        for i in range(start + 1, end):
            match = _KEY.match(lines[i].rstrip("\n"))
            if match:
                lines[i] = (f"{match['indent']}capture_av_offset_ms:{match['space'] or ' '}{value}"
                            f"{match['comment'] or ''}\n")
                break
        else:
            child = next((re.match(r"[ \t]+", lines[i]) for i in range(start + 1, end)
                          if lines[i].strip() and not lines[i].lstrip().startswith("#")), None)
            indent = child.group(0) if child else "  "
            lines.insert(start + 1, f"{indent}capture_av_offset_ms: {value}\n")
    else:
        flows = ((i, _FLOW.match(line.rstrip("\n"))) for i, line in enumerate(lines))
        flow, match = next(((i, m) for i, m in flows if m), (None, None))
        if flow is not None and match is not None:
            comment = match[1]
            latency = dict(yaml.safe_load(lines[flow])["latency"])
            latency["capture_av_offset_ms"] = float(value)
            mapping = yaml.safe_dump(latency, default_flow_style=True, sort_keys=False).strip()
            lines[flow] = f"latency: {mapping}{'  ' + comment if comment else ''}\n"
        else:
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            lines += ["latency:\n", f"  capture_av_offset_ms: {value}\n"]
    updated = "".join(lines)
    expected = dict(original)
    expected["latency"] = {**(original.get("latency") or {}), "capture_av_offset_ms": float(value)}
    if yaml.safe_load(updated) != expected:
        raise BadInput(f"{path}: could not place latency.capture_av_offset_ms in this file's layout; "
                       f"set it to {value} by hand")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(updated)
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
