"""What the benchmarks share: running a command on one core, one thread, and timing it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def pinned(core: int) -> tuple[list[str], dict[str, str]]:
    """The command prefix and environment that keep a process on one core, one thread (numpy,
    OpenCV, torch and ffmpeg's decoder in OpenCV alike), with the repository importable."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMEXPR_NUM_THREADS="1", TORCH_NUM_THREADS="1", OPENCV_FOR_THREADS_NUM="1",
               OPENCV_FFMPEG_CAPTURE_OPTIONS="threads;1", PYTHONPATH=str(REPO))
    prefix = ["taskset", "-c", str(core)] if shutil.which("taskset") else []
    return prefix, env


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds ``cmd`` takes (its output discarded; a failure raises)."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def detectors_of(media: str) -> list[str]:
    """Every registered detector of ``media`` once, as ``harness analyze --detectors all`` runs
    them (aliases and ``name:variant`` implementations left out)."""
    sys.path.insert(0, str(REPO))
    from detectors import base as registry

    return registry.resolve_names("all", media=media)


def tools() -> tuple[str, str] | None:
    """The ffmpeg and harness executables, or None (with a message) without ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        print("ffmpeg is required (scripts/setup.sh installs it)", file=sys.stderr)
        return None
    return ffmpeg, str(Path(sys.executable).parent / "harness")


def publish(lines: list[str], output: str | Path) -> None:
    """Print a benchmark's result lines and write them to ``output`` (its results file)."""
    text = "\n".join(lines) + "\n"
    print(text, end="")
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
