"""The evaluation corpus: real pristine content with every simulable defect kind injected.

``harness corpus build DIR --seed N --size tiny|small|large`` writes::

    DIR/manifest.json              seed, size, command, per-file sources, hard negatives,
                                   variants and clean seconds per kind, totals
    DIR/media/NAME.mp4|wav|flac    the media (H.264 + AAC; speech as WAV, music as FLAC)
    DIR/media/NAME.truth.json      ground truth in the ``harness analyze`` result format,
                                   its ``events`` from detector "injected"

Every file is one *programme* of real content (:mod:`detectors.synth.content`): a few scenes of
footage, animation, photos or a screencast joined by cuts and fades, with music, speech or the
scenes' own sound; or, for audio-only files, music and speech.  A defect file carries episodes of
one :data:`VARIANTS` entry (a kind in one of its forms, at seeded severities and times) made by
the injectors of :mod:`detectors.synth.video`, :mod:`~detectors.synth.audio` and
:mod:`~detectors.synth.codec`; a clean file carries none.  The themes (:data:`VIDEO_THEMES`,
:data:`AUDIO_THEMES`) are chosen so that the clean content holds what fools naive detectors:
crowds and fast motion, fades and dark scenes, static slides and menus, scene cuts, pulldown
cadence, percussive music, quiet passages, bass on the mains frequencies, applause.

The corpus is a function of the seed and the size: the same seed gives byte-identical truth
files and media that decode identically (files are built in parallel, each from its own seeded
generator).
"""

from __future__ import annotations

import inspect
import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile as sf

from detectors.base import Event
from detectors.synth import audio as audio_fx
from detectors.synth import codec
from detectors.synth import content
from detectors.synth import video as video_fx
from harness.capture.file import _require
from harness.errors import BadInput
from harness.media import AudioChunk, Frame

VIDEO_KINDS = ("black", "freeze", "stutter", "tearing", "block_corruption", "no_signal", "aspect",
               "blur", "interlace", "color_range")
AUDIO_KINDS = ("silence", "clicks", "hum", "hiss", "distortion", "loudness", "channel")
AV_KINDS = ("av_sync",)
KINDS = VIDEO_KINDS + AUDIO_KINDS + AV_KINDS  # every DEFECTS.md kind but the caption ones

SYNC_BED_GAIN = 0.1  # real music under the sync pattern's beeps (-20 dB): a test pattern is
                     # not a dropout between its beeps

Media = Literal["video", "audio"]


# --------------------------------------------------------------------------- clips
@dataclass
class Clip:
    """A programme being built: pictures (None for audio-only) and sound."""

    fmt: content.Format
    frames: list[Frame] | None
    audio: AudioChunk
    sources: list[str] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.audio.samples.shape[0] / self.audio.sample_rate


Apply = Callable[[Clip, float, float, float, np.random.Generator], Event]


def _episode(inject: Callable[..., tuple[Any, Event]], **params: Any) -> Apply:
    """An :data:`Apply` from a ``*_episode`` function of :mod:`~detectors.synth.video`,
    :mod:`~detectors.synth.audio` or :mod:`~detectors.synth.codec` (pictures or sound, start,
    end, ``rng`` where it draws, ``severity``, fixed ``params``)."""
    parameters = inspect.signature(inject).parameters
    on_frames, seeded = "frames" in parameters, "rng" in parameters

    def apply(clip: Clip, start: float, end: float, severity: float,
              rng: np.random.Generator) -> Event:
        kwargs = {**params, "severity": severity, **({"rng": rng} if seeded else {})}
        if on_frames:
            assert clip.frames is not None
            clip.frames, event = inject(clip.frames, start, end, **kwargs)
        else:
            clip.audio, event = inject(clip.audio, start, end, **kwargs)
        return event
    return apply


def _av_offset(sign: int) -> Apply:
    """Sound late (``sign`` 1) or early (-1) by 40 to 300 ms as severity goes from 0 to 1."""
    def apply(clip: Clip, start: float, end: float, severity: float,
              rng: np.random.Generator) -> Event:
        offset = sign * round(40 + 260 * severity)
        clip.audio, event = audio_fx.av_offset_episode(clip.audio, start, end, offset, severity)
        return event
    return apply


# --------------------------------------------------------------------------- variants
@dataclass(frozen=True)
class Variant:
    """One form of one defect kind as the corpus injects it."""

    kind: str
    media: Media                      # the file it goes in (av_sync: a video file's sound)
    seconds: tuple[float, float]      # episode length range
    severity: tuple[float, float]     # severity range
    themes: tuple[str, ...]           # programmes it is injected into
    apply: Apply | None = None        # None: real bitstream damage with ``bitstream``
    bitstream: codec.Codec | None = None
    max_episodes: int = 3
    min_new_share: float = 0.0        # episodes go where at least this share of frames is a new
                                      # picture (a cadence is only seen in content that moves)


_MOVING = ("crowd_motion", "animation", "camera")
_ANY_VIDEO = _MOVING + ("fades_dark", "static", "pulldown")
_MUSIC = ("music", "percussive", "quiet", "bass", "applause")
_ANY_AUDIO = _MUSIC + ("speech",)

VARIANTS: dict[str, Variant] = {
    "black": Variant("black", "video", (0.4, 1.5), (1.0, 1.0), _ANY_VIDEO,
                     _episode(video_fx.black_episode)),
    "near_black": Variant("black", "video", (0.4, 1.5), (0.88, 0.95), _ANY_VIDEO,
                          _episode(video_fx.black_episode)),
    "freeze": Variant("freeze", "video", (0.8, 2.5), (1.0, 1.0), _MOVING,
                      _episode(video_fx.freeze_episode)),
    "freeze_noisy": Variant("freeze", "video", (0.8, 2.5), (0.4, 0.8), _MOVING,
                            _episode(video_fx.freeze_episode)),
    "stutter_mixed": Variant("stutter", "video", (1.0, 2.5), (0.3, 1.0), _MOVING,
                             _episode(video_fx.stutter_episode, pattern="mixed"),
                             min_new_share=0.75),
    "stutter_drops": Variant("stutter", "video", (1.0, 2.5), (0.3, 1.0), _MOVING,
                             _episode(video_fx.stutter_episode, pattern="drops"),
                             min_new_share=0.75),
    "stutter_cadence": Variant("stutter", "video", (1.0, 2.5), (0.4, 1.0), ("pulldown",),
                               _episode(video_fx.stutter_episode, pattern="cadence")),
    "tearing": Variant("tearing", "video", (0.5, 1.5), (0.5, 1.0), _MOVING,
                       _episode(video_fx.tearing_episode, drift=None)),
    "blocks": Variant("block_corruption", "video", (0.3, 1.2), (0.2, 1.0), _ANY_VIDEO,
                      _episode(video_fx.block_corruption_episode)),
    "blocks_smear": Variant("block_corruption", "video", (0.3, 1.2), (0.2, 1.0), _ANY_VIDEO,
                            _episode(video_fx.block_corruption_episode,
                                     styles=("smear", "flat"))),
    # (moving content: a static picture's packets are too small to be hit reliably)
    "codec_h264": Variant("block_corruption", "video", (codec.GOP_S, codec.GOP_S), (0.2, 1.0),
                          _MOVING + ("pulldown",), bitstream="h264", max_episodes=2),
    "codec_hevc": Variant("block_corruption", "video", (codec.GOP_S, codec.GOP_S), (0.2, 1.0),
                          _MOVING + ("pulldown",), bitstream="hevc", max_episodes=2),
    "no_signal_blue": Variant("no_signal", "video", (1.0, 3.0), (1.0, 1.0), _ANY_VIDEO,
                              _episode(video_fx.no_signal_episode, style="blue")),
    "no_signal_bars": Variant("no_signal", "video", (1.0, 3.0), (1.0, 1.0), _ANY_VIDEO,
                              _episode(video_fx.no_signal_episode, style="bars")),
    **{f"aspect_{mode}": Variant("aspect", "video", (2.0, 4.0), (0.3, 1.0), _ANY_VIDEO,
                                 _episode(video_fx.aspect_episode, mode=mode))
       for mode in ("letterbox", "pillarbox", "stretch", "zoom")},
    **{f"blur_{mode}": Variant("blur", "video", (2.0, 4.0), (0.3, 1.0), _ANY_VIDEO,
                               _episode(video_fx.blur_episode, mode=mode))
       for mode in ("upscale", "gaussian")},
    "interlace": Variant("interlace", "video", (1.5, 3.0), (0.6, 1.0), _MOVING,
                         _episode(video_fx.interlace_episode)),
    **{f"range_{mode}": Variant("color_range", "video", (2.0, 4.0), (0.5, 1.0), _ANY_VIDEO,
                                _episode(video_fx.color_range_episode, mode=mode))
       for mode in ("washed", "crushed")},
    "av_late": Variant("av_sync", "video", (3.0, 6.0), (0.0, 1.0), ("pulldown", "sync"),
                       _av_offset(1), max_episodes=1),
    "av_early": Variant("av_sync", "video", (3.0, 6.0), (0.0, 1.0), ("pulldown", "sync"),
                        _av_offset(-1), max_episodes=1),
    "dropout": Variant("silence", "audio", (0.3, 1.5), (1.0, 1.0), _ANY_AUDIO,
                       _episode(audio_fx.silence_episode)),
    "clicks": Variant("clicks", "audio", (0.8, 2.0), (0.2, 1.0), _ANY_AUDIO,
                      _episode(audio_fx.clicks_episode)),
    "hum50": Variant("hum", "audio", (2.0, 4.0), (0.3, 0.9), _ANY_AUDIO,
                     _episode(audio_fx.hum_episode, freq=50.0)),
    "hum60": Variant("hum", "audio", (2.0, 4.0), (0.3, 0.9), _ANY_AUDIO,
                     _episode(audio_fx.hum_episode, freq=60.0)),
    "hiss_white": Variant("hiss", "audio", (2.0, 4.0), (0.3, 0.9), _ANY_AUDIO,
                          _episode(audio_fx.hiss_episode, colour="white")),
    "hiss_pink": Variant("hiss", "audio", (2.0, 4.0), (0.3, 0.9), _ANY_AUDIO,
                         _episode(audio_fx.hiss_episode, colour="pink")),
    "clip_hard": Variant("distortion", "audio", (1.0, 3.0), (0.3, 1.0), _ANY_AUDIO,
                         _episode(audio_fx.distortion_episode, mode="hard")),
    "clip_soft": Variant("distortion", "audio", (1.0, 3.0), (0.3, 1.0), _ANY_AUDIO,
                         _episode(audio_fx.distortion_episode, mode="soft")),
    "crush": Variant("distortion", "audio", (1.0, 3.0), (0.3, 1.0), _ANY_AUDIO,
                     _episode(audio_fx.distortion_episode, mode="crush")),
    "lossy": Variant("distortion", "audio", (1.0, 3.0), (0.5, 1.0), _ANY_AUDIO,
                     _episode(codec.lossy_episode)),
    "loud_up": Variant("loudness", "audio", (2.0, 4.0), (0.2, 1.0), ("speech", "quiet"),
                       _episode(audio_fx.loudness_episode, direction="up")),
    "loud_down": Variant("loudness", "audio", (2.0, 4.0), (0.2, 1.0), _ANY_AUDIO,
                         _episode(audio_fx.loudness_episode, direction="down")),
    **{f"channel_{mode}": Variant("channel", "audio", (2.0, 4.0), (1.0, 1.0), _MUSIC,
                                  _episode(audio_fx.channel_episode, mode=mode))
       for mode in ("drop", "swap", "invert")},
}


# --------------------------------------------------------------------------- sizes and plan
@dataclass(frozen=True)
class Size:
    """How big a corpus is."""

    fmt: str                     # standard format; 30 fps programmes use its 30 fps sibling
    seconds: float               # per file
    copies: int                  # files per variant
    episodes: int                # episodes per defect file (at most the variant's cap)
    variants: tuple[str, ...]    # empty: all
    clean_copies: int            # clean files per theme
    themes: tuple[str, ...] = ()  # empty: all
    margin_s: float = 1.0        # episodes keep this far from a file's ends ...
    gap_s: float = 1.0           # ... and from each other


SIZES: dict[str, Size] = {
    # seconds, for tests: a few kinds on a few short files
    "tiny": Size("180p25", 4.0, 1, 1, ("black", "freeze", "codec_h264", "dropout", "clicks"), 1,
                 ("crowd_motion", "music"), margin_s=0.5, gap_s=0.5),
    # minutes, for CI and docs/accuracy.md: every variant once, every theme clean once
    "small": Size("360p25", 10.0, 1, 2, (), 1),
    # on request: HD, longer files, three of each
    "large": Size("720p25", 20.0, 3, 3, (), 3),
}


@dataclass(frozen=True)
class Item:
    """One corpus file to build."""

    name: str
    media: Media
    theme: str
    variant: str | None      # None: clean
    seed: tuple[int, ...]


def plan(size: Size, seed: int) -> list[Item]:
    """The files of a corpus: for every variant ``copies`` defect files, each in a theme the
    variant allows (cycling), then ``clean_copies`` clean files of every theme."""
    items: list[Item] = []
    names = size.variants or tuple(VARIANTS)
    for v, name in enumerate(names):
        variant = VARIANTS[name]
        themes = [t for t in variant.themes if not size.themes or t in size.themes] or \
            list(variant.themes)
        for copy in range(size.copies):
            theme = themes[(seed + v + copy) % len(themes)]
            items.append(Item(f"{name}-{copy:02d}", variant.media, theme, name,
                              (seed, 1, v, copy)))
    clean: tuple[tuple[Media, tuple[str, ...]], ...] = (("video", VIDEO_THEMES),
                                                       ("audio", AUDIO_THEMES))
    for media, all_themes in clean:
        for t, theme in enumerate(all_themes):
            if size.themes and theme not in size.themes:
                continue
            for copy in range(size.clean_copies):
                items.append(Item(f"clean-{theme}-{copy:02d}", media, theme, None,
                                  (seed, 2, t, copy)))
    return items


# --------------------------------------------------------------------------- themes
def _split(rng: np.random.Generator, seconds: float, parts: int, fps: float,
           even: bool = False) -> list[float]:
    """Scene lengths summing to ``seconds``, on the frame grid: random, none under a third of
    the mean, or ``even``."""
    shares = np.ones(parts) if even else 1.0 / 3.0 + rng.dirichlet(np.ones(parts)) * (2.0 / 3.0)
    frames = np.round(shares / shares.sum() * seconds * fps).astype(int)
    frames[-1] = round(seconds * fps) - frames[:-1].sum()
    return [f / fps for f in frames]


def _start(rng: np.random.Generator, src: content.Source, seconds: float) -> float:
    spare = content.duration_s(src.path) - seconds - 0.2
    return round(float(rng.uniform(0.0, spare)), 2) if spare > 0 else 0.0


def _music(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, content.Source]:
    tracks = content.installed("music")
    if not tracks:
        raise BadInput("no music installed for the corpus: run scripts/setup.sh "
                       "(frozen-bubble-data)")
    src = tracks[int(rng.integers(len(tracks)))]
    return content.sound(src, _start(rng, src, seconds), seconds), src


def _speech(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, list[str]]:
    """Read speech, utterances back to back in a seeded order, cut to ``seconds``."""
    talks = content.installed("speech")
    if not talks:
        raise BadInput("no speech installed for the corpus: run scripts/setup.sh "
                       "(pocketsphinx-testdata)")
    parts, names, total = [], [], 0
    for k in rng.permutation(len(talks)):
        src = talks[int(k)]
        part = content.sound(src, 0.0, content.duration_s(src.path))
        parts.append(part)
        names.append(src.name)
        total += part.shape[0]
        if total >= seconds * content.SAMPLE_RATE:
            break
    return content.loop(content.splice(parts), round(seconds * content.SAMPLE_RATE)), names


@dataclass(frozen=True)
class _Scene:
    source: str
    look: content.Look = "plain"
    motion: content.Motion | None = None   # photos only


def _photo(rng: np.random.Generator) -> str:
    photos = content.installed("photo")
    if not photos:
        raise BadInput("no photos installed for the corpus: run scripts/setup.sh (opencv-doc)")
    return photos[int(rng.integers(len(photos)))].name


def _scenes(theme: str, rng: np.random.Generator,
            seconds: float) -> tuple[list[_Scene], list[str], str]:
    """A video theme's scenes, its own hard-negative tags and its sound (music, speech or the
    scenes' own).  Scenes with their own sound cycle through their sources, as many as keep
    every scene within its source (a looped soundtrack would jump)."""
    if theme == "crowd_motion":
        return ([_Scene("vtest"), _Scene("bikes"), _Scene(_photo(rng), motion="fast_pan")],
                ["crowd", "fast_motion"], "music")
    if theme == "fades_dark":
        return ([_Scene("vtest", "dark"), _Scene(_photo(rng), "fade_out", "pan"),
                 _Scene("bigbuckbunny", "fade_in")], ["fades", "dark_scene"], "speech")
    if theme == "static":
        return ([_Scene(_photo(rng), motion="static"), _Scene("screencast"),
                 _Scene(_photo(rng), motion="static")], ["static_slides", "static_menu"], "speech")
    if theme in ("animation", "pulldown"):
        cycle = ["bigbuckbunny", "megamind"] if theme == "animation" else ["megamind"]
        shortest = min(content.duration_s(content.source(name).path) for name in cycle)
        count = max(len(cycle), int(np.ceil(seconds / (shortest - 0.5))))
        return [_Scene(cycle[k % len(cycle)]) for k in range(count)], [theme], "own"
    if theme == "camera":
        return ([_Scene("tree"), _Scene(_photo(rng), motion="pan"), _Scene("bikes")],
                ["camera_motion"], "music")
    raise ValueError(theme)


VIDEO_THEMES = ("crowd_motion", "fades_dark", "static", "animation", "pulldown", "camera", "sync")
AUDIO_THEMES = ("music", "speech", "percussive", "quiet", "bass", "applause")


def _video_clip(theme: str, size: Size, rng: np.random.Generator) -> Clip:
    """A video programme of ``theme`` (pulldown at 30 fps, to show 24 fps content's cadence)."""
    fmt = content.FORMATS[size.fmt]
    if theme == "pulldown":
        fmt = content.FORMATS[f"{size.fmt[:-2]}30"]
    seconds = size.seconds
    if theme == "sync":
        pattern, beeps = content.sync_pattern(fmt, seconds)
        bed, music = _music(rng, seconds)
        return _assemble(fmt, pattern, beeps + SYNC_BED_GAIN * bed,
                         ["sync_pattern (generated)", music.name], ["test_pattern"])
    scenes, negatives, sound_kind = _scenes(theme, rng, seconds)
    lengths = _split(rng, seconds, len(scenes), fmt.fps, even=sound_kind == "own")
    pictures: list[np.ndarray] = []
    sounds: list[np.ndarray] = []
    sources: list[str] = []
    for scene, length in zip(scenes, lengths):
        src = content.source(scene.source)
        sources.append(src.name)
        negatives.extend(src.traits)
        if scene.motion is not None:
            part = content.apply_look(content.still(src, fmt, length, rng, scene.motion),
                                      fmt.fps, scene.look)
        else:
            start = _start(rng, src, length)
            part = content.video(src, fmt, start, length, scene.look)
            if sound_kind == "own":
                sounds.append(content.sound(src, start, len(part) / fmt.fps))
        pictures.extend(part)
    if len(scenes) > 1:
        negatives.append("scene_cuts")
    if sound_kind == "music":
        track, music = _music(rng, seconds)
        sources.append(music.name)
        negatives.extend(music.traits)
    elif sound_kind == "speech":
        track, names = _speech(rng, seconds)
        sources.extend(names)
    else:
        track = content.splice(sounds)
    return _assemble(fmt, pictures, track, sources, negatives)


def _assemble(fmt: content.Format, pictures: list[np.ndarray], sound: np.ndarray,
              sources: list[str], negatives: list[str]) -> Clip:
    n = round(len(pictures) / fmt.fps * content.SAMPLE_RATE)
    sound = content.loop(sound, n)
    frames = [Frame(k / fmt.fps, k, img) for k, img in enumerate(pictures)]
    return Clip(fmt, frames, AudioChunk(0.0, sound, content.SAMPLE_RATE),
                list(dict.fromkeys(sources)), sorted(set(negatives)))


def _audio_clip(theme: str, size: Size, rng: np.random.Generator) -> Clip:
    """An audio programme of ``theme``: music (with typewriter strikes, a quiet passage, a bass
    line or applause) or speech."""
    seconds = size.seconds
    n = round(seconds * content.SAMPLE_RATE)
    fmt = content.FORMATS[size.fmt]
    if theme == "speech":
        sound, names = _speech(rng, seconds)
        return Clip(fmt, None, AudioChunk(0.0, sound, content.SAMPLE_RATE), names,
                    ["speech_pauses"])
    music, track = _music(rng, seconds)
    sources, negatives = [track.name], list(track.traits)
    if theme == "percussive":
        hit = content.source("typewriter")
        strike = content.sound(hit, 0.0, content.duration_s(hit.path))
        for at in rng.uniform(0.2, seconds - 0.5, max(2, round(seconds / 2))):
            a = round(at * content.SAMPLE_RATE)
            b = min(n, a + strike.shape[0])
            music[a:b] += strike[:b - a]
        sources.append(hit.name)
        negatives.append("percussive")
    elif theme == "quiet":
        # a passage 25 dB down, faded in and out over 0.3 s evenly in dB, as a fader or a
        # diminuendo moves (until session 5 the fade was linear in amplitude: half of the 25 dB
        # fell in its last 50 ms, an abrupt gain step by construction, which the loudness
        # detector rightly reported once in the large corpus)
        a = round(float(rng.uniform(0.1, 0.5)) * seconds * content.SAMPLE_RATE)
        b = min(n, a + round(0.3 * seconds * content.SAMPLE_RATE))
        ramp = np.clip(np.minimum(np.arange(n) - a, b - np.arange(n)) / (0.3 * content.SAMPLE_RATE),
                       0.0, 1.0)
        gain = (10.0 ** (-25.0 * ramp / 20.0)).astype(np.float32)
        music = music * gain[:, None]
        negatives.append("quiet_passage")
    elif theme == "bass":
        music = content.level(0.6 * music + content.bass_line(seconds, rng))
        sources.append("bass_line (generated)")
        negatives.append("bass_mains")
    elif theme == "applause":
        clap = content.source("applause")
        burst = content.sound(clap, 0.0, content.duration_s(clap.path))
        a = round(float(rng.uniform(0.1, 0.6)) * seconds * content.SAMPLE_RATE)
        for start in (a, a + burst.shape[0] * 3 // 4):
            b = min(n, start + burst.shape[0])
            music[start:b] = 0.4 * music[start:b] + burst[:b - start]
        sources.append(clap.name)
        negatives.append("applause")
    return Clip(fmt, None, AudioChunk(0.0, music.astype(np.float32), content.SAMPLE_RATE),
                sources, sorted(set(negatives)))


# --------------------------------------------------------------------------- injection
def _place(rng: np.random.Generator, total: float, lengths: Sequence[float], margin: float,
           gap: float, grid: float) -> list[float]:
    """Start times for episodes of ``lengths`` (in order, fitting), ``margin`` from the ends and
    ``gap`` apart, on ``grid``."""
    free = total - 2 * margin - sum(lengths) - gap * (len(lengths) - 1)
    cuts = np.sort(rng.uniform(0.0, max(free, 0.0), len(lengths)))
    starts, at, used = [], margin, 0.0
    for length, cut in zip(lengths, cuts):
        start = round((at + cut - used) / grid) * grid
        starts.append(start)
        at, used = start + length + gap, cut
    return starts


def _new_share(clip: Clip, start: float, length: float) -> float:
    """The share of ``clip``'s frames from ``start`` for ``length`` that show a new picture
    (differ from the frame before): about 1 for footage at the capture rate, 0.8 for 3:2
    pulldown, 0.1 for footage at 2.5 pictures/s."""
    assert clip.frames is not None
    fps = clip.fmt.fps
    a, b = max(1, round(start * fps)), min(len(clip.frames), round((start + length) * fps))
    if b <= a:
        return 0.0
    return sum(not np.array_equal(clip.frames[k].image, clip.frames[k - 1].image)
               for k in range(a, b)) / (b - a)


def inject(clip: Clip, variant: Variant, size: Size, rng: np.random.Generator) -> list[Event]:
    """Inject ``size.episodes`` episodes (at most the variant's cap) of ``variant`` into
    ``clip`` (in place), each as long as the variant draws or as fits; returns the ground
    truth."""
    count = min(size.episodes, variant.max_episodes)
    grid = 1.0 / clip.fmt.fps if clip.frames is not None else 0.001
    fits = (clip.seconds - 2 * size.margin_s - size.gap_s * (count - 1)) / count
    lengths = [np.floor(min(float(rng.uniform(*variant.seconds)), fits) / grid) * grid
               for _ in range(count)]
    severities = [round(float(rng.uniform(*variant.severity)), 3) for _ in range(count)]
    starts = _place(rng, clip.seconds, lengths, size.margin_s, size.gap_s, grid)
    if variant.min_new_share > 0 and clip.frames is not None:
        for _ in range(50):
            if all(_new_share(clip, start, length) >= variant.min_new_share
                   for start, length in zip(starts, lengths)):
                break
            starts = _place(rng, clip.seconds, lengths, size.margin_s, size.gap_s, grid)
        else:  # no placement fits them all: keep those that fit (an invisible one is no truth)
            keep = [k for k, (start, length) in enumerate(zip(starts, lengths))
                    if _new_share(clip, start, length) >= variant.min_new_share]
            starts, lengths, severities = ([x[k] for k in keep]
                                           for x in (starts, lengths, severities))
    if variant.bitstream is not None:
        assert clip.frames is not None
        hits = [codec.hit_for(round(start * clip.fmt.fps), severity)
                for start, severity in zip(starts, severities)]
        clip.frames, events = codec.bitstream_damage(clip.frames, clip.fmt.fps, variant.bitstream,
                                                     hits)
        return events
    assert variant.apply is not None
    return [variant.apply(clip, start, start + length, severity, rng)
            for start, length, severity in zip(starts, lengths, severities)]


# --------------------------------------------------------------------------- writing
def _write_video(path: Path, clip: Clip) -> None:
    """H.264 (CRF 18, a 2 s GOP) and AAC at 192 kb/s in MP4, bit-exact muxing."""
    assert clip.frames is not None
    fmt = clip.fmt
    raw = b"".join(np.ascontiguousarray(f.image).tobytes() for f in clip.frames)
    with tempfile.NamedTemporaryFile(suffix=".f32", dir=path.parent) as pcm:
        pcm.write(np.clip(clip.audio.samples, -1.0, 1.0).astype("<f4").tobytes())
        pcm.flush()
        proc = subprocess.run(
            [_require("ffmpeg"), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
             "-s", f"{fmt.width}x{fmt.height}", "-r", f"{fmt.fps:g}", "-i", "-",
             "-f", "f32le", "-ar", str(content.SAMPLE_RATE), "-ac", str(content.CHANNELS),
             "-i", pcm.name, "-map", "0:v", "-map", "1:a", "-c:v", "libx264",
             "-preset", "veryfast", "-crf", "18", "-g", str(round(2 * fmt.fps)),
             "-threads", "2", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k",
             "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
             "-map_metadata", "-1", str(path)], input=raw, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{path}: ffmpeg failed: {proc.stderr.decode(errors='replace')}")


def _kind_clean_seconds(duration: float, events: list[Event], has_video: bool,
                        has_audio: bool) -> dict[str, float]:
    """Seconds of the file free of each kind's ground truth, for the kinds its media can show."""
    clean: dict[str, float] = {}
    for kind in KINDS:
        needs_video = kind in VIDEO_KINDS or kind in AV_KINDS
        needs_audio = kind in AUDIO_KINDS or kind in AV_KINDS
        if (needs_video and not has_video) or (needs_audio and not has_audio):
            continue
        spans = sorted((max(0.0, e.start_s), min(duration, e.end_s))
                       for e in events if e.kind == kind)
        covered, reach = 0.0, 0.0
        for a, b in spans:
            a = max(a, reach)
            if b > a:
                covered += b - a
                reach = b
        clean[kind] = round(duration - covered, 4)
    return clean


def build_item(item: Item, size: Size, media_dir: Path) -> dict[str, Any]:
    """Render, damage and write one file with its truth; returns its manifest entry."""
    rng = np.random.default_rng(list(item.seed))
    if item.media == "video":
        clip = _video_clip(item.theme, size, rng)
    else:
        clip = _audio_clip(item.theme, size, rng)
    events = inject(clip, VARIANTS[item.variant], size, rng) if item.variant else []
    for event in events:
        event.details["variant"] = item.variant
    if clip.frames is not None:
        path = media_dir / f"{item.name}.mp4"
        _write_video(path, clip)
        duration = len(clip.frames) / clip.fmt.fps
        video_info: dict[str, Any] | None = {"width": clip.fmt.width, "height": clip.fmt.height,
                                             "fps": clip.fmt.fps, "frames": len(clip.frames)}
    else:
        speech = item.theme == "speech"
        path = media_dir / f"{item.name}.{'wav' if speech else 'flac'}"
        sf.write(path, np.clip(clip.audio.samples, -1.0, 1.0), content.SAMPLE_RATE,
                 subtype="PCM_16" if speech else "PCM_24")
        duration = clip.seconds
        video_info = None
    truth = {
        "source": f"media/{path.name}",
        "duration_s": round(duration, 4),
        "video": video_info,
        "audio": {"sample_rate": content.SAMPLE_RATE, "channels": content.CHANNELS},
        "detectors": ["injected"],
        "events": [e.to_json() for e in sorted(events, key=lambda e: (e.start_s, e.kind))],
        "measurements": {},
    }
    truth_path = path.with_name(f"{item.name}.truth.json")
    truth_path.write_text(json.dumps(truth, indent=2) + "\n")
    return {"media": truth["source"], "truth": f"media/{truth_path.name}",
            "duration_s": truth["duration_s"], "theme": item.theme, "variant": item.variant,
            "sources": clip.sources, "negatives": clip.negatives,
            "clean_s": _kind_clean_seconds(duration, events, clip.frames is not None, True)}


def build(directory: str | Path, seed: int = 0, size: str = "small", jobs: int | None = None,
          command: str | None = None) -> dict[str, Any]:
    """Build a corpus into ``directory`` (created; existing media of the same names are
    replaced) and write its manifest; returns the manifest."""
    if size not in SIZES:
        raise BadInput(f"unknown corpus size {size!r}; one of {', '.join(SIZES)}")
    spec = SIZES[size]
    root = Path(directory)
    media_dir = root / "media"
    try:
        media_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{directory}: cannot create the corpus folder ({exc.strerror}; fix: "
                       f"pick a writable place)") from None
    items = plan(spec, seed)
    workers = max(1, min(jobs or min(2, os.cpu_count() or 1), len(items)))
    if workers == 1:
        files = [build_item(item, spec, media_dir) for item in items]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            files = list(pool.map(build_item, items, [spec] * len(items),
                                  [media_dir] * len(items)))
    totals_clean = {kind: round(sum(f["clean_s"].get(kind, 0.0) for f in files), 4)
                    for kind in KINDS}
    episodes = {kind: 0 for kind in KINDS}
    for f in files:
        for event in json.loads((root / f["truth"]).read_text())["events"]:
            episodes[event["kind"]] += 1
    manifest = {
        "seed": seed, "size": size,
        "command": command or f"harness corpus build {shlex.quote(str(directory))} "
                              f"--seed {seed} --size {size}",
        "kinds": list(KINDS),
        "files": files,
        "totals": {"files": len(files),
                   "duration_s": round(sum(f["duration_s"] for f in files), 4),
                   "clean_s": totals_clean, "episodes": episodes},
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest

