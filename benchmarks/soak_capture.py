"""Soak: live 1080p60 capture from a loopback stream with every video detector running.

ffmpeg loops a 1080p60 MJPEG clip (what UVC HDMI dongles send) in real time to
``tcp://127.0.0.1`` and the harness captures it through the opencv backend and
the Dut pump exactly as a test does: consecutive steps, each running every
registered video detector and keeping its evidence recording.  Printed: frames
received, dropped and duplicated, memory (RSS) at the start and end, and CPU per
frame, then one RESULT line.  The run fails (exit 1) if any frame was dropped, or
memory grew after a warm-up step by more than the capture ring's frames (bounded:
one second of video, there for a reader that falls behind) and 10 %.

    .venv/bin/python benchmarks/soak_capture.py                 # 10 minutes
    .venv/bin/python benchmarks/soak_capture.py --seconds 3600  # an hour
    .venv/bin/python benchmarks/soak_capture.py --seconds 60    # a quick look
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from detectors import base as registry
from harness.capture.opencv import OpenCVVideoSource
from harness.dut import Dut
from harness.profile import Profile
from harness.rig import Rig

WARMUP_S = 10.0
STEP_S = 10.0
BUFFER_FRAMES = 60  # one second of 1080p60 for a reader that falls behind
MAX_GROWTH = 0.10


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sender(ffmpeg: str, clip: Path, port: int) -> subprocess.Popen:
    sender = subprocess.Popen(
        [ffmpeg, "-v", "error", "-nostdin", "-re", "-stream_loop", "-1", "-i", str(clip),
         "-c", "copy", "-f", "matroska", "-live", "1", f"tcp://127.0.0.1:{port}?listen=1"],
        stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    entry = f":{port:04X} 00000000:0000 0A"
    deadline = time.monotonic() + 10
    while entry not in Path("/proc/net/tcp").read_text():
        if time.monotonic() > deadline or sender.poll() is not None:
            sender.kill()
            raise SystemExit("soak: the ffmpeg sender did not start listening")
        time.sleep(0.02)
    return sender


def soak(url: str, width: int, height: int, fps: float, seconds: float,
         detectors: list[str]) -> tuple[dict[str, int], float, float, float, float, float, float, int]:
    """Capture ``url`` through a Dut in consecutive steps; returns the figures main() prints."""
    profile = Profile.model_validate({
        "name": "soak", "description": "loopback 1080p60 soak",
        "controller": {"type": "mock", "keymap": {"OK": "OK"}},
        "video": {"type": "opencv", "params": {"device": url}, "width": width, "height": height,
                  "fps": fps, "buffer_frames": BUFFER_FRAMES}})
    dut = Dut(Rig(profile))
    video = dut.video
    assert isinstance(video, OpenCVVideoSource)
    try:
        print(f"soak: {width}x{height} @ {fps:g} fps MJPEG from {url} (delivers {video.delivered}); "
              f"detectors: {', '.join(detectors)}; {seconds:g} s after a {WARMUP_S:g} s warm-up "
              f"step", flush=True)
        with dut.step("warm-up", detectors=detectors):  # memory is measured in steady state
            dut.wait(WARMUP_S)
        stats0 = video.stats.as_dict()
        rss0, cpu0, wall0, load0 = rss_mib(), cpu_s(), time.monotonic(), os.getloadavg()[0]
        rss_max = rss0
        next_report = wall0 + 60
        while time.monotonic() - wall0 < seconds:
            with dut.step("soak", detectors=detectors):
                dut.wait(min(STEP_S, seconds - (time.monotonic() - wall0)))
            rss_max = max(rss_max, rss_mib())
            if time.monotonic() >= next_report:
                next_report += 60
                so_far = video.stats
                print(f"  {time.monotonic() - wall0:6.0f} s: {so_far.delivered - stats0['delivered']} "
                      f"frames, {so_far.dropped - stats0['dropped']} dropped, RSS {rss_mib():.1f} MiB",
                      flush=True)
        wall = time.monotonic() - wall0
        cpu = cpu_s() - cpu0
        rss1 = rss_mib()
        stats = {k: v - stats0[k] for k, v in video.stats.as_dict().items()}
    finally:
        dut.close()
    return stats, wall, cpu, rss0, rss1, rss_max, load0, video.buffer_peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0,
                        help="soak length after a 10 s warm-up step (default 600; 3600 for an hour)")
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--fps", type=float, default=60.0)
    args = parser.parse_args(argv)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("soak: ffmpeg is required (scripts/setup.sh)")
    width, height = (int(v) for v in args.size.split("x"))
    detectors = [n for n in registry.available() if registry.detector_class(n).media == "video"]
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "source.mkv"
        subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"testsrc2=size={width}x{height}:rate={args.fps:g}:duration=4",
                        "-c:v", "mjpeg", "-q:v", "4", "-pix_fmt", "yuvj420p", str(clip)], check=True)
        port = free_port()
        sender = start_sender(ffmpeg, clip, port)
        try:
            result = soak(f"tcp://127.0.0.1:{port}", width, height, args.fps, args.seconds, detectors)
        finally:
            sender.send_signal(signal.SIGTERM)
            try:
                sender.wait(5)
            except subprocess.TimeoutExpired:
                sender.kill()
                sender.wait()
    stats, wall, cpu, rss0, rss1, rss_max, load0, peak = result
    frames = stats["delivered"]
    expected = wall * args.fps
    growth = (rss1 - rss0) / rss0
    print(f"frames received {frames} in {wall:.1f} s ({frames / wall:.2f} fps; {expected:.0f} sent "
          f"in that time), dropped {stats['dropped']}, duplicated {stats['duplicated']}")
    frame_mib = width * height * 3 / 2**20
    print(f"memory (RSS) {rss0:.1f} MiB at start, {rss1:.1f} MiB at end ({growth:+.1%}), "
          f"max {rss_max:.1f} MiB; the capture ring held at most {peak} of {BUFFER_FRAMES} frames "
          f"({peak * frame_mib:.0f} of {BUFFER_FRAMES * frame_mib:.0f} MiB)")
    print(f"CPU {1000 * cpu / frames:.2f} ms per frame ({cpu / wall:.0%} of one core), "
          f"all harness threads; machine load average {load0:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at end ({os.cpu_count()} cores)")
    print(f"RESULT soak_capture frames={frames} dropped={stats['dropped']} "
          f"drop_ratio={stats['dropped'] / max(1, frames + stats['dropped']):.6f} "
          f"duplicated={stats['duplicated']} rss_start_mib={rss0:.1f} rss_end_mib={rss1:.1f} "
          f"rss_growth={growth:+.3f} ring_peak={peak} cpu_ms_per_frame={1000 * cpu / frames:.2f}")
    # memory is flat when it grew by no more than the ring's frames (bounded, there to absorb a
    # reader that falls behind) and 10 %
    flat = rss1 <= rss0 * (1 + MAX_GROWTH) + peak * frame_mib
    print(f"verdict: {'no' if stats['dropped'] == 0 else stats['dropped']} frames dropped, memory "
          f"{'flat' if flat else 'GROWING'}")
    return 0 if stats["dropped"] == 0 and flat else 1


if __name__ == "__main__":
    sys.exit(main())
