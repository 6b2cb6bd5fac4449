"""Speed of the video detector suite on a 1080p60 H.264 file, on one core, against ffmpeg.

In one run, on the same file and the same core (``taskset -c CORE``, one thread everywhere):

1. ``ffmpeg -threads 1 -i FILE -f null -``: decoding alone;
2. ``ffmpeg -threads 1 -i FILE -vf blackdetect,freezedetect,blockdetect,blurdetect -f null -``:
   ffmpeg's own detectors;
3. the harness decoding alone (OpenCV, to BGR as the detectors get it);
4. ``harness analyze FILE --detectors <every video detector>``: one decode, one pass, every
   frame to every video detector (wall time of the whole command, start-up included);
5. a live step: ffmpeg sends the file in real time over ``tcp://127.0.0.1`` and
   ``harness analyze tcp://... --duration S`` captures it through the opencv backend (its
   capture thread decodes into a bounded ring) with every video detector; frames the
   detectors could not keep up with are pushed out of the ring and counted as dropped.

Prints frames/s, real-time factors and the ratios, and writes them to
``benchmarks/results/video_detectors.txt``.  The test file is made with ffmpeg from real
footage (OpenCV's ``vtest.avi``, else ``Megamind.avi``, scaled to cover 1920x1080), else
``testsrc2``.

    .venv/bin/python benchmarks/video_detectors.py                  # 20 s file, 20 s live
    .venv/bin/python benchmarks/video_detectors.py --seconds 10 --live-seconds 0
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, detectors_of, pinned, publish, timed, tools  # noqa: E402 (benchmarks/common.py)
RESULTS = REPO / "benchmarks" / "results" / "video_detectors.txt"
FOOTAGE = (Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi"),
           Path("/usr/share/doc/opencv-doc/examples/data/Megamind.avi"))
FFMPEG_CHAIN = "blackdetect,freezedetect,blockdetect,blurdetect"
FPS = 60


def make_clip(ffmpeg: str, path: Path, seconds: float) -> str:
    """A 1080p60 H.264 clip of real footage where installed (what it is made of is returned)."""
    source = next((p for p in FOOTAGE if p.is_file()), None)
    if source is not None:
        inputs = ["-stream_loop", "-1", "-i", str(source)]
        chain = (f"scale=1920:1080:force_original_aspect_ratio=increase:flags=bicubic,"
                 f"crop=1920:1080,fps={FPS}")
        what = f"{source.name} scaled to cover 1920x1080, {FPS} fps"
    else:
        inputs = ["-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate={FPS}"]
        chain = "null"
        what = "ffmpeg testsrc2 1920x1080 60 fps (no real footage installed)"
    subprocess.run([ffmpeg, "-v", "error", "-y", *inputs, "-t", f"{seconds}", "-vf", chain, "-an",
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-g", str(2 * FPS),
                    "-pix_fmt", "yuv420p", str(path)], check=True)
    return what


DECODE_ONLY = """
import sys, cv2
cv2.setNumThreads(1)
from harness.capture.file import FileVideoSource
n = sum(1 for _ in FileVideoSource.open(sys.argv[1]))
print(n)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def live_step(ffmpeg: str, harness: str, clip: Path, names: list[str], seconds: float,
              prefix: list[str], env: dict[str, str], out: Path) -> dict:
    """The clip streamed in real time to tcp://127.0.0.1 and analysed live on one core."""
    port = free_port()
    sender = subprocess.Popen(
        [ffmpeg, "-v", "error", "-nostdin", "-re", "-stream_loop", "-1", "-i", str(clip),
         "-c", "copy", "-f", "mpegts", f"tcp://127.0.0.1:{port}?listen=1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        subprocess.run(prefix + [harness, "analyze", f"tcp://127.0.0.1:{port}", "--detectors",
                                 ",".join(names), "--duration", f"{seconds:g}", "--json", str(out)],
                       check=True, env=env, stdout=subprocess.DEVNULL)
    finally:
        sender.terminate()
        sender.wait(timeout=10)
    result = json.loads(out.read_text())
    capture = result["measurements"].get("capture", {})
    return {"frames": result["video"]["frames"], "seconds": result["duration_s"],
            "dropped": capture.get("dropped", 0), "duplicated": capture.get("duplicated", 0),
            "events": len(result["events"])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the test file")
    parser.add_argument("--live-seconds", type=float, default=20.0,
                        help="length of the live step (0: skip it)")
    parser.add_argument("--core", type=int, default=0, help="the CPU core everything runs on")
    parser.add_argument("--clip", help="use this 1080p60 file instead of making one")
    parser.add_argument("--output", default=str(RESULTS), help="where the results are written")
    args = parser.parse_args()

    found = tools()
    if found is None:
        return 2
    ffmpeg, harness = found
    names = detectors_of("video")
    prefix, env = pinned(args.core)
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        tmpdir = Path(tmp)
        if args.clip:
            clip, what = Path(args.clip), args.clip
        else:
            clip = tmpdir / "clip1080p60.mp4"
            what = make_clip(ffmpeg, clip, args.seconds)
        probe = json.loads(subprocess.run(
            ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
             "stream=width,height,r_frame_rate,nb_read_frames", "-of", "json", str(clip)],
            capture_output=True, text=True, check=True).stdout)["streams"][0]
        frames = int(probe["nb_read_frames"])
        num, den = (int(v) for v in probe["r_frame_rate"].split("/"))
        fps = num / den
        seconds = frames / fps

        decode_s = timed(prefix + [ffmpeg, "-v", "error", "-nostdin", "-threads", "1", "-i",
                                   str(clip), "-f", "null", "-"], env)
        chain_s = timed(prefix + [ffmpeg, "-v", "error", "-nostdin", "-threads", "1", "-i",
                                  str(clip), "-vf", FFMPEG_CHAIN, "-f", "null", "-"], env)
        cv_decode_s = timed(prefix + [sys.executable, "-c", DECODE_ONLY, str(clip)], env)
        result_path = tmpdir / "analyze.json"
        analyze_s = timed(prefix + [harness, "analyze", str(clip), "--detectors", ",".join(names),
                                    "--json", str(result_path)], env)
        analysis = json.loads(result_path.read_text())
        events: dict[str, int] = {}
        for event in analysis["events"]:
            events[event["kind"]] = events.get(event["kind"], 0) + 1
        live = None
        if args.live_seconds > 0:
            live = live_step(ffmpeg, harness, clip, names, args.live_seconds, prefix, env,
                             tmpdir / "live.json")

    def fps_of(s: float) -> float:
        return frames / s

    lines = [
        f"video detectors benchmark: {probe['width']}x{probe['height']} @ {fps:g} fps H.264, "
        f"{frames} frames ({seconds:.1f} s): {what}",
        f"one core (taskset -c {args.core}), one thread; machine: {os.cpu_count()} cores, "
        f"python {sys.version.split()[0]}",
        f"detectors: {', '.join(names)}",
        "",
        f"{'':52s} {'seconds':>8s} {'frames/s':>9s} {'x real time':>11s}",
        f"{'ffmpeg -threads 1 decode (-f null)':52s} {decode_s:8.2f} {fps_of(decode_s):9.1f} "
        f"{seconds / decode_s:11.2f}",
        f"{'ffmpeg -threads 1 -vf ' + FFMPEG_CHAIN:52s} {chain_s:8.2f} {fps_of(chain_s):9.1f} "
        f"{seconds / chain_s:11.2f}",
        f"{'harness decode alone (OpenCV, BGR)':52s} {cv_decode_s:8.2f} {fps_of(cv_decode_s):9.1f} "
        f"{seconds / cv_decode_s:11.2f}",
        f"{'harness analyze --detectors <all video> (decode incl.)':52s} {analyze_s:8.2f} "
        f"{fps_of(analyze_s):9.1f} {seconds / analyze_s:11.2f}",
        "",
        f"harness analyze / ffmpeg detector chain: {chain_s / analyze_s:.1f}x the speed",
        f"harness analyze / ffmpeg decode alone:   {decode_s / analyze_s:.2f}x the speed",
        f"detectors alone (analyze - harness decode): "
        f"{1000 * max(0.0, analyze_s - cv_decode_s) / frames:.2f} ms/frame",
        f"events on this clean clip: {events or 'none'}",
    ]
    if live is not None:
        lines += ["", f"live step: {live['frames']} frames in {live['seconds']:.1f} s over "
                      f"tcp://127.0.0.1 (capture thread decoding, every video detector, one "
                      f"core): skipped (dropped from the capture ring) {live['dropped']}, "
                      f"duplicated {live['duplicated']}, events {live['events']}"]
    publish(lines, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
