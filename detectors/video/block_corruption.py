"""Block corruption (signal processing): displaced or flat blocks, macroblocking.

Damaged streams show wrong macroblocks: a flat block where only the DC coefficient survived, a
block copied from the wrong place, a false-colour block, a slice smeared down.  All of them put
an edge *on the coding grid* (``block`` pixels, aligned with the frame) that the picture
around it does not explain.  In the spirit of Muijs & Kirenko's blockiness measure and ffmpeg
``blockdetect``, the luma gradient across every block boundary is compared with the gradients
inside the two blocks it separates, at full resolution on a sample of lines: every
``row_step``-th row for the vertical boundaries, and for the horizontal ones the rows on both
sides of each boundary against row pairs inside the blocks.  A boundary is *blocky* when its
gradient exceeds ``edge_ratio`` times the inner ones plus ``edge_margin`` levels.  A block is
corrupted when at least ``min_edges`` of its four boundaries are blocky, or when it is flat
(inner gradients at capture-noise level, ``flat_level``) with at least one blocky boundary
while its neighbours are textured (the flat-block cue; a displaced block shows blocky edges on
all sides: the displaced-block cue).

A frame is corrupted when a cluster of at least ``min_blocks`` corrupted blocks (8-connected)
covers at least ``min_area`` of the picture; its region is the cluster's bounding box and
``details`` give the corrupted-area ratio.  Edges that stay put on a still picture (a menu drawn
on the grid, a slide) are not corruption: blocks whose boundary pattern is the same as in the
previous frame while the picture does not change there are skipped.  Corrupted frames closer
than ``max_gap_s`` form one episode.

Registered as ``block_corruption`` and ``block_corruption:dsp`` (the neural detector of a later
issue may take the plain name).
"""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from detectors.base import Detector, DetectorConfig, Event
from detectors.video.common import FrameClock, GapEpisodes
from harness.media import Frame


class BlockCorruptionConfig(DetectorConfig):
    block: int = Field(16, ge=4, le=64, description="coding block size in source pixels (grid aligned with the frame)")
    row_step: int = Field(8, ge=1, le=16, description="vertical boundaries are measured on every n-th row")
    edge_ratio: float = Field(2.5, gt=1, description="a boundary is blocky when its gradient exceeds this many times the blocks' inner gradients ...")
    edge_margin: float = Field(6.0, ge=0, description="... plus this many luma levels")
    flat_level: float = Field(2.0, ge=0, description="a block whose inner gradient (mean luma step) is at most this is flat")
    min_edges: int = Field(3, ge=1, le=4, description="blocky boundaries that make a block corrupted")
    min_blocks: int = Field(6, ge=1, description="a corrupted cluster has at least this many blocks ...")
    min_area: float = Field(0.004, ge=0, le=1, description="... and covers at least this share of the picture")
    max_gap_s: float = Field(0.3, ge=0, description="corrupted frames closer than this are one episode")
    min_frames: int = Field(2, ge=1, description="episodes with fewer corrupted frames are not reported")


class BlockCorruptionDetector(Detector):
    name = "block_corruption"
    kind = "block_corruption"
    media = "video"
    Config = BlockCorruptionConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self._clock = FrameClock()
        self._episodes = GapEpisodes(self.kind, self.name, cfg.max_gap_s, min_count=cfg.min_frames)
        self._previous: tuple[np.ndarray, np.ndarray] | None = None  # (block means, blocky mask)

    def feed(self, frame: Frame) -> list[Event]:
        cfg = self.config
        self._clock.update(frame.t)
        out = self._episodes.tick(frame.t)
        full = frame.gray()
        b = cfg.block
        nby, nbx = full.shape[0] // b, full.shape[1] // b
        if nby < 3 or nbx < 3:
            return out
        corrupted, means = cached_block_map(frame, cfg)
        previous, self._previous = self._previous, (means, corrupted)
        if previous is not None and previous[0].shape == means.shape:
            # the same edges on a picture that did not change there: drawn, not damaged
            static = cv2.absdiff(means, previous[0]) < 1.0
            corrupted = corrupted & ~(static & previous[1])
        count = int(corrupted.sum())
        if count < cfg.min_blocks:
            return out
        n, _, stats, _ = cv2.connectedComponentsWithStats(corrupted.astype(np.uint8),
                                                          connectivity=8)
        if n < 2:
            return out
        best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        blocks = int(stats[best, cv2.CC_STAT_AREA])
        ratio = blocks / float(nby * nbx)
        if blocks < cfg.min_blocks or ratio < cfg.min_area:
            return out
        x, y, w, h = (int(stats[best, k]) * b for k in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP,
                                                         cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT))
        score = float(min(1.0, 0.5 + 10 * ratio))
        return out + self._episodes.flag(frame.t, frame.t + self._clock.interval, score,
                                         region=(x, y, w, h), evidence=frame.image,
                                         details={"max_area_ratio": round(ratio, 4),
                                                  "max_blocks": blocks})

    def finish(self) -> list[Event]:
        return self._episodes.finish()


def cached_block_map(frame: Frame, cfg: BlockCorruptionConfig) -> tuple[np.ndarray, np.ndarray]:
    """:func:`block_map` of the frame's full-resolution luma, computed once per frame and
    configuration (``stutter`` asks it of the pictures it judges)."""
    fields = ("block", "row_step", "edge_ratio", "edge_margin", "flat_level", "min_edges")
    key = ("block_map",) + tuple(getattr(cfg, name) for name in fields)
    return frame.cached(key, lambda f: block_map(f.gray(), cfg))


def damaged_area(frame: Frame, cfg: BlockCorruptionConfig | None = None) -> float:
    """The share of the picture covered by its largest cluster of corrupted blocks (0 when the
    cluster has fewer than ``min_blocks``): the per-frame measure of this detector, without its
    filter for edges that stay put on a still picture."""
    cfg = cfg or BlockCorruptionConfig()
    if min(frame.image.shape[:2]) < 3 * cfg.block:
        return 0.0
    corrupted, _ = cached_block_map(frame, cfg)
    if int(corrupted.sum()) < cfg.min_blocks:
        return 0.0
    n, _, stats, _ = cv2.connectedComponentsWithStats(corrupted.astype(np.uint8), connectivity=8)
    blocks = int(stats[1:, cv2.CC_STAT_AREA].max()) if n > 1 else 0
    return blocks / float(corrupted.size) if blocks >= cfg.min_blocks else 0.0


def block_map(full: np.ndarray, cfg: BlockCorruptionConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per block of the grid: corrupted (bool) and its mean luma (float32), from the full-
    resolution luma ``full``."""
    b, step = cfg.block, cfg.row_step
    nby, nbx = full.shape[0] // b, full.shape[1] // b
    width = nbx * b
    grid = full[:nby * b, :width]
    # horizontal steps on sampled rows, summed per block row: (nby, width), column c holds the
    # step between pixels c and c + 1 (the last column, past the grid, is 0)
    rows = grid[::step]
    per_row = rows.shape[0] // nby
    dh = cv2.absdiff(rows[:, 1:], rows[:, :-1])
    summed = dh[0::per_row].astype(np.uint16)
    for k in range(1, per_row):  # (mixed-type cv2.add takes a slow path: numpy here)
        summed += dh[k::per_row]
    summed = cv2.copyMakeBorder(summed.astype(np.float32) / per_row, 0, 0, 0, 1,
                                cv2.BORDER_CONSTANT, value=0)
    boundary = summed[:, b - 1::b]                           # right edge of each block
    total = cv2.resize(summed, (nbx, nby), interpolation=cv2.INTER_AREA) * b
    inner_h = (total - boundary) / (b - 1)                   # inside each block
    edge_h = boundary[:, :-1]                                # between block j and j + 1
    # vertical steps across each horizontal boundary and between row pairs inside blocks
    edge_v = _per_block(cv2.absdiff(grid[b - 1:-1:b], grid[b::b]), nbx)       # (nby - 1, nbx)
    quarter = max(1, b // 4)
    pairs = [cv2.absdiff(grid[k::b], grid[k + 1::b]) for k in (quarter - 1, 2 * quarter - 1,
                                                                 3 * quarter - 1)]
    inner_v = _per_block(pairs[0].astype(np.uint16) + pairs[1] + pairs[2], nbx) / 3.0
    means = cv2.resize(rows[:nby * per_row], (nbx, nby),
                       interpolation=cv2.INTER_AREA).astype(np.float32)

    inner = np.maximum(inner_h, inner_v)
    # a boundary is blocky when it steps more than the blocks on both sides explain
    ref_h = np.maximum(inner[:, :-1], inner[:, 1:])
    ref_v = np.maximum(inner[:-1], inner[1:])
    blocky_h = edge_h > cfg.edge_ratio * ref_h + cfg.edge_margin    # (nby, nbx - 1)
    blocky_v = edge_v > cfg.edge_ratio * ref_v + cfg.edge_margin    # (nby - 1, nbx)
    edges = np.zeros((nby, nbx), np.int32)
    edges[:, :-1] += blocky_h
    edges[:, 1:] += blocky_h
    edges[:-1] += blocky_v
    edges[1:] += blocky_v
    corrupted = edges >= cfg.min_edges
    # flat-block cue: a flat block with a blocky edge amid textured neighbours
    flat = inner <= cfg.flat_level
    textured = cv2.dilate((inner > 2 * cfg.flat_level + cfg.edge_margin).astype(np.uint8),
                          np.ones((3, 3), np.uint8)).astype(bool)
    corrupted |= flat & (edges >= 1) & textured
    return corrupted, means


def _per_block(lines: np.ndarray, nbx: int) -> np.ndarray:
    """Mean of each ``block``-wide run of every line of ``lines``: (lines, nbx) float32."""
    return cv2.resize(lines.astype(np.float32), (nbx, lines.shape[0]), interpolation=cv2.INTER_AREA)
