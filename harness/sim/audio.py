"""Sound for the simulated device: programme music loops, the cut accent and the UI tick.

Programme sound is a seamless loop per catalogue item, held in memory (a few seconds for the
synthesised music, one minute for a real track), so a 20 ms chunk is an index operation.
Everything here is stereo float32 at the output sample rate, mapped to the output channel count
by :func:`to_channels`.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from detectors.synth.audio import PROGRAM_RMS

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
# Chord progressions as scale degrees, one chord per bar:
# I-V-vi-IV, vi-IV-I-V, I-vi-IV-V, ii-V-I-vi.
PROGRESSIONS = ((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (1, 4, 0, 5))
_PENTATONIC = (0, 1, 2, 4, 5)  # degrees of the major scale
LOOP_BEATS = 16                 # four bars of 4/4
LOOP_XFADE_S = 0.05             # crossfade that makes a real-music loop seamless
GAP_DB = -35.0                  # 50 ms stretches of real music this far below its RMS are cut out
SPARE_S = 10.0                  # real music read beyond the loop, to make up for cut gaps


@dataclass(frozen=True)
class SyntheticMusic:
    """Parameters of a synthesised piece: tempo, key (MIDI note of the tonic) and progression."""

    bpm: float
    root: int
    progression: int
    seed: int

    def beat_samples(self, sample_rate: int) -> int:
        return round(sample_rate * 60.0 / self.bpm)


@dataclass(frozen=True)
class RealMusic:
    """One minute of a music file, from ``offset_s`` on."""

    path: Path
    offset_s: float


def to_channels(stereo: np.ndarray, channels: int) -> np.ndarray:
    """Stereo to the output layout: mono is the mid signal; beyond two, extra channels carry the
    mid signal at -6 dB (so none of them is silent)."""
    if channels == 2:
        return np.ascontiguousarray(stereo, np.float32)
    mid = stereo.mean(axis=1, keepdims=True)
    if channels == 1:
        return mid.astype(np.float32)
    extra = np.repeat(mid * 0.5, channels - 2, axis=1)
    return np.concatenate([stereo, extra], axis=1).astype(np.float32)


def _normalise(stereo: np.ndarray) -> np.ndarray:
    """Scale to the nominal programme level, keeping peaks below -1 dBFS."""
    rms = float(np.sqrt(np.mean(stereo ** 2)))
    gain = PROGRAM_RMS / max(rms, 1e-9)
    peak = float(np.abs(stereo).max()) * gain
    if peak > 0.89:
        gain *= 0.89 / peak
    return stereo * gain


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


def _degree(root: int, degree: int) -> int:
    return root + _MAJOR[degree % 7] + 12 * (degree // 7)


def _add(buf: np.ndarray, start: int, signal: np.ndarray, pan: float) -> None:
    """Mix a mono ``signal`` into the circular stereo ``buf`` at ``start`` (tails wrap around)."""
    left, right = np.sqrt(0.5 - 0.5 * pan), np.sqrt(0.5 + 0.5 * pan)
    n, size = signal.shape[0], buf.shape[0]
    for lo in range(0, n, size):
        part = signal[lo:lo + size]
        at = (start + lo) % size
        first = min(part.shape[0], size - at)
        buf[at:at + first, 0] += part[:first] * left
        buf[at:at + first, 1] += part[:first] * right
        rest = part.shape[0] - first
        if rest:
            buf[:rest, 0] += part[first:] * left
            buf[:rest, 1] += part[first:] * right


def _tone(sr: int, length: int, freq: float, attack: float, decay: float | None, release: float,
          partials: tuple[tuple[int, float], ...]) -> np.ndarray:
    """A note ``length`` samples long plus its release: harmonic partials under an envelope
    (linear attack, exponential decay with time constant ``decay`` or sustain, linear release)."""
    rel = int(release * sr)
    t = np.arange(length + rel) / sr
    wave = sum(a * np.sin(2 * np.pi * freq * k * t) for k, a in partials)
    env = np.minimum(1.0, t / attack)
    if decay is not None:
        env *= np.exp(-t / decay)
    tail = np.ones_like(t)
    tail[length:] = np.linspace(1.0, 0.0, rel, endpoint=False)
    return wave * env * tail


def _drums(sr: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kick, snare and hi-hat one-shots."""
    t = np.arange(int(0.35 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 * t + 90 * 0.03 * (1 - np.exp(-t / 0.03)))) * np.exp(-t / 0.16)
    kick *= np.minimum(1.0, t / 0.002)
    t = np.arange(int(0.25 * sr)) / sr
    rattle = _bright_noise(rng, t.shape[0])
    snare = (0.12 * rattle * np.exp(-t / 0.07)
             + 0.5 * np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.05))
    snare *= np.minimum(1.0, t / 0.002)
    t = np.arange(int(0.06 * sr)) / sr
    hat = 0.05 * _bright_noise(rng, t.shape[0]) * np.exp(-t / 0.015) * np.minimum(1.0, t / 0.001)
    return kick, snare, hat


def _bright_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """White noise with its low end removed (first difference), unit RMS."""
    return np.diff(rng.standard_normal(n + 1)) / np.sqrt(2.0)


def synthesize_loop(music: SyntheticMusic, sample_rate: int, channels: int) -> np.ndarray:
    """Four bars of music as a seamless loop: pad chords, a bass line, a pentatonic melody and a
    drum pattern (kick on 1 and 3, snare on 2 and 4, hi-hats on eighths).  The pad sustains
    through every bar, so the music never falls silent."""
    sr = sample_rate
    beat = music.beat_samples(sr)
    rng = np.random.default_rng(music.seed)
    buf = np.zeros((LOOP_BEATS * beat, 2), np.float64)
    kick, snare, hat = _drums(sr, rng)
    chords = PROGRESSIONS[music.progression]
    melody_pos = 2
    for bar, degree in enumerate(chords):
        bar_start = bar * 4 * beat
        for voice, step in enumerate((0, 2, 4)):
            note = _degree(music.root, degree + step)
            _add(buf, bar_start, 0.05 * _tone(sr, 4 * beat, _hz(note), 0.08, None, 0.25,
                                             ((1, 1.0), (2, 0.35), (3, 0.12))), (voice - 1) * 0.4)
        bass = _hz(_degree(music.root, degree) - 12)
        for b in range(4):
            start = bar_start + b * beat
            _add(buf, start, 0.16 * _tone(sr, beat, bass, 0.005, 0.35, 0.03, ((1, 1.0), (2, 0.25))),
                 0.0)
            _add(buf, start, 0.55 * (kick if b % 2 == 0 else snare), 0.0)
            for half in range(2):
                _add(buf, start + half * beat // 2, hat * (1.0 if half else 0.6), 0.5)
            for half in range(2):
                if rng.random() < 0.35:
                    continue
                melody_pos = int(np.clip(melody_pos + rng.integers(-2, 3), 0, 9))
                octave, idx = divmod(melody_pos, 5)
                note = _degree(music.root, _PENTATONIC[idx] + 7 * octave) + 12
                _add(buf, start + half * beat // 2,
                     0.08 * _tone(sr, beat // 2, _hz(note), 0.008, 0.3, 0.04,
                                  ((1, 1.0), (2, 0.2), (3, 0.1))), -0.3)
    return to_channels(_normalise(buf), channels)


def load_loop(music: RealMusic, samples: int, sample_rate: int, channels: int) -> np.ndarray:
    """``samples`` samples of a music file from ``music.offset_s`` (moved earlier where the file
    ends too soon; it must be longer than the loop), resampled to ``sample_rate``, with pauses in
    the music cut out (:func:`_close_gaps`: programme sound never drops out) and made into a
    seamless loop by crossfading what follows the loop into its start."""
    info = sf.info(str(music.path))
    xfade = int(LOOP_XFADE_S * sample_rate)
    need = int(np.ceil((samples + xfade) * info.samplerate / sample_rate
                       + SPARE_S * info.samplerate))
    start = max(0, min(int(music.offset_s * info.samplerate), info.frames - need))
    data, rate = sf.read(str(music.path), start=start, frames=need, dtype="float32",
                         always_2d=True)
    if rate != sample_rate:
        g = gcd(rate, sample_rate)
        data = resample_poly(data, sample_rate // g, rate // g, axis=0)
    stereo = np.repeat(data, 2, axis=1) if data.shape[1] == 1 else data[:, :2]
    stereo = _close_gaps(stereo.astype(np.float64), sample_rate)
    loop = stereo[:samples].copy()
    ramp = np.linspace(0.0, 1.0, xfade, endpoint=False)[:, None]
    loop[:xfade] = loop[:xfade] * ramp + stereo[samples:samples + xfade] * (1.0 - ramp)
    return to_channels(_normalise(loop), channels)


def _close_gaps(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """``x`` without its near-silent stretches (50 ms windows GAP_DB below its RMS), the pieces
    joined with 10 ms crossfades."""
    win = int(0.05 * sample_rate)
    n = x.shape[0] // win
    level = np.sqrt(np.mean(x[:n * win].reshape(n, win, -1) ** 2, axis=(1, 2)))
    loud = level >= np.sqrt(np.mean(x ** 2)) * 10.0 ** (GAP_DB / 20.0)
    if loud.all():
        return x
    edges = np.flatnonzero(np.diff(np.concatenate([[False], loud, [False]]).astype(np.int8)))
    fade = int(0.01 * sample_rate)
    ramp = np.linspace(0.0, 1.0, fade, endpoint=False)[:, None]
    out: np.ndarray | None = None
    for a, b in zip(edges[::2], edges[1::2]):
        piece = x[a * win:(b * win if b < n else x.shape[0])]
        if piece.shape[0] <= 2 * fade:
            continue
        if out is None:
            out = piece
        else:
            joint = out[-fade:] * (1.0 - ramp) + piece[:fade] * ramp
            out = np.concatenate([out[:-fade], joint, piece[fade:]])
    return x if out is None else out


def cut_accent(sample_rate: int) -> np.ndarray:
    """A percussive hit (a crash and a low tom) played on every scene cut; mono, peak 1."""
    t = np.arange(int(0.45 * sample_rate)) / sample_rate
    crash = _bright_noise(np.random.default_rng(11), t.shape[0]) * np.exp(-t / 0.16) * 0.3
    tom = np.sin(2 * np.pi * (70 * t + 70 * 0.05 * (1 - np.exp(-t / 0.05)))) * np.exp(-t / 0.12)
    hit = (crash + tom) * np.minimum(1.0, t / 0.001)
    return (hit / np.abs(hit).max()).astype(np.float32)


def key_tick(sample_rate: int) -> np.ndarray:
    """The soft click the launcher plays on a key press (25 ms, peak 0.05); mono."""
    t = np.arange(int(0.025 * sample_rate)) / sample_rate
    tick = np.sin(2 * np.pi * 1800 * t) * np.exp(-t / 0.006) * np.minimum(1.0, t / 0.001)
    return (0.05 * tick).astype(np.float32)
