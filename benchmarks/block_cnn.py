"""Speed of the block-corruption CNN (``block_corruption:v1``/``:v2``).

    .venv/bin/python benchmarks/block_cnn.py                 # CPU, one thread
    .venv/bin/python benchmarks/block_cnn.py --device cuda   # GPU variants side by side

CPU: frames/s of the whole per-frame path (resize to the analysis width, normalise, network,
decision) at native 1080p (1080 x 1920 input, 34 x 60 map) and at analysis widths (default 640:
a 360 x 640 input, 12 x 20 map), on one core; and the frame-sampling rate ``every_n`` that keeps a
live 1080p60 step real time on one core (the detector analyses every N-th frame).

GPU (``--device cuda``): eager fp32, fp16 + channels_last, + torch.compile, + CUDA graphs, each
at batch 1 and batch 8, at 1080p and at the analysis width; prints "no GPU" where CUDA is not
available.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.video.block_cnn import (BlockCNN, analysis_size, load_model, predict,  # noqa: E402
                                       prepare, to_tensor, weights_path)


def _frame(height: int = 1080, width: int = 1920) -> np.ndarray:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    import cv2
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def _time(fn, seconds: float, min_runs: int = 3) -> float:
    fn()
    runs, t0 = 0, time.perf_counter()
    while runs < min_runs or time.perf_counter() - t0 < seconds:
        fn()
        runs += 1
    return (time.perf_counter() - t0) / runs


def _model(version: str) -> tuple[BlockCNN, str]:
    """The trained model, or (speed does not depend on training) a seeded untrained one."""
    if weights_path(version).is_file():
        return load_model(weights_path(version), version), "trained weights"
    torch.manual_seed(0)
    return BlockCNN(version).eval(), "untrained weights: none trained here"


def cpu(version: str, widths: list[int], seconds: float) -> list[str]:
    torch.set_num_threads(1)
    model, which = _model(version)
    image = _frame()
    lines = [f"CPU ({platform.processor() or platform.machine()}), torch {torch.__version__}, "
             f"1 thread, model {version} ({which}), 1080p BGR input"]
    live = []
    for width in [1920] + widths:
        h, w = analysis_size(1080, 1920, width)
        per = _time(lambda: predict(model, prepare(image, width)), seconds)
        n = max(1, math.ceil(60 * per))
        live.append((width, n))
        lines.append(f"  analysis {w}x{h} (map {math.ceil(h / 32)}x{math.ceil(w / 32)}): "
                     f"{per * 1000:7.1f} ms/frame = {1 / per:6.2f} frames/s; live 1080p60 on one "
                     f"core: every_n = {n}")
    return lines


def gpu(version: str, widths: list[int], seconds: float) -> list[str]:
    if not torch.cuda.is_available():
        return ["no GPU (torch.cuda.is_available() is False): GPU figures not measured"]
    dev = torch.device("cuda")
    lines = [f"GPU {torch.cuda.get_device_name(0)}, torch {torch.__version__}"]
    base = BlockCNN(version)
    base.load_state_dict(_model(version)[0].state_dict())
    image = _frame()
    for width in [1920] + widths:
        h, w = analysis_size(1080, 1920, width)
        for batch in (1, 8):
            x32 = to_tensor([prepare(image, width)] * batch).to(dev)
            variants = {}
            m32 = BlockCNN(version).to(dev).eval()
            m32.load_state_dict(base.state_dict())
            variants["eager fp32"] = (m32, x32)
            m16 = BlockCNN(version).to(dev).eval()
            m16.load_state_dict(base.state_dict())
            m16 = m16.half().to(memory_format=torch.channels_last)
            x16 = x32.half().contiguous(memory_format=torch.channels_last)
            variants["fp16 channels_last"] = (m16, x16)
            try:
                variants["fp16 cl + compile"] = (torch.compile(m16, mode="max-autotune-no-cudagraphs"), x16)
                variants["fp16 cl + compile + CUDA graphs"] = (torch.compile(m16, mode="reduce-overhead"), x16)
            except Exception as exc:  # noqa: BLE001
                lines.append(f"  torch.compile unavailable: {exc}")
            for name, (model, x) in variants.items():
                def run(model=model, x=x):
                    with torch.inference_mode():
                        model(x)
                    torch.cuda.synchronize()
                try:
                    for _ in range(3):
                        run()
                    per = _time(run, seconds)
                except Exception as exc:  # noqa: BLE001
                    lines.append(f"  {w}x{h} batch {batch} {name}: failed ({type(exc).__name__})")
                    continue
                lines.append(f"  {w}x{h} batch {batch:2d} {name:32s}: {per / batch * 1000:7.2f} "
                             f"ms/frame = {batch / per:8.1f} frames/s")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--model", choices=("v1", "v2"), default="v2")
    p.add_argument("--widths", default="960,640,480", help="analysis widths besides native 1920")
    p.add_argument("--seconds", type=float, default=3.0, help="timing per configuration")
    args = p.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",") if w]
    lines = (cpu if args.device == "cpu" else gpu)(args.model, widths, args.seconds)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
