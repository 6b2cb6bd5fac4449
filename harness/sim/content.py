"""Programme content for the simulated player, as functions of the programme position.

A :class:`Program` is what one catalogue item plays: a cycle of scenes, 3 to 8 s each, joined by
hard cuts and now and then a dip to black, that repeats for the programme's length; and its
sound.  With real media installed (:func:`real_media`) a scene is a slow pan across one of the
OpenCV sample clips (decoded lazily and sequentially) and the sound is a minute of Frozen-Bubble
music; otherwise a scene pans, and sometimes zooms, across a procedural texture with moving
shapes, and the sound is synthesised music whose beats land on the cuts.  Either way a
percussive accent marks each cut, so cuts are audible and picture and sound can be lined up.

Every output frame differs from the one before while content plays (pans move by whole output
pixels per frame), so a repeated frame is always a defect, never the content.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from harness.sim.audio import (RealMusic, SyntheticMusic, cut_accent, load_loop,
                               synthesize_loop)

CLIP_DIR = Path("/usr/share/doc/opencv-doc/examples/data")
CLIP_FILES = ("Megamind.avi", "vtest.avi", "tree.avi")
MUSIC_DIR = Path("/usr/share/games/frozen-bubble/snd")
MIN_MUSIC_S = 90.0      # shorter files there are sound effects, not music

TEXTURE_KINDS = ("terrain", "clouds", "city", "plasma")
TEXTURE_OVERSIZE = 1.4  # textures are this much larger than the picture: room to pan and zoom
CLIP_OVERSIZE = 1.2     # clip frames are scaled this much larger than the picture: room to pan
SCENE_S = (3.0, 8.0)
CYCLE_BEATS = 64        # a synthetic programme's scenes repeat every 64 beats
REAL_CYCLE_S = 60.0     # ... a real one's every minute (the length of its music loop)
FADE_S = 0.5            # a dip to black takes this long each way; except on the two frames at
FADE_VISIBLE_LUMA = 48  # the cut, the brightest tenth of the picture stays above this luma
AUDIO_FADE_FLOOR = 0.4  # the sound dips with it, to this gain
ACCENT_SYNTHETIC, ACCENT_REAL = 0.3, 0.15  # cut accent peak levels
LOADED_LOOPS = 2        # music loops kept in memory


# --------------------------------------------------------------------------- textures
def fractal_noise(height: int, width: int, rng: np.random.Generator, octaves: int = 5,
                  base: int = 3, persistence: float = 0.55) -> np.ndarray:
    """Multi-octave value noise in [0, 1], float32 ``(height, width)``."""
    acc = np.zeros((height, width), np.float32)
    amp, total = 1.0, 0.0
    for octave in range(octaves):
        gh = base * 2 ** octave
        gw = max(2, round(gh * width / height))
        grid = rng.random((gh + 1, gw + 1), dtype=np.float32)
        acc += amp * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= persistence
    lo, hi = float(acc.min()), float(acc.max())
    return (acc - lo) / max(hi - lo, 1e-6)


def _landscape_noise(height: int, width: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Fractal noise with detail down to the pixel, fast at video sizes: the smooth octaves are
    made at a quarter of the size and scaled up; the fine ones (1 to 8 pixels) come from a tiled
    noise patch.  Returns (the full noise, its smooth part)."""
    coarse = fractal_noise(max(4, height // 4), max(4, width // 4), rng, octaves=4)
    coarse = cv2.GaussianBlur(cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC),
                              (5, 5), 0)
    patch = np.zeros((256, 256), np.float32)
    for cells, weight in ((256, 0.3), (128, 0.3), (64, 0.25), (32, 0.15)):
        patch += weight * cv2.resize(rng.random((cells, cells), dtype=np.float32), (256, 256),
                                     interpolation=cv2.INTER_CUBIC)
    fine = np.tile(patch, (height // 256 + 1, width // 256 + 1))[:height, :width]
    return np.clip(coarse * 0.8 + fine * 0.2, 0.0, 1.0), coarse


def _lut(stops: tuple[tuple[float, tuple[int, int, int]], ...]) -> np.ndarray:
    x = np.linspace(0.0, 1.0, 256)
    at = [p for p, _ in stops]
    return np.stack([np.interp(x, at, [c[i] for _, c in stops]) for i in range(3)],
                    axis=1).astype(np.uint8)


_TERRAIN = _lut(((0.0, (80, 30, 10)), (0.36, (150, 95, 35)), (0.42, (150, 195, 215)),
                 (0.47, (70, 150, 80)), (0.62, (40, 100, 45)), (0.76, (85, 100, 110)),
                 (0.88, (215, 220, 225)), (1.0, (250, 250, 250))))
_TERRAIN.flags.writeable = False
_COLORMAPS = (cv2.COLORMAP_TURBO, cv2.COLORMAP_TWILIGHT_SHIFTED, cv2.COLORMAP_PLASMA,
              cv2.COLORMAP_OCEAN, cv2.COLORMAP_SPRING, cv2.COLORMAP_DEEPGREEN)


def procedural_texture(kind: str, height: int, width: int,
                       rng: np.random.Generator) -> np.ndarray:
    """A textured BGR picture: ``terrain`` (shaded relief map), ``clouds`` (sky), ``city``
    (night skyline with lit windows) or ``plasma`` (colourful abstract)."""
    n, smooth = _landscape_noise(height, width, rng)
    if kind == "terrain":
        img = _TERRAIN[(np.clip(smooth * 0.9 + n * 0.1, 0, 1) * 255).astype(np.uint8)]
        img = img.astype(np.float32)
        relief = smooth * (min(height, width) / 64.0)  # relief shading from the smooth heights
        gx = cv2.Sobel(relief, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(relief, cv2.CV_32F, 0, 1, ksize=3)
        shade = np.clip(1.0 + 0.35 * (gx - gy) + 0.8 * (n - smooth), 0.55, 1.35)[..., None]
        return np.clip(img * shade, 0, 255).astype(np.uint8)
    if kind == "clouds":
        ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
        sky = (1 - ramp) * np.float32([170, 95, 35]) + ramp * np.float32([240, 200, 150])
        cover = np.clip((n - 0.42) / 0.35, 0.0, 1.0)[..., None]
        cloud = (200 + 55 * n)[..., None] * np.ones(3, np.float32)
        return np.clip(sky * (1 - cover) + cloud * cover, 0, 255).astype(np.uint8)
    if kind == "city":
        return _city(height, width, rng, n)
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    a, b, c = rng.uniform(4.0, 12.0, 3)
    v = np.sin(x * a) + np.sin(y * b) + np.sin((x + y) * c) + np.sin(np.hypot(x - 0.5, y - 0.5) * a)
    v = (v - v.min()) / max(float(v.max() - v.min()), 1e-6) * 0.7 + n * 0.3
    return cv2.applyColorMap((v * 255).astype(np.uint8), int(rng.choice(_COLORMAPS)))


def _city(height: int, width: int, rng: np.random.Generator, n: np.ndarray) -> np.ndarray:
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    img = (1 - ramp) * np.float32([40, 10, 12]) + ramp * np.float32([110, 45, 70])
    img = np.broadcast_to(img, (height, width, 3)) + (n * 25)[..., None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    stars = rng.integers(0, height * width, size=height * width // 1500)
    img.reshape(-1, 3)[stars] = 230
    x = 0
    while x < width:
        bw = int(rng.integers(max(6, width // 40), max(8, width // 9)))
        bh = int(rng.integers(int(height * 0.25), int(height * 0.85)))
        top = height - bh
        shade = int(rng.integers(18, 55))
        block = img[top:, x:x + bw]
        block[:] = (shade + 12, shade, shade)
        px, py = max(3, bw // 7), max(4, height // 60)
        rows, cols = (bh - py) // py, max(1, (bw - px) // px)
        lit = rng.random((rows, cols)) < 0.4
        cells = np.zeros((rows * py, cols * px), bool)
        cells[:] = np.repeat(np.repeat(lit, py, 0), px, 1)
        ys, xs = np.ogrid[0:rows * py, 0:cols * px]
        cells &= ((ys % py) < py * 0.55) & ((xs % px) < px * 0.5)
        window = block[py:py + rows * py, px // 2:px // 2 + cols * px]
        window[cells[:window.shape[0], :window.shape[1]]] = (120, 215, 250)
        x += bw + int(rng.integers(0, max(2, width // 80)))
    return img


# --------------------------------------------------------------------------- real media
def real_media() -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """The sample clips and music files installed on this machine (either may be empty)."""
    clips = tuple(p for p in (CLIP_DIR / name for name in CLIP_FILES) if p.is_file())
    music = []
    if MUSIC_DIR.is_dir():
        for path in sorted(MUSIC_DIR.glob("*.ogg")):
            if path.stat().st_size > 200_000 and sf.info(str(path)).duration >= MIN_MUSIC_S:
                music.append(path)
    return clips, tuple(music)


class ClipReader:
    """Lazy, sequential access to one clip's frames, cropped to the output aspect ratio and
    scaled to ``oversize`` x the output size.

    Decodes forward from where it last was and seeks only on jumps, so playing a scene costs one
    decode and one resize per clip frame.  On construction it reads the clip's start
    (:attr:`PROBE_S` at most) to learn how many frames really decode (``usable``: some files
    have fewer than their header says) and where the picture first comes out of black
    (``first``).
    """

    PROBE_S = 12.0

    def __init__(self, path: Path, width: int, height: int, oversize: float) -> None:
        self.path = path
        self._size = (round(width * oversize), round(height * oversize))
        self._aspect = width / height
        cap = cv2.VideoCapture(str(path))
        self.fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
        first: int | None = None
        count = 0
        while count < int(self.PROBE_S * self.fps):
            if first is None:
                ok, img = cap.read()
                if ok and float(img.mean()) > 16.0:
                    first = count
            else:
                ok = cap.grab()
            if not ok:
                break
            count += 1
        cap.release()
        self.usable = count
        self.first = count if first is None else first
        self._cap: cv2.VideoCapture | None = None
        self._next = 0
        self._index = -1
        self._picture: np.ndarray | None = None

    @property
    def span_s(self) -> float:
        """Seconds of usable picture."""
        return (self.usable - self.first) / self.fps

    def picture(self, k: int) -> np.ndarray:
        """Clip frame ``k`` (first <= k < usable), cropped and scaled; shared, do not modify."""
        if k == self._index and self._picture is not None:
            return self._picture
        if self._cap is None:
            self._cap = cv2.VideoCapture(str(self.path))
            self._next = 0
        if k < self._next or k > self._next + 48:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, k)
            self._next = k
        while self._next < k:
            self._cap.grab()
            self._next += 1
        ok, img = self._cap.read()
        self._next += 1
        if not ok:  # outside what the probe saw decode: hold the last picture
            return self._picture if self._picture is not None else np.zeros(
                (self._size[1], self._size[0], 3), np.uint8)
        h, w = img.shape[:2]
        if w / h > self._aspect:
            cw = round(h * self._aspect)
            img = img[:, (w - cw) // 2:(w - cw) // 2 + cw]
        else:
            ch = round(w / self._aspect)
            img = img[(h - ch) // 2:(h - ch) // 2 + ch]
        self._picture = cv2.resize(img, self._size, interpolation=cv2.INTER_LINEAR)
        self._index = k
        return self._picture


# --------------------------------------------------------------------------- programmes
@dataclass(frozen=True)
class Sprite:
    """A moving shape drawn over a synthetic scene; sizes and speeds in 720p pixels."""

    shape: int                      # 0 disc, 1 square, 2 triangle, 3 ring
    colour: tuple[int, int, int]
    radius: float
    start: tuple[float, float]      # position at the scene start, as fractions of the picture
    velocity: tuple[float, float]   # pixels per frame


@dataclass(frozen=True)
class Scene:
    start: int                      # first sample of the scene within the cycle
    end: int
    source: int                     # texture (synthetic) or clip (real) index
    offset: int                     # first clip frame (real scenes)
    origin: tuple[float, float]     # pan start, as fractions of the pan range
    velocity: tuple[int, int]       # pan speed in output pixels per frame; x is odd, so the
                                    # picture moves on every frame, turns included
    zoom: tuple[float, float]       # crop scale at scene start and end (1 = the picture size)
    sprites: tuple[Sprite, ...]
    fade_in: bool                   # the scene is entered through a dip to black


@dataclass(frozen=True)
class Program:
    real: bool
    cycle: int                      # samples; the programme repeats with this period
    scenes: tuple[Scene, ...]
    music: SyntheticMusic | RealMusic

    @cached_property
    def starts(self) -> list[int]:
        return [scene.start for scene in self.scenes]

    @cached_property
    def cuts(self) -> np.ndarray:
        return np.asarray(self.starts, np.int64)

    @cached_property
    def fades(self) -> np.ndarray:
        return np.asarray([scene.start for scene in self.scenes if scene.fade_in], np.int64)


def _partition(rng: np.random.Generator, total: int, lo: int, hi: int) -> list[int]:
    """Random lengths in [lo, hi] summing to ``total`` (needs hi >= 2 lo)."""
    out: list[int] = []
    remaining = total
    while remaining > hi:
        length = int(rng.integers(lo, min(hi, remaining - lo) + 1))
        out.append(length)
        remaining -= length
    out.append(remaining)
    return out


def _bounce(x: int, span: int) -> int:
    """``x`` reflected into [0, span] (a ping-pong pan).  Moving by an odd step, consecutive
    positions always differ, at the turns too."""
    if span <= 0:
        return 0
    m = x % (2 * span)
    return m if m <= span else 2 * span - m


class ContentLibrary:
    """Programmes, their pictures and their sound, for one simulated device.

    Holds the lazily made textures (four), clip readers (one per clip) and the music loops of the
    last :data:`LOADED_LOOPS` programmes played.
    """

    def __init__(self, width: int, height: int, fps: float, sample_rate: int, channels: int,
                 seed: int, real: bool) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.sample_rate, self.channels = sample_rate, channels
        self.seed = seed
        self.real = real
        self._programs: dict[tuple[int, int], Program] = {}
        self._textures: dict[int, np.ndarray] = {}
        self._media: tuple[list[ClipReader], tuple[Path, ...]] | None = None
        self._loops: OrderedDict[SyntheticMusic | RealMusic, np.ndarray] = OrderedDict()
        self._accent = cut_accent(sample_rate)
        self._scale = height / 720.0

    def program(self, app: int, item: int) -> Program:
        key = (app, item)
        program = self._programs.get(key)
        if program is None:
            rng = np.random.default_rng([self.seed, app, item])
            program = (self._real_program(rng) if self.real else None) or \
                self._synthetic_program(rng)
            self._programs[key] = program
        return program

    # -- building programmes
    def _synthetic_program(self, rng: np.random.Generator) -> Program:
        music = SyntheticMusic(bpm=float(rng.choice([90, 100, 110, 120, 128])),
                               root=int(rng.integers(45, 53)), progression=int(rng.integers(4)),
                               seed=int(rng.integers(1 << 31)))
        beat = music.beat_samples(self.sample_rate)
        beat_s = beat / self.sample_rate
        lengths = _partition(rng, CYCLE_BEATS, int(np.ceil(SCENE_S[0] / beat_s)),
                             int(SCENE_S[1] / beat_s))
        scenes = []
        start, source = 0, -1
        for k, length in enumerate(lengths):
            source = (source + 1 + int(rng.integers(len(TEXTURE_KINDS) - 1))) % len(TEXTURE_KINDS)
            zoom = (1.0, 1.0)
            if rng.random() < 0.35:
                a, b = rng.uniform(1.0, 1.3, 2)
                zoom = (float(a), float(b))
            sprites = tuple(Sprite(shape=int(rng.integers(4)),
                                   colour=tuple(int(c) for c in rng.integers(40, 256, 3)),
                                   radius=float(rng.uniform(18, 60)),
                                   start=(float(rng.random()), float(rng.random())),
                                   velocity=(float(rng.uniform(-7, 7)), float(rng.uniform(-4, 4))))
                            for _ in range(int(rng.integers(2, 6))))
            scenes.append(Scene(start, start + length * beat, source, 0,
                                (float(rng.random()), float(rng.random())),
                                (int(rng.choice([-3, -1, 1, 3])), int(rng.integers(-1, 2))),
                                zoom, sprites, k > 0 and rng.random() < 0.25))
            start += length * beat
        return Program(False, CYCLE_BEATS * beat, tuple(scenes), music)

    def _real_program(self, rng: np.random.Generator) -> Program | None:
        """A programme of clip scenes, or None when no clip holds a shortest scene."""
        readers, tracks = self._real_media()
        fitting = [i for i, r in enumerate(readers) if r.span_s >= SCENE_S[0] + 0.5]
        if not fitting or not tracks:
            return None
        lengths = _partition(rng, int(REAL_CYCLE_S * 2), int(SCENE_S[0] * 2), int(SCENE_S[1] * 2))
        cursors = {i: readers[i].first for i in fitting}
        scenes = []
        start, previous = 0, -1
        for k, half_seconds in enumerate(lengths):
            seconds = half_seconds / 2
            choices = [i for i in fitting if readers[i].span_s >= seconds + 0.25] or \
                [max(fitting, key=lambda i: readers[i].span_s)]
            if len(choices) > 1 and previous in choices:
                choices.remove(previous)
            clip = int(rng.choice(choices))
            reader = readers[clip]
            frames = int(np.ceil(seconds * reader.fps)) + 1
            offset = cursors[clip] if cursors[clip] + frames <= reader.usable else reader.first
            cursors[clip] = offset + frames
            end = start + round(seconds * self.sample_rate)
            origin = (float(rng.random()), float(rng.random()))
            velocity = (int(rng.choice([-1, 1])), int(rng.integers(-1, 2)))
            scenes.append(Scene(start, end, clip, offset, origin, velocity, (1.0, 1.0), (),
                                k > 0 and rng.random() < 0.25))
            start, previous = end, clip
        track = tracks[int(rng.integers(len(tracks)))]
        music = RealMusic(track, float(rng.choice([0.0, 30.0, 60.0, 90.0])))
        return Program(True, start, tuple(scenes), music)

    def _real_media(self) -> tuple[list[ClipReader], tuple[Path, ...]]:
        if self._media is None:
            clips, tracks = real_media()
            self._media = ([ClipReader(path, self.width, self.height, CLIP_OVERSIZE)
                            for path in clips], tracks)
        return self._media

    # -- pictures
    def frame(self, program: Program, position: int) -> np.ndarray:
        """The picture at programme position ``position`` (frames); a new array."""
        qs = (position * self.sample_rate / self.fps) % program.cycle
        k = bisect.bisect_right(program.starts, qs) - 1
        scene = program.scenes[k]
        u = (qs - scene.start) / self.sample_rate
        f = int(np.floor(u * self.fps + 1e-6))
        img = self._clip_frame(scene, u, f) if program.real else self._synthetic_frame(scene, u, f)
        gain = self._fade(program, k, qs, img)
        if gain < 1.0:
            img = cv2.convertScaleAbs(img, alpha=gain)
        return img

    def _fade(self, program: Program, k: int, qs: float, img: np.ndarray) -> float:
        """Picture gain on a dip to black.  Only the two frames nearest the cut may look black:
        elsewhere the gain keeps the brightest tenth of the picture above FADE_VISIBLE_LUMA, so a
        fade through a dark scene does not read as a run of black frames."""
        scene = program.scenes[k]
        following = program.scenes[(k + 1) % len(program.scenes)]
        sr = self.sample_rate
        if scene.fade_in and qs - scene.start < FADE_S * sr:
            dt = (qs - scene.start) / sr
        elif following.fade_in and scene.end - qs <= FADE_S * sr:
            dt = -(scene.end - qs) / sr
        else:
            return 1.0
        gain = abs(dt) / FADE_S
        if -1.0 / self.fps <= dt < 1.0 / self.fps:
            return gain
        small = cv2.resize(img, (160, max(1, round(160 * self.height / self.width))),
                           interpolation=cv2.INTER_AREA)
        bright = float(np.percentile(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), 90))
        return max(gain, min(1.0, FADE_VISIBLE_LUMA / max(bright, 1.0)))

    def _clip_frame(self, scene: Scene, u: float, f: int) -> np.ndarray:
        reader = self._real_media()[0][scene.source]
        k = min(reader.usable - 1, scene.offset + int(np.floor(u * reader.fps + 1e-6)))
        picture = reader.picture(k)
        x, y = self._pan(scene, f, picture.shape[1] - self.width, picture.shape[0] - self.height)
        return picture[y:y + self.height, x:x + self.width].copy()

    def _synthetic_frame(self, scene: Scene, u: float, f: int) -> np.ndarray:
        texture = self._texture(scene.source)
        length = (scene.end - scene.start) / self.sample_rate
        z = scene.zoom[0] + (scene.zoom[1] - scene.zoom[0]) * min(1.0, u / length)
        cw, ch = round(self.width * z), round(self.height * z)
        x, y = self._pan(scene, f, texture.shape[1] - cw, texture.shape[0] - ch)
        crop = texture[y:y + ch, x:x + cw]
        if (cw, ch) == (self.width, self.height):
            img = crop.copy()
        else:
            img = cv2.resize(crop, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        self._draw_sprites(img, scene.sprites, f)
        return img

    @staticmethod
    def _pan(scene: Scene, f: int, span_x: int, span_y: int) -> tuple[int, int]:
        return (_bounce(int(scene.origin[0] * span_x) + scene.velocity[0] * f, span_x),
                _bounce(int(scene.origin[1] * span_y) + scene.velocity[1] * f, span_y))

    def _draw_sprites(self, img: np.ndarray, sprites: tuple[Sprite, ...], f: int) -> None:
        s = self._scale
        for sprite in sprites:
            r = max(3, int(sprite.radius * s))
            x = r + _bounce(round(sprite.start[0] * (self.width - 2 * r)
                                  + sprite.velocity[0] * s * f), self.width - 2 * r)
            y = r + _bounce(round(sprite.start[1] * (self.height - 2 * r)
                                  + sprite.velocity[1] * s * f), self.height - 2 * r)
            shadow = max(2, int(4 * s))
            for (cx, cy), colour in (((x + shadow, y + shadow), (20, 20, 20)),
                                     ((x, y), sprite.colour)):
                if sprite.shape == 0:
                    cv2.circle(img, (cx, cy), r, colour, -1, cv2.LINE_AA)
                elif sprite.shape == 1:
                    cv2.rectangle(img, (cx - r, cy - r), (cx + r, cy + r), colour, -1)
                elif sprite.shape == 2:
                    pts = np.array([[cx, cy - r], [cx + r, cy + r], [cx - r, cy + r]], np.int32)
                    cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)
                else:
                    cv2.circle(img, (cx, cy), r, colour, max(2, r // 3), cv2.LINE_AA)

    def _texture(self, index: int) -> np.ndarray:
        texture = self._textures.get(index)
        if texture is None:
            h = int(np.ceil(self.height * TEXTURE_OVERSIZE))
            w = int(np.ceil(self.width * TEXTURE_OVERSIZE))
            texture = procedural_texture(TEXTURE_KINDS[index], h, w,
                                         np.random.default_rng([self.seed, 9, index]))
            self._textures[index] = texture
        return texture

    # -- sound
    def audio(self, program: Program, positions: np.ndarray) -> np.ndarray:
        """Programme sound at programme sample ``positions`` (int64, ascending but for wraps):
        ``(n, channels)`` float32, the music with an accent on each cut, dipping on fades."""
        loop = self._loop(program)
        cyc = positions % program.cycle
        out = loop[cyc % loop.shape[0]]
        since = (cyc[None, :] - program.cuts[:, None]) % program.cycle
        near = since < self._accent.shape[0]
        if near.any():
            hits = np.where(near, self._accent[np.minimum(since, self._accent.shape[0] - 1)], 0.0)
            level = ACCENT_REAL if program.real else ACCENT_SYNTHETIC
            out += (level * hits.sum(axis=0))[:, None]
        if program.fades.size:
            half = program.cycle // 2
            dist = np.abs((cyc[None, :] - program.fades[:, None] + half) % program.cycle - half)
            ramp = np.minimum(1.0, dist / (FADE_S * self.sample_rate)).min(axis=0)
            out *= (AUDIO_FADE_FLOOR + (1.0 - AUDIO_FADE_FLOOR) * ramp)[:, None].astype(np.float32)
        return out

    def _loop(self, program: Program) -> np.ndarray:
        key = program.music
        loop = self._loops.get(key)
        if loop is not None:
            self._loops.move_to_end(key)
            return loop
        if isinstance(program.music, RealMusic):
            loop = load_loop(program.music, program.cycle, self.sample_rate, self.channels)
        else:
            loop = synthesize_loop(program.music, self.sample_rate, self.channels)
        self._loops[key] = loop
        while len(self._loops) > LOADED_LOOPS:
            self._loops.popitem(last=False)
        return loop
