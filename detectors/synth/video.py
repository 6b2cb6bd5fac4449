"""Video defect injectors: plain functions over BGR ``uint8`` pictures.

The simulated device (:mod:`harness.sim`), the corpus builder and training scripts all damage
pictures with these, so a defect looks the same wherever it is made.  Every function leaves its
inputs untouched and returns a new array.  Those that draw at random take a seeded
:class:`numpy.random.Generator`; ``severity`` is in (0, 1], 1 being the strongest form.

Temporal defects (freeze, stutter) are frame *selections* rather than pixel operations: a freeze
repeats one source frame, :func:`stutter_map` says which source frame each output frame shows.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

Region = tuple[int, int, int, int]  # x, y, w, h in pixels

NoSignalStyle = Literal["blue", "black", "bars"]

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
                   block: int = 16, region: Region | None = None) -> tuple[np.ndarray, Region]:
    """Macroblocking as from a damaged stream, inside ``region`` (chosen by :func:`block_region`
    when not given).

    Within the region each ``block`` x ``block`` macroblock is, with a probability growing with
    severity (about 40 % to 90 %), replaced by one of: its flat mean colour (only the DC
    coefficient survived), the block from a wrong motion vector (displaced content), or a
    false-colour flat block (green/magenta, as from lost chroma).  Returns the new picture and
    the region.
    """
    if region is None:
        region = block_region(img.shape[0], img.shape[1], rng, severity, block)
    x, y, w, h = region
    out = img.copy()
    roi = out[y:y + h, x:x + w]
    rows, cols = h // block, w // block
    hit = 0.35 + 0.55 * severity
    kinds = rng.choice(4, size=(rows, cols), p=[1.0 - hit, 0.4 * hit, 0.4 * hit, 0.2 * hit])
    flat = cv2.resize(cv2.resize(roi, (cols, rows), interpolation=cv2.INTER_AREA), (w, h),
                      interpolation=cv2.INTER_NEAREST)
    dy, dx = (int(v) * block for v in rng.choice([-4, -3, -2, 2, 3, 4], size=2))
    displaced = np.roll(roi, (dy, dx), axis=(0, 1))
    false_colour = flat.copy()
    false_colour[..., 1] = 255 - false_colour[..., 1]  # green/magenta cast, as from lost chroma
    per_pixel = np.repeat(np.repeat(kinds, block, axis=0), block, axis=1)[..., None]
    roi[:] = np.where(per_pixel == 1, flat,
                      np.where(per_pixel == 2, displaced,
                               np.where(per_pixel == 3, false_colour, roi)))
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
