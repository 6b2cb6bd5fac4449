"""Video defect injectors: plain functions over BGR ``uint8`` pictures.

The simulated device (:mod:`harness.sim`), the corpus builder and training scripts all damage
pictures with these, so a defect looks the same wherever it is made.  Every function leaves its
inputs untouched and returns a new array.  Those that draw at random take a seeded
:class:`numpy.random.Generator`; ``severity`` is in (0, 1], 1 being the strongest form.

Temporal defects (freeze, stutter) are frame *selections* rather than pixel operations: a freeze
repeats one source frame, :func:`stutter_map` says which source frame each output frame shows.

The ``*_episode`` functions at the end apply one defect episode to a clip of timestamped
:class:`~harness.media.Frame` objects and return the damaged clip with its ground truth, an
:class:`~detectors.base.Event` from detector ``"injected"`` in the format of ``DEFECTS.md``
(``details`` always carries ``severity``).  The corpus builder and training scripts use those;
the simulated device applies the same picture functions frame by frame.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Literal

import cv2
import numpy as np

from detectors.base import Event
from detectors.synth import truth
from harness.media import Frame

Region = tuple[int, int, int, int]  # x, y, w, h in pixels

NoSignalStyle = Literal["blue", "black", "bars"]
BlockStyle = Literal["flat", "displaced", "false_colour", "smear"]
StutterPattern = Literal["mixed", "drops", "cadence"]
AspectMode = Literal["letterbox", "pillarbox", "stretch", "zoom"]
BlurMode = Literal["upscale", "gaussian"]
RangeMode = Literal["washed", "crushed"]

# Relative weights of the corrupted-block styles when none are chosen (as in a damaged stream).
_BLOCK_WEIGHTS: dict[BlockStyle, float] = {"flat": 0.4, "displaced": 0.4, "false_colour": 0.2}

# 75 % colour bars (BGR): white, yellow, cyan, green, magenta, red, blue.
_BARS = ((191, 191, 191), (0, 191, 191), (191, 191, 0), (0, 191, 0),
         (191, 0, 191), (0, 0, 191), (191, 0, 0))
# The reverse-order strip under the bars: blue, black, magenta, black, cyan, black, white.
_CASTELLATIONS = ((191, 0, 0), (16, 16, 16), (191, 0, 191), (16, 16, 16),
                  (191, 191, 0), (16, 16, 16), (191, 191, 191))


def black(img: np.ndarray, severity: float = 1.0) -> np.ndarray:
    """Darken towards black: severity 1 is pure black, 0.9 leaves 10 % of the brightness."""
    return cv2.convertScaleAbs(img, alpha=max(0.0, 1.0 - severity))


def tear(current: np.ndarray, previous: np.ndarray, row: int) -> np.ndarray:
    """A tearing seam at ``row``: rows above it from ``current``, the rest from ``previous``."""
    out = previous.copy()
    out[:row] = current[:row]
    return out


def tear_region(width: int, height: int, row: int, band: int = 16) -> Region:
    """The full-width band of ``band`` rows centred on a tearing seam, clipped to the picture."""
    top = max(0, row - band // 2)
    return (0, top, width, min(height, row + band // 2) - top)


def stutter_map(rng: np.random.Generator, n: int, severity: float = 1.0) -> np.ndarray:
    """Which source frame each of ``n`` output frames shows, as offsets from the first.

    Normal playback is ``0, 1, 2, ...``; a stutter repeats a frame (step 0) or drops one
    (step 2) in an irregular cadence.  ``severity`` is the share of irregular steps (30 % to
    80 %).  The drift from real time stays within two frames and returns to zero by the last
    frame, so playback after the episode continues without a jump; the second frame always
    repeats the first, so even a short episode is visible.
    """
    irregular = 0.3 + 0.5 * severity
    offsets = np.zeros(n, dtype=np.int64)
    pos = 0
    for k in range(1, n):
        step = 1
        if k == 1 or rng.random() < irregular:
            step = 0 if (k == 1 or rng.random() < 0.5) else 2
        limit = min(2, n - 1 - k)
        drift = int(np.clip(pos + step - k, -limit, limit))
        pos = k + drift
        offsets[k] = pos
    return offsets


def block_region(height: int, width: int, rng: np.random.Generator, severity: float = 1.0,
                 block: int = 16) -> Region:
    """A block-aligned rectangle covering 4 % (severity near 0) to 50 % (severity 1) of the
    picture."""
    area = (0.04 + 0.46 * severity) * width * height
    aspect = float(rng.uniform(0.7, 2.0))
    cols = int(np.clip(round(np.sqrt(area * aspect) / block), 2, width // block))
    rows = int(np.clip(round(area / (cols * block) / block), 2, height // block))
    x = int(rng.integers(0, width // block - cols + 1)) * block
    y = int(rng.integers(0, height // block - rows + 1)) * block
    return (x, y, cols * block, rows * block)


def corrupt_blocks(img: np.ndarray, rng: np.random.Generator, severity: float = 1.0,
                   block: int = 16, region: Region | None = None,
                   styles: Sequence[BlockStyle] | None = None) -> tuple[np.ndarray, Region]:
    """Macroblocking as from a damaged stream, inside ``region`` (chosen by :func:`block_region`
    when not given).

    Within the region each ``block`` x ``block`` macroblock is, with a probability growing with
    severity (about 40 % to 90 %), replaced in one of the ``styles``: ``flat``, its mean colour
    (only the DC coefficient survived); ``displaced``, the block from a wrong motion vector;
    ``false_colour``, a green/magenta flat block, as from lost chroma; ``smear``, the block's top
    row streaked down over it, as from concealment of a lost slice.  By default the first three
    are mixed 2:2:1; chosen styles are equally likely.  Returns the new picture and the region.
    """
    if region is None:
        region = block_region(img.shape[0], img.shape[1], rng, severity, block)
    x, y, w, h = region
    out = img.copy()
    roi = out[y:y + h, x:x + w]
    rows, cols = h // block, w // block
    hit = 0.35 + 0.55 * severity
    chosen = tuple(styles) if styles else tuple(_BLOCK_WEIGHTS)
    share = [_BLOCK_WEIGHTS[s] for s in chosen] if not styles else [1.0 / len(chosen)] * len(chosen)
    kinds = rng.choice(len(chosen) + 1, size=(rows, cols),
                       p=[1.0 - hit] + [weight * hit for weight in share])
    flat = cv2.resize(cv2.resize(roi, (cols, rows), interpolation=cv2.INTER_AREA), (w, h),
                      interpolation=cv2.INTER_NEAREST)
    dy, dx = (int(v) * block for v in rng.choice([-4, -3, -2, 2, 3, 4], size=2))
    candidates = {"flat": flat, "displaced": np.roll(roi, (dy, dx), axis=(0, 1))}
    if "false_colour" in chosen:
        false_colour = flat.copy()
        false_colour[..., 1] = 255 - false_colour[..., 1]
        candidates["false_colour"] = false_colour
    if "smear" in chosen:
        candidates["smear"] = np.repeat(roi[::block], block, axis=0)[:h]
    per_pixel = np.repeat(np.repeat(kinds, block, axis=0), block, axis=1)[..., None]
    damaged = roi.copy()
    for number, style in enumerate(chosen, start=1):
        damaged = np.where(per_pixel == number, candidates[style], damaged)
    roi[:] = damaged
    return out, region


def no_signal(height: int, width: int, style: NoSignalStyle = "blue") -> np.ndarray:
    """What a display or capture card shows without input: solid blue, black, or colour bars."""
    if style == "black":
        return np.zeros((height, width, 3), np.uint8)
    if style == "blue":
        return np.full((height, width, 3), (200, 0, 0), np.uint8)
    img = np.zeros((height, width, 3), np.uint8)
    edges = np.linspace(0, width, len(_BARS) + 1).round().astype(int)
    bars_end, strip_end = int(height * 0.67), int(height * 0.75)
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        img[:bars_end, a:b] = _BARS[i]
        img[bars_end:strip_end, a:b] = _CASTELLATIONS[i]
    fifth = width * 5 // 7
    img[strip_end:, : width * 5 // 28] = (106, 56, 0)         # -I
    img[strip_end:, width * 5 // 28: width * 10 // 28] = (235, 235, 235)
    img[strip_end:, width * 10 // 28: width * 15 // 28] = (106, 0, 58)  # +Q
    img[strip_end:, width * 15 // 28:fifth] = (16, 16, 16)
    img[strip_end:, fifth:] = (16, 16, 16)
    return img


class NoiseBank:
    """Gaussian capture noise at video rate.

    Drawing ~3 million normal deviates per frame costs tens of milliseconds, so one noise field a
    little larger than the picture is drawn once and each frame takes a randomly placed window of
    it: per-pixel statistics are Gaussian with standard deviation ``sigma``, and consecutive
    frames get (almost always) different windows, so the noise differs from frame to frame.
    """

    def __init__(self, height: int, width: int, sigma: float, rng: np.random.Generator,
                 margin: int = 32) -> None:
        self._shape = (height, width)
        self._margin = margin
        field = np.rint(rng.normal(0.0, sigma, (height + margin, width + margin, 3)))
        self._pos = np.clip(field, 0, 255).astype(np.uint8)
        self._neg = np.clip(-field, 0, 255).astype(np.uint8)

    def apply(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``img`` plus a window of the noise field chosen by ``rng`` (saturating at 0 and 255)."""
        h, w = self._shape
        dy, dx = (int(v) for v in rng.integers(0, self._margin + 1, size=2))
        return cv2.subtract(cv2.add(img, self._pos[dy:dy + h, dx:dx + w]),
                            self._neg[dy:dy + h, dx:dx + w])


def drop_map(rng: np.random.Generator, n: int, severity: float = 1.0) -> np.ndarray:
    """Which source frame each of ``n`` output frames shows when frames are lost on a fixed-rate
    output: at irregular slots (10 % to 40 % of them by severity, never two in a row) the frame
    due never arrives and the previous one stays on screen; the next slot is on time again.
    The second frame is always lost, so even a short episode is visible."""
    offsets = np.arange(n, dtype=np.int64)
    lost = rng.random(n) < 0.1 + 0.3 * severity
    for k in range(1, n):
        if (k == 1 or lost[k]) and offsets[k - 1] == k - 1:
            offsets[k] = k - 1
    return offsets


def cadence_counts(counts: np.ndarray, rng: np.random.Generator,
                   severity: float = 1.0) -> np.ndarray:
    """Break a regular repeat cadence.  ``counts`` says for how many output frames each picture
    stays (3:2 pulldown of 24 fps content on a 30 fps output: 1, 1, 1, 2, ...; 10 fps content:
    3, 3, 3, ...).  One repetition moves from a picture to a neighbour, ``ceil(severity x
    len / 2)`` times: pictures come early and late (judder), the total is unchanged, so playback
    after the episode is on time.  ValueError if no picture repeats."""
    out = np.asarray(counts, np.int64).copy()
    if out.size < 2 or not (out > 1).any():
        raise ValueError("the content repeats no frame: there is no cadence to break")
    for _ in range(int(np.ceil(severity * out.size / 2))):
        donors = np.flatnonzero(out > 1)
        j = int(rng.choice(donors))
        k = j + 1 if j == 0 or (j + 1 < out.size and rng.random() < 0.5) else j - 1
        out[j] -= 1
        out[k] += 1
    return out


def reframe(img: np.ndarray, mode: AspectMode, severity: float = 1.0) -> tuple[np.ndarray, Region]:
    """A wrong aspect-ratio conversion; returns the picture and the area showing picture.

    ``letterbox``: squeezed vertically between black bars (5 % to 15 % of the height each);
    ``pillarbox``: squeezed horizontally between side bars (4 % to 12.5 % of the width each, as
    16:9 treated as 4:3); ``stretch``: the centre (90 % to 75 % of the width) stretched to the full
    width; ``zoom``: the centre (95 % to 80 %) enlarged, cropping the edges.
    """
    h, w = img.shape[:2]
    if mode in ("letterbox", "pillarbox"):
        out = np.zeros_like(img)
        if mode == "letterbox":
            bar = round(h * (0.05 + 0.10 * severity))
            x, y, aw, ah = 0, bar, w, h - 2 * bar
        else:
            bar = round(w * (0.04 + 0.085 * severity))
            x, y, aw, ah = bar, 0, w - 2 * bar, h
        out[y:y + ah, x:x + aw] = cv2.resize(img, (aw, ah), interpolation=cv2.INTER_AREA)
        return out, (x, y, aw, ah)
    keep_w = 1.0 - (0.10 + 0.15 * severity) if mode == "stretch" else 1.0 - (0.05 + 0.15 * severity)
    keep_h = 1.0 if mode == "stretch" else keep_w
    cw, ch = round(w * keep_w), round(h * keep_h)
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    crop = img[y0:y0 + ch, x0:x0 + cw]
    return cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR), (0, 0, w, h)


def blur(img: np.ndarray, severity: float = 1.0, mode: BlurMode = "upscale") -> np.ndarray:
    """Loss of detail: ``upscale`` renders at 1/1.5 (severity near 0) to 1/6 (severity 1) of the
    resolution and scales back up, as a wrong rendition; ``gaussian`` blurs with sigma 0.8 to 4
    pixels, as a soft scaler."""
    h, w = img.shape[:2]
    if mode == "gaussian":
        return cv2.GaussianBlur(img, (0, 0), 0.8 + 3.2 * severity)
    factor = 1.5 + 4.5 * severity
    small = cv2.resize(img, (max(2, round(w / factor)), max(2, round(h / factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def interlace(current: np.ndarray, previous: np.ndarray, severity: float = 1.0) -> np.ndarray:
    """Combing: the odd rows come from the field of ``previous`` (mixed with ``current`` by
    ``1 - severity``), as when two fields of different times are woven without deinterlacing.
    Visible where the picture moves."""
    out = current.copy()
    odd = cv2.addWeighted(previous[1::2], severity, current[1::2], 1.0 - severity, 0.0)
    out[1::2] = odd
    return out


def color_range(img: np.ndarray, mode: RangeMode, severity: float = 1.0) -> np.ndarray:
    """A limited/full range mismatch: ``washed`` squeezes 0-255 into 16-235 (full-range video
    shown as limited: grey blacks, dull whites); ``crushed`` stretches 16-235 to 0-255 (limited
    shown as full: crushed shadows, clipped highlights).  ``severity`` blends from the original
    (0) to the full mismatch (1)."""
    x = np.arange(256, dtype=np.float64)
    mapped = 16.0 + x * 219.0 / 255.0 if mode == "washed" else (x - 16.0) * 255.0 / 219.0
    lut = np.clip(np.rint(x + severity * (mapped - x)), 0, 255).astype(np.uint8)
    return cv2.LUT(img, lut)


# --------------------------------------------------------------------------- episodes
def episode_span(times: Sequence[float], start_s: float,
                 end_s: float) -> tuple[int, int, float, float]:
    """The items of a clip (frame times ``times``, ascending) presented in ``[start_s, end_s)``:
    ``(first, stop, start, end)`` with indices ``[first, stop)``; ``start`` is the first item's
    time and ``end`` the next item's (one interval past the last item at the clip's end).
    ValueError when no item falls in the range."""
    first = bisect.bisect_left(times, start_s - 1e-9)
    stop = bisect.bisect_left(times, end_s - 1e-9)
    if first >= stop:
        raise ValueError(f"no frame in [{start_s}, {end_s})")
    if stop < len(times):
        end = float(times[stop])
    else:
        interval = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else 0.0
        end = float(times[-1]) + interval
    return first, stop, float(times[first]), end


def _span(frames: Sequence[Frame], start_s: float, end_s: float) -> tuple[int, int, float, float]:
    return episode_span([f.t for f in frames], start_s, end_s)


def _replace(frames: Sequence[Frame], first: int, images: Sequence[np.ndarray]) -> list[Frame]:
    """The clip with frames ``first, first + 1, ...`` showing ``images`` (times kept)."""
    out = list(frames)
    for k, image in enumerate(images):
        old = frames[first + k]
        out[first + k] = Frame(old.t, old.index, image)
    return out


def _per_frame(frames: Sequence[Frame], start_s: float, end_s: float,
               damage: Callable[[int], np.ndarray]) -> tuple[list[Frame], float, float]:
    """Replace every frame ``i`` of the episode with ``damage(i)``."""
    first, stop, start, end = _span(frames, start_s, end_s)
    return _replace(frames, first, [damage(i) for i in range(first, stop)]), start, end


def black_episode(frames: Sequence[Frame], start_s: float, end_s: float,
                  severity: float = 1.0) -> tuple[list[Frame], Event]:
    """Cut to black (severity 1) or to a near-black picture (severity 0.9: a tenth of the
    brightness left)."""
    out, start, end = _per_frame(frames, start_s, end_s, lambda i: black(frames[i].image, severity))
    return out, truth("black", start, end, severity)


def freeze_episode(frames: Sequence[Frame], start_s: float, end_s: float,
                   rng: np.random.Generator, severity: float = 1.0) -> tuple[list[Frame], Event]:
    """The picture before the episode held through it.  At severity 1 the repeats are identical;
    below, each carries fresh gaussian noise of ``3 x (1 - severity)`` levels, as a frozen
    decoder seen through a noisy capture.  The episode must not start at the first frame."""
    first, _, _, _ = _span(frames, start_s, end_s)
    if first == 0:
        raise ValueError("a freeze needs a frame before it to hold")
    held = frames[first - 1].image
    sigma = 3.0 * (1.0 - severity)

    def hold(_: int) -> np.ndarray:
        if sigma <= 0:
            return held
        noise = np.rint(rng.normal(0.0, sigma, held.shape))
        return np.clip(held + noise, 0, 255).astype(np.uint8)

    out, start, end = _per_frame(frames, start_s, end_s, hold)
    return out, truth("freeze", start, end, severity)


def _runs(images: Sequence[np.ndarray]) -> np.ndarray:
    """Lengths of the runs of identical consecutive pictures."""
    counts = [1]
    for a, b in zip(images, images[1:]):
        if a is b or np.array_equal(a, b):
            counts[-1] += 1
        else:
            counts.append(1)
    return np.asarray(counts, np.int64)


def stutter_episode(frames: Sequence[Frame], start_s: float, end_s: float,
                    rng: np.random.Generator, severity: float = 1.0,
                    pattern: StutterPattern = "mixed") -> tuple[list[Frame], Event]:
    """Uneven cadence over the episode, frames re-timed within it (playback is on time after):
    ``mixed``: repeats and skips (:func:`stutter_map`); ``drops``: lost frames, the previous one
    held (:func:`drop_map`); ``cadence``: a regular repeat cadence of the content (3:2 pulldown,
    low-rate footage) broken (:func:`cadence_counts`)."""
    first, stop, start, end = _span(frames, start_s, end_s)
    n = stop - first
    if pattern == "cadence":
        pictures = [f.image for f in frames[first:stop]]
        counts = _runs(pictures)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        offsets = np.repeat(starts, cadence_counts(counts, rng, severity))
    elif pattern == "drops":
        offsets = drop_map(rng, n, severity)
    else:
        offsets = stutter_map(rng, n, severity)
    images = [frames[first + int(k)].image for k in offsets]
    return _replace(frames, first, images), truth("stutter", start, end, severity, pattern=pattern)


def tear_rows(rng: np.random.Generator, height: int, n: int, row: int,
              drift: int | None = 0) -> np.ndarray:
    """The seam's row in each of ``n`` frames, starting at ``row`` and moving ``drift`` rows a
    frame (``None``: drawn, 2 % to 20 % of the height either way), folded back into the middle
    three quarters of the picture.

    Without vertical sync the seam sits where scan-out was when the new picture arrived, so
    unless the frame rate divides the refresh rate it moves from one frame to the next (slowly
    at 59.94 in 60, a sixth of the picture a frame at 50 in 60)."""
    if drift is None:
        drift = int(rng.choice((-1, 1)) * rng.integers(max(1, height // 50), max(2, height // 5)))
    low, high = height // 8, 7 * height // 8
    span = max(1, high - low)
    offset = (row - low + drift * np.arange(n)) % (2 * span)
    return (low + np.where(offset < span, offset, 2 * span - 1 - offset)).astype(int)


def tearing_episode(frames: Sequence[Frame], start_s: float, end_s: float,
                    rng: np.random.Generator, severity: float = 1.0,
                    row: int | None = None, drift: int | None = 0) -> tuple[list[Frame], Event]:
    """A seam at ``row`` (default: seeded, in the middle half): the top from frame n + 1, the
    bottom still from frame n, on a share ``severity`` of the episode's frames (the first
    always).  The seam moves ``drift`` rows a frame (see :func:`tear_rows`; 0: it stays)."""
    first, stop, _, _ = _span(frames, start_s, end_s)
    height, width = frames[0].image.shape[:2]
    if row is None:
        row = int(rng.integers(height // 4, 3 * height // 4))
    torn = rng.random(stop - first) < severity
    torn[0] = True
    rows = tear_rows(rng, height, stop - first, row, drift) if drift != 0 else \
        np.full(stop - first, row)

    def damage(i: int) -> np.ndarray:
        image = frames[i].image
        k = i - first
        return tear(image, frames[max(i - 1, 0)].image, int(rows[k])) if torn[k] else image

    out, start, end = _per_frame(frames, start_s, end_s, damage)
    seams = rows[torn]
    top, bottom = tear_region(width, height, int(seams.min())), \
        tear_region(width, height, int(seams.max()))
    region = (0, top[1], width, bottom[1] + bottom[3] - top[1])
    details = {"row": row} if drift == 0 else {"row": row, "rows": [int(r) for r in seams]}
    return out, truth("tearing", start, end, severity, region, **details)


def block_corruption_episode(frames: Sequence[Frame], start_s: float, end_s: float,
                             rng: np.random.Generator, severity: float = 1.0, block: int = 16,
                             styles: Sequence[BlockStyle] | None = None
                             ) -> tuple[list[Frame], Event]:
    """Corrupted macroblocks (:func:`corrupt_blocks`) in one region (:func:`block_region`) on
    every frame of the episode, drawn afresh each frame."""
    height, width = frames[0].image.shape[:2]
    region = block_region(height, width, rng, severity, block)
    out, start, end = _per_frame(
        frames, start_s, end_s,
        lambda i: corrupt_blocks(frames[i].image, rng, severity, block, region, styles)[0])
    return out, truth("block_corruption", start, end, severity, region, block=block,
                       area_ratio=region[2] * region[3] / (width * height),
                       styles=list(styles or _BLOCK_WEIGHTS))


def no_signal_episode(frames: Sequence[Frame], start_s: float, end_s: float,
                      severity: float = 1.0,
                      style: NoSignalStyle = "blue") -> tuple[list[Frame], Event]:
    """The capture shows no signal (:func:`no_signal`); a state, not a degree: ``severity`` is
    only recorded."""
    height, width = frames[0].image.shape[:2]
    picture = no_signal(height, width, style)
    out, start, end = _per_frame(frames, start_s, end_s, lambda _: picture)
    return out, truth("no_signal", start, end, severity, style=style)


def aspect_episode(frames: Sequence[Frame], start_s: float, end_s: float, severity: float = 1.0,
                   mode: AspectMode = "letterbox") -> tuple[list[Frame], Event]:
    """A wrong aspect-ratio conversion (:func:`reframe`); ``details.active`` is the area that
    shows picture."""
    height, width = frames[0].image.shape[:2]
    active = reframe(np.zeros((height, width, 3), np.uint8), mode, severity)[1]
    out, start, end = _per_frame(frames, start_s, end_s,
                                 lambda i: reframe(frames[i].image, mode, severity)[0])
    return out, truth("aspect", start, end, severity, mode=mode, active=list(active))


def blur_episode(frames: Sequence[Frame], start_s: float, end_s: float, severity: float = 1.0,
                 mode: BlurMode = "upscale") -> tuple[list[Frame], Event]:
    """Loss of detail (:func:`blur`) over the episode."""
    out, start, end = _per_frame(frames, start_s, end_s,
                                 lambda i: blur(frames[i].image, severity, mode))
    return out, truth("blur", start, end, severity, mode=mode)


def interlace_episode(frames: Sequence[Frame], start_s: float, end_s: float,
                      severity: float = 1.0) -> tuple[list[Frame], Event]:
    """Combing (:func:`interlace`): each frame woven with the field of the frame before."""
    out, start, end = _per_frame(
        frames, start_s, end_s,
        lambda i: interlace(frames[i].image, frames[max(i - 1, 0)].image, severity))
    return out, truth("interlace", start, end, severity)


def color_range_episode(frames: Sequence[Frame], start_s: float, end_s: float,
                        severity: float = 1.0,
                        mode: RangeMode = "washed") -> tuple[list[Frame], Event]:
    """A limited/full range mismatch (:func:`color_range`) over the episode."""
    out, start, end = _per_frame(frames, start_s, end_s,
                                 lambda i: color_range(frames[i].image, mode, severity))
    return out, truth("color_range", start, end, severity, mode=mode)
