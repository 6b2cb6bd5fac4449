"""Speed of the audio detector suite on a 48 kHz stereo file, on one core, against ffmpeg.

In one run, on the same file and the same core (``taskset -c CORE``, one thread everywhere):

1. ``ffmpeg -threads 1 -i FILE -f null -``: decoding alone;
2. ``ffmpeg -threads 1 -i FILE -af silencedetect,astats,ebur128 -f null -``: ffmpeg's own
   audio analysis chain;
3. every registered audio detector (``detectors.base.resolve_names("all", media="audio")``,
   the learned classifier included when it is registered) fed the decoded file in the chunks
   ``harness analyze`` feeds (``harness.analyze.AUDIO_STEPS`` x 0.1 s), in one process: each
   detector alone, and all of them fed together chunk by chunk as ``harness analyze`` does
   (what they share through a chunk, the hiss and distortion detectors' spectra, counted
   once): detector time alone;
4. ``harness analyze FILE --detectors <every audio detector>`` (decode and start-up included).

Steps 1-3 run ``--rounds`` times (default 3), interleaved, and each figure is the best round's
(the least disturbed by the rest of a shared machine: single runs of the same code read
194-227x on one machine within an hour, session 7); every round's figure for the detectors together and for ffmpeg's
chain is printed too.

Prints seconds and real-time factors and the ratios, and writes them to
``benchmarks/results/audio_detectors.txt``.  The test file is corpus music (frozen-bubble's
tracks, looped) made with ffmpeg, 48 kHz stereo FLAC.

    .venv/bin/python benchmarks/audio_detectors.py                 # 180 s file
    .venv/bin/python benchmarks/audio_detectors.py --seconds 60
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import REPO, detectors_of, pinned, publish, timed, tools  # noqa: E402 (benchmarks/common.py)
RESULTS = REPO / "benchmarks" / "results" / "audio_detectors.txt"
MUSIC = (Path("/usr/share/games/frozen-bubble/snd/frozen-mainzik-1p.ogg"),
         Path("/usr/share/games/frozen-bubble/snd/introzik.ogg"))
FFMPEG_CHAIN = "silencedetect,astats,ebur128"

DETECTORS_ONLY = r"""
import gc, json, sys, time
import numpy as np
import soundfile as sf
from detectors import base as registry
from harness.analyze import AUDIO_STEPS, DetectorBank
from harness.media import AudioChunk
path, names = sys.argv[1], sys.argv[2].split(",")
data, rate = sf.read(path, dtype="float32", always_2d=True)
step = AUDIO_STEPS * round(0.1 * rate)


def chunks():
    # fresh chunk objects every time: what detectors share through a chunk's cache is only
    # shared between detectors fed together
    return [AudioChunk(i / rate, data[i:i + step], rate) for i in range(0, data.shape[0], step)]


per = {}
events = {}
failed = {}
for name in names:
    try:
        det = registry.create(name)
        # import and set-up (a classifier's weights, loaded with its first segment) outside
        # the timing
        det.feed(AudioChunk(0.0, data[:2 * rate], rate))
        det.finish()
        det = registry.create(name)
    except Exception as exc:  # a detector in the making (e.g. weights being retrained)
        failed[name] = f"{type(exc).__name__}: {exc}"[:200]
        continue
    fed = chunks()
    gc.collect()   # (a full collection, ~0.1 s with torch loaded, lands in no timing)
    start = time.process_time()
    found = []
    try:
        for chunk in fed:
            found += det.feed(chunk)
        found += det.finish()
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"[:200]
        continue
    per[name] = time.process_time() - start
    events[name] = len(found)
# all of them fed together, chunk by chunk, by harness analyze's own bank
bank = DetectorBank([name for name in names if name not in failed], {})
fed = chunks()
gc.collect()
start = time.process_time()
for chunk in fed:
    bank.feed(chunk)
bank.finish()
together = time.process_time() - start
print(json.dumps({"seconds": data.shape[0] / rate, "per": per, "events": events,
                  "failed": failed, "together": together, "chunk_s": step / rate}))
"""


def make_file(ffmpeg: str, path: Path, seconds: float) -> str:
    source = next((p for p in MUSIC if p.is_file()), None)
    if source is not None:
        inputs = ["-stream_loop", "-1", "-i", str(source)]
        what = f"{source.name} looped, 48 kHz stereo FLAC"
    else:
        inputs = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
        what = "ffmpeg sine 440 Hz (no corpus music installed)"
    subprocess.run([ffmpeg, "-v", "error", "-y", *inputs, "-t", f"{seconds}", "-ar", "48000",
                    "-ac", "2", "-c:a", "flac", str(path)], check=True)
    return what


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the test file")
    parser.add_argument("--core", type=int, default=0, help="the CPU core everything runs on")
    parser.add_argument("--file", help="use this audio file instead of making one")
    parser.add_argument("--output", default=str(RESULTS), help="where the results are written")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of ffmpeg's and the "
                        "detectors' passes; each figure is the best round's")
    args = parser.parse_args()
    found = tools()
    if found is None:
        return 2
    ffmpeg, harness = found
    names = detectors_of("audio")
    prefix, env = pinned(args.core)
    with tempfile.TemporaryDirectory(prefix="bench-audio-") as tmp:
        if args.file:
            path, what = Path(args.file), args.file
        else:
            path = Path(tmp) / "music.flac"
            what = make_file(ffmpeg, path, args.seconds)
        # rounds, each ffmpeg's passes then the detectors' (side by side in time, so a busy
        # spell of a shared machine slows both); the best of the rounds is reported
        decodes, chains, rounds = [], [], []
        ff = prefix + [ffmpeg, "-v", "error", "-nostdin", "-threads", "1", "-i", str(path)]
        for _ in range(args.rounds):
            decodes.append(timed(ff + ["-f", "null", "-"], env))
            chains.append(timed(ff + ["-af", FFMPEG_CHAIN, "-f", "null", "-"], env))
            proc = subprocess.run(prefix + [sys.executable, "-c", DETECTORS_ONLY, str(path),
                                            ",".join(names)], env=env, check=True,
                                  capture_output=True, text=True)
            rounds.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        inner = dict(rounds[0], together=min(r["together"] for r in rounds),
                     per={n: min(r["per"][n] for r in rounds) for n in rounds[0]["per"]})
        decode_s, chain_s = min(decodes), min(chains)
        names = [n for n in names if n not in inner["failed"]]
        out_json = Path(tmp) / "analyze.json"
        analyze_s = timed(prefix + [harness, "analyze", str(path), "--detectors", ",".join(names),
                                    "--json", str(out_json)], env)
    seconds = inner["seconds"]
    detectors_s = inner["together"]
    together_rounds = ", ".join(f"{r['together']:.2f}" for r in rounds)
    chain_rounds = ", ".join(f"{c:.2f}" for c in chains)
    lines = [
        f"audio detectors benchmark: {seconds:.0f} s of {what}",
        f"one core (taskset -c {args.core}), one thread; machine: {os.cpu_count()} cores, "
        f"python {sys.version.split()[0]}; best of {args.rounds} rounds (detectors together: "
        f"{together_rounds} s; ffmpeg chain: {chain_rounds} s)",
        f"detectors: {', '.join(names)}; chunks of {inner['chunk_s']:g} s, as harness analyze "
        f"feeds them",
        "",
        f"{'':58s} {'seconds':>8s} {'x real time':>11s}",
        f"{'ffmpeg -threads 1 decode (-f null)':58s} {decode_s:8.2f} {seconds / decode_s:11.1f}",
        f"{'ffmpeg -threads 1 -af ' + FFMPEG_CHAIN:58s} {chain_s:8.2f} {seconds / chain_s:11.1f}",
    ]
    for name in names:
        s = inner["per"][name]
        lines.append(f"{'  detector ' + name + ' alone (CPU time)':58s} {s:8.2f} "
                     f"{seconds / max(s, 1e-9):11.1f}")
    lines += [
        f"{'  sum of the detectors alone (CPU time)':58s} {sum(inner['per'].values()):8.2f} "
        f"{seconds / sum(inner['per'].values()):11.1f}",
        f"{'all audio detectors together, decoded chunks in (CPU time)':58s} "
        f"{detectors_s:8.2f} {seconds / detectors_s:11.1f}",
        f"{'harness analyze --detectors <all audio> (decode incl.)':58s} {analyze_s:8.2f} "
        f"{seconds / analyze_s:11.1f}",
        "",
        f"all audio detectors / ffmpeg {FFMPEG_CHAIN}: {chain_s / detectors_s:.2f}x the speed",
        f"harness analyze / ffmpeg {FFMPEG_CHAIN}:      {chain_s / analyze_s:.2f}x the speed",
        f"events on this clean file: {inner['events']}",
    ]
    for name, reason in inner["failed"].items():
        lines.append(f"NOT RUN (failed to start): {name}: {reason}")
    publish(lines, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
