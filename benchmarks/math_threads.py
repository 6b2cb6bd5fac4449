"""The harness's one-math-thread default (``harness/threads.py``) against the libraries' own
default (a thread per core), on a machine whose other cores are busy.

In one run: a pure-Python busy loop on every core but one (what capture threads, video
detectors or a second CI job do to a box), then every audio detector fed the same 180 s of
48 kHz stereo music chunk by chunk, as ``harness analyze`` feeds them (the speed benchmark's
"together" figure, ``benchmarks/audio_detectors.py``), in fresh processes that are free to use
every core:

1. ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` = the core count: the libraries' default,
   what a process gets without the harness's default;
2. no variable set: the harness's default, one thread.

Each is run three times, alternating; the best CPU-and-wait (wall) time of each is printed with
the ratio, and written to ``benchmarks/results/math_threads.txt``.

    .venv/bin/python benchmarks/math_threads.py
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from audio_detectors import make_file  # noqa: E402 (benchmarks/audio_detectors.py)
from common import REPO, detectors_of, publish, tools  # noqa: E402 (benchmarks/common.py)

RESULTS = REPO / "benchmarks" / "results" / "math_threads.txt"
MATH_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "AVHARNESS_MATH_THREADS")

TOGETHER = r"""
import gc, json, sys, time
import detectors  # harness first: its default applies unless the environment says otherwise
import soundfile as sf
from detectors import base as registry
from harness.analyze import AUDIO_STEPS, DetectorBank
from harness.media import AudioChunk
from threadpoolctl import threadpool_info
path, names = sys.argv[1], sys.argv[2].split(",")
data, rate = sf.read(path, dtype="float32", always_2d=True)
step = AUDIO_STEPS * round(0.1 * rate)
for name in names:   # weights and imports outside the timing
    det = registry.create(name)
    det.feed(AudioChunk(0.0, data[:2 * rate], rate))
    det.finish()
bank = DetectorBank(names, {})
fed = [AudioChunk(i / rate, data[i:i + step], rate) for i in range(0, data.shape[0], step)]
gc.collect()
start = time.perf_counter()
for chunk in fed:
    bank.feed(chunk)
bank.finish()
wall = time.perf_counter() - start
threads = {}   # the most threads any library of each kind may use (numpy, scipy and torch each
for d in threadpool_info():   # bring their own OpenBLAS; torch sets its own to 1)
    threads[d["internal_api"]] = max(threads.get(d["internal_api"], 0), d["num_threads"])
print(json.dumps({"seconds": data.shape[0] / rate, "wall": wall, "threads": threads}))
"""


def _burn() -> None:
    while True:
        pass


def run_suite(path: Path, names: list[str], threads: int | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in MATH_VARS}
    env["PYTHONPATH"] = str(REPO)
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, "-c", TOGETHER, str(path), ",".join(names)], env=env,
                          check=True, capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the test file")
    parser.add_argument("--output", default=str(RESULTS), help="where the results are written")
    args = parser.parse_args()
    found = tools()
    if found is None:
        return 2
    ffmpeg, _ = found
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores < 2:
        print("math_threads: one core here; the comparison needs at least two", file=sys.stderr)
        return 2
    names = detectors_of("audio")
    burners = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(cores - 1)]
    best: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-threads-") as tmp:
        path = Path(tmp) / "music.flac"
        what = make_file(ffmpeg, path, args.seconds)
        for b in burners:
            b.start()
        try:
            for _ in range(3):
                for label, threads in (("libraries' default", cores), ("harness default", None)):
                    r = run_suite(path, names, threads)
                    if label not in best or r["wall"] < best[label]["wall"]:
                        best[label] = r
        finally:
            for b in burners:
                b.terminate()
    seconds = best["harness default"]["seconds"]
    lines = [f"math threads benchmark: {seconds:.0f} s of {what}; every audio detector fed together "
             f"({', '.join(names)})",
             f"machine: {cores} cores, {cores - 1} of them kept busy by a Python busy loop; "
             f"wall time, best of 3 each, alternating",
             "",
             f"{'':52s} {'threads':>18s} {'seconds':>8s} {'x real time':>11s}"]
    for label in ("libraries' default", "harness default"):
        r = best[label]
        th = ",".join(f"{k} {v}" for k, v in sorted(r["threads"].items()))
        lines.append(f"{label:52s} {th:>18s} {r['wall']:8.2f} {seconds / r['wall']:11.1f}")
    ratio = best["libraries' default"]["wall"] / best["harness default"]["wall"]
    lines += ["", f"harness default / libraries' default: {ratio:.2f}x the speed"]
    publish(lines, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
