"""Block corruption (neural): a ResNet18 that maps corrupted 32 x 32 cells.

The trunk is a plain ResNet18 (BasicBlock 2, 2, 2, 2, stride 32, written here: torchvision is not
a dependency) whose classifier is replaced by a 1 x 1 convolution: one logit per 32 x 32 input
region, so a 224 x 224 input gives a 7 x 7 map and 1080 x 1920 a 34 x 60 one.

- **v1** (``block_corruption:v1``): the map is binarised (probability >= ``cell_threshold``) and
  a frame is corrupted when the corrupted-area ratio (positive cells / all cells) reaches
  ``area_ratio`` (published value 0.07; the value used is the one confirmed or retuned on the
  training corpus, see ``detectors/models/block_corruption_v1.json``).
- **v2** (``block_corruption:v2``): the decision is in the model: a small head reads the map
  (its max, mean, top-3 mean and area) and the trunk's max-pooled features and gives the
  probability that the frame is corrupted; trained jointly with the trunk, so the threshold is
  learnt with the features (``threshold`` 0.5).

Frames are analysed at ``analysis_width`` (the height follows the aspect ratio), RGB in [0, 1]
normalised; ``every_n`` analyses every n-th frame only (live use on a slow host).  Corrupted
frames closer than ``max_gap_s`` form one episode; its ``region`` is the bounding box of the
positive cells in source pixels, ``details`` carry ``area_ratio``, the positive ``cells``
([row, col] of the best frame's map), ``cell_px`` (a cell's size in source pixels, [w, h]) and
the ``model``.  Weights (fp16) are loaded lazily, once per path and process; inference runs in
``torch.inference_mode`` in fp32 and is deterministic.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from pydantic import Field
from torch import nn

from detectors.base import Detector, DetectorConfig, Event
from detectors.video.common import FrameClock, GapEpisodes
from harness.media import Frame
from harness.errors import BadInput

CELL = 32                                    # input pixels per map cell (the trunk's stride)
MODELS = Path(__file__).resolve().parent.parent / "models"
MEAN = np.array([0.45, 0.45, 0.45], np.float32)
STD = np.array([0.225, 0.225, 0.225], np.float32)


# --------------------------------------------------------------------------- the network
class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet18Trunk(nn.Module):
    """ResNet18 without its pooling and classifier: (N, 3, H, W) -> (N, 512, ~H/32, ~W/32)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, cin, layers = (64, 128, 256, 512), 64, []
        for k, width in enumerate(widths):
            stride = 1 if k == 0 else 2
            layers.append(nn.Sequential(BasicBlock(cin, width, stride), BasicBlock(width, width)))
            cin = width
        self.layer1, self.layer2, self.layer3, self.layer4 = layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class DecisionHead(nn.Module):
    """v2: frame logit from map statistics and max-pooled trunk features (size-invariant)."""

    def __init__(self, features: int = 512, hidden: int = 32) -> None:
        super().__init__()
        self.features = nn.Linear(features, hidden)
        self.mlp = nn.Sequential(nn.Linear(hidden + 4, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, feats: torch.Tensor, map_logits: torch.Tensor) -> torch.Tensor:
        flat = map_logits.flatten(1)
        prob = torch.sigmoid(flat)
        top = torch.topk(flat, min(3, flat.shape[1]), dim=1).values.mean(1)
        stats = torch.stack([flat.max(1).values, flat.mean(1), top,
                             (prob >= 0.5).float().mean(1) * 10.0], dim=1)
        pooled = torch.relu(self.features(torch.amax(feats, dim=(2, 3))))
        return self.mlp(torch.cat([pooled, stats], dim=1)).squeeze(1)


class BlockCNN(nn.Module):
    """ResNet18 trunk + 1 x 1 map head (+ the v2 decision head).

    ``forward`` returns ``(map_logits (N, 1, h, w), frame_logit (N,) or None)``.
    """

    def __init__(self, version: str = "v1") -> None:
        super().__init__()
        self.version = version
        self.trunk = ResNet18Trunk()
        self.map_head = nn.Conv2d(512, 1, 1)
        self.decision = DecisionHead() if version == "v2" else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        feats = self.trunk(x)
        logits = self.map_head(feats)
        frame = self.decision(feats, logits) if self.decision is not None else None
        return logits, frame


def map_shape(height: int, width: int) -> tuple[int, int]:
    """The map's (rows, cols) for an input of ``height`` x ``width`` (ceil of /32)."""
    for _ in range(5):
        height, width = (height + 1) // 2, (width + 1) // 2
    return height, width


# --------------------------------------------------------------------------- pre-processing
def to_tensor(images: np.ndarray | list[np.ndarray]) -> torch.Tensor:
    """BGR uint8 picture(s) -> normalised RGB float tensor (N, 3, H, W)."""
    batch = np.stack(images) if isinstance(images, list) else images
    if batch.ndim == 3:
        batch = batch[None]
    rgb = batch[..., ::-1].astype(np.float32) / 255.0
    rgb = (rgb - MEAN) / STD
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(0, 3, 1, 2)))


def analysis_size(height: int, width: int, analysis_width: int) -> tuple[int, int]:
    """(h, w) of the analysed picture: ``analysis_width`` wide (never upscaled), even sizes."""
    if width <= analysis_width:
        return height, width
    h = int(round(height * analysis_width / width / 2)) * 2
    return max(h, 2), analysis_width


def prepare(image: np.ndarray, analysis_width: int) -> np.ndarray:
    """The BGR picture at the analysis size (area downscale)."""
    h, w = analysis_size(image.shape[0], image.shape[1], analysis_width)
    if (h, w) == image.shape[:2]:
        return image
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)


# --------------------------------------------------------------------------- weights
_CACHE: dict[tuple[str, str], BlockCNN] = {}
_LOCK = threading.Lock()


def weights_path(version: str) -> Path:
    return MODELS / f"block_corruption_{version}.pt"


def load_model(path: str | Path, version: str) -> BlockCNN:
    """The model of ``path`` (fp16 or fp32 state dict), fp32 in eval mode; cached per path."""
    key = (str(Path(path).resolve()), version)
    if not Path(key[0]).is_file():
        raise BadInput(f"block_corruption:{version}: no weights at {path}; train them with "
                       f"`python -m detectors.training.block_corruption --model {version} "
                       f"--out build/block_cnn --seed 100` (see detectors/models/README.md), "
                       f"or use block_corruption:dsp")
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            state = torch.load(key[0], map_location="cpu", weights_only=True)
            state = state.get("model", state)
            model = BlockCNN(version)
            model.load_state_dict({k: v.float() for k, v in state.items()})
            model.eval()
            _CACHE[key] = model
    return model


def model_card(version: str) -> dict[str, Any]:
    path = MODELS / f"block_corruption_{version}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _card_value(version: str, key: str, default: float) -> float:
    try:
        return float(model_card(version).get("decision", {}).get(key, default))
    except (OSError, ValueError):
        return default


@torch.inference_mode()
def predict(model: BlockCNN, images: np.ndarray | list[np.ndarray]
            ) -> tuple[np.ndarray, np.ndarray | None]:
    """Cell probabilities (N, h, w) and, for v2, frame probabilities (N,), of BGR pictures
    already at the analysis size."""
    logits, frame = model(to_tensor(images))
    probs = torch.sigmoid(logits[:, 0]).numpy()
    return probs, None if frame is None else torch.sigmoid(frame).numpy()


# --------------------------------------------------------------------------- evidence
def cells_region(cells: np.ndarray, cell_px: tuple[float, float],
                 size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Bounding box ``[x, y, w, h]`` in source pixels of the True cells of ``cells``."""
    ys, xs = np.nonzero(cells)
    if len(ys) == 0:
        return None
    cw, ch = cell_px
    x0, y0 = int(xs.min() * cw), int(ys.min() * ch)
    x1 = min(size[1], int(round((xs.max() + 1) * cw)))
    y1 = min(size[0], int(round((ys.max() + 1) * ch)))
    return (x0, y0, x1 - x0, y1 - y0)


# --------------------------------------------------------------------------- the detectors
class BlockCNNConfig(DetectorConfig):
    weights: str = Field("", description="weights file (fp16 state dict); empty: the committed model")
    analysis_width: int = Field(640, ge=64, le=3840, description="frames are analysed at this width (never upscaled)")
    cell_threshold: float = Field(0.5, gt=0, lt=1, description="a cell is corrupted when its probability reaches this")
    every_n: int = Field(1, ge=1, le=60, description="analyse every n-th frame only (live use)")
    max_gap_s: float = Field(0.3, ge=0, description="corrupted frames closer than this are one episode")
    min_frames: int = Field(2, ge=1, description="episodes with fewer corrupted frames are not reported")


class BlockCNNv1Config(BlockCNNConfig):
    area_ratio: float = Field(_card_value("v1", "area_ratio", 0.07),  # the model card's value
                              ge=0, le=1, description="a frame is corrupted when this share of its cells is")


class BlockCNNv2Config(BlockCNNConfig):
    threshold: float = Field(_card_value("v2", "threshold", 0.5),
                             gt=0, lt=1, description="a frame is corrupted when the decision head's probability reaches this")


class BlockCorruptionCNN(Detector):
    """Shared streaming logic of ``block_corruption:v1`` and ``:v2``."""

    kind = "block_corruption"
    media = "video"
    version = "v1"

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self._model = load_model(cfg.weights or weights_path(self.version), self.version)
        self._clock = FrameClock()
        self._episodes = GapEpisodes(self.kind, self.name, cfg.max_gap_s, min_count=cfg.min_frames)
        self._count = 0
        self._best: tuple[float, float] = (-1.0, -1.0)   # (episode start, best score)

    def analyse(self, image: np.ndarray) -> tuple[bool, float, np.ndarray, float]:
        """One picture: (corrupted, score, positive-cell mask, area ratio)."""
        cfg = self.config
        probs, frame = predict(self._model, prepare(image, cfg.analysis_width))
        cells = probs[0] >= cfg.cell_threshold
        ratio = float(cells.mean())
        if frame is None:
            return ratio >= cfg.area_ratio, min(1.0, 0.5 + 2.0 * ratio), cells, ratio
        p = float(frame[0])
        if p >= cfg.threshold and not cells.any():
            cells = probs[0] >= probs[0].max()
        return p >= cfg.threshold, p, cells, ratio

    def feed(self, frame: Frame) -> list[Event]:
        cfg = self.config
        self._clock.update(frame.t)
        k, self._count = self._count, self._count + 1
        if k % cfg.every_n:
            return []
        gap = max(cfg.max_gap_s, 1.5 * cfg.every_n * self._clock.interval)
        self._episodes.max_gap_s = gap
        out = self._episodes.tick(frame.t)
        corrupted, score, cells, ratio = self.analyse(frame.image)
        if not corrupted:
            return out
        h, w = frame.image.shape[:2]
        ah, aw = analysis_size(h, w, cfg.analysis_width)
        cell_px = (CELL * w / aw, CELL * h / ah)
        region = cells_region(cells, cell_px, (h, w))
        out += self._episodes.tick(frame.t)
        start = self._episodes.active_since
        if start is None or start != self._best[0] or score > self._best[1]:
            self._best = (frame.t if start is None else start, score)
            details = {"area_ratio": round(ratio, 4),
                       "cells": [[int(r), int(c)] for r, c in zip(*np.nonzero(cells))],
                       "cell_px": [round(cell_px[0], 3), round(cell_px[1], 3)],
                       "model": self.version}
        else:
            details = {}
        return out + self._episodes.flag(frame.t, frame.t + cfg.every_n * self._clock.interval,
                                         score, region=region, evidence=frame.image,
                                         details=details)

    def finish(self) -> list[Event]:
        return self._episodes.finish()


class BlockCorruptionCNNv1(BlockCorruptionCNN):
    name = "block_corruption:v1"
    version = "v1"
    Config = BlockCNNv1Config


class BlockCorruptionCNNv2(BlockCorruptionCNN):
    name = "block_corruption:v2"
    version = "v2"
    Config = BlockCNNv2Config
