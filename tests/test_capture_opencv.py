"""The opencv capture backend over real transports: live ffmpeg streams on loopback, and files.

ffmpeg sends a moving test pattern in real time (``-re``) to ``udp://`` or ``tcp://``
on 127.0.0.1 and the backend reads it through the same code a capture card or an
HDMI encoder uses: capture thread, ring buffer, timestamps on the harness clock.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from harness.capture import EndOfStream
from harness.capture.opencv import (FrameTimeline, OpenCVParams, OpenCVVideoSource, Stamp,
                                    VideoFormat, check_format, is_live_source, source_kind)
from harness.capture.ring import ClockMapper, FormatMismatch, Ring
from harness.clock import RealClock
from harness.dut import Dut
from harness.errors import BadInput, CaptureLost
from harness.profile import Profile, VideoSpec
from harness.rig import Rig
from harness.steps import no
from tests.conftest import make_clip

FPS = 30


def wait_listening(port: int, timeout_s: float = 5.0) -> None:
    """Wait until a TCP socket listens on ``port`` (read from /proc: no connection is used up)."""
    entry = f":{port:04X} 00000000:0000 0A"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as table:
            if entry in table.read():
                return
        time.sleep(0.02)
    raise AssertionError(f"nothing listens on port {port} after {timeout_s} s")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def sender(ffmpeg):
    """Start ``ffmpeg -re`` streaming a 320x240@30 test pattern over udp, rtp or tcp (the sender
    listens); every sender is killed at teardown."""
    started: list[subprocess.Popen] = []

    def start(transport: str = "udp", seconds: float | None = None, vf: str | None = None) -> str:
        pattern = f"testsrc2=size=320x240:rate={FPS}" + (f":duration={seconds}" if seconds else "")
        muxer = "mpegts"
        if transport == "udp":
            port = free_port(socket.SOCK_DGRAM)
            target, url = f"udp://127.0.0.1:{port}?pkt_size=1316", f"udp://127.0.0.1:{port}"
        elif transport == "rtp":  # MPEG-TS over RTP, as HDMI encoders send it
            port = free_port(socket.SOCK_DGRAM)
            target = url = f"rtp://127.0.0.1:{port}"
            muxer = "rtp_mpegts"
        else:
            port = free_port()
            target, url = f"tcp://127.0.0.1:{port}?listen=1", f"tcp://127.0.0.1:{port}"
        cmd = [ffmpeg, "-v", "error", "-nostdin", "-re", "-f", "lavfi", "-i", pattern]
        if vf:
            cmd += ["-vf", vf, "-fps_mode", "passthrough"]
        cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "15",
                "-f", muxer, target]
        started.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        if transport == "tcp":  # the reader connects once the sender listens
            wait_listening(port)
        return url

    start.processes = started
    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        proc.wait(5)


def spec(device: str, width: int = 320, height: int = 240, fps: float = FPS, buffer_frames: int = 120,
         **params) -> VideoSpec:
    return VideoSpec(type="opencv", width=width, height=height, fps=fps,
                     params={"device": device, **params}, buffer_frames=buffer_frames)


def open_source(video: VideoSpec) -> tuple[OpenCVVideoSource, RealClock]:
    clock = RealClock()
    return OpenCVVideoSource(video, SimpleNamespace(clock=clock)), clock


@pytest.mark.parametrize("transport", ["udp", "rtp"])
def test_stream_is_read_live_in_real_time(sender, transport):
    source, clock = open_source(spec(sender(transport), stall_timeout_s=1.0))
    try:
        assert (source.info.width, source.info.height, source.info.fps) == (320, 240, FPS)
        assert str(source.delivered) == "320x240 @ 30 fps"
        start = time.monotonic()
        frames, lags = [], []
        while time.monotonic() - start < 2.0:
            frame = source.read(timeout_s=0.5)
            assert frame is not None
            frames.append(frame)
            lags.append(clock.now() - frame.t)
        elapsed = time.monotonic() - start
    finally:
        source.close()
    live = frames[len(frames) // 2:]  # past the frames buffered while the stream was probed
    times = np.array([f.t for f in live])
    # frames arrive at the stream's rate, in real time, stamped on the harness clock
    assert len(frames) == pytest.approx(elapsed * FPS + 25, abs=20)
    assert np.diff(times) == pytest.approx(1 / FPS, abs=0.004)
    assert 0 <= float(np.median(lags[len(lags) // 2:])) < 0.3
    assert all(b.index == a.index + 1 for a, b in zip(frames, frames[1:]))
    assert not np.array_equal(frames[-1].image, frames[-2].image)  # moving content
    assert source.stats.as_dict() == {"delivered": len(frames), "dropped": 0, "duplicated": 0}


def test_file_is_played_in_real_time_and_ends(tmp_path, ffmpeg):
    clip = make_clip(ffmpeg, tmp_path / "c.mp4", seconds=1.2, black=None, size="320x240", fps=25)
    source, clock = open_source(spec(str(clip), fps=25))
    assert not source.live
    start = time.monotonic()
    frames = []
    with pytest.raises(EndOfStream):
        while True:
            frame = source.read(timeout_s=1.0)
            if frame is not None:
                frames.append(frame)
    elapsed = time.monotonic() - start
    source.close()
    assert len(frames) == 30 and source.stats.as_dict() == {"delivered": 30, "dropped": 0, "duplicated": 0}
    assert elapsed == pytest.approx(29 / 25, abs=0.25)  # paced like a live source
    assert np.diff([f.t for f in frames]) == pytest.approx(0.04, abs=0.003)


def test_stream_that_stops_mid_step_is_an_infrastructure_error(sender):
    url = sender("tcp", seconds=2.0)
    profile = Profile(name="encoder", controller={"type": "mock", "keymap": {"OK": "OK"}},
                      video=spec(url, stall_timeout_s=1.0))
    dut = Dut(Rig(profile))
    try:
        with pytest.raises(CaptureLost, match="ended after 60 frames"):
            with dut.step("playback", expect=[no("black")]) as step:
                dut.wait(10)
    finally:
        dut.close()
    result = step.result
    assert result.status == "broken"
    # the step analysed every frame delivered while it was open, up to the stream's last
    assert result.capture["video"] == {"delivered": result.frames_analysed, "dropped": 0,
                                       "duplicated": 0}
    assert result.frames_analysed > 30 and dut.video.stats.delivered == 60
    assert sender.processes[-1].wait(5) == 0  # the sender finished: the stream ended, not stalled


def test_stalled_stream_is_lost_after_the_stall_timeout(sender):
    source, clock = open_source(spec(sender("tcp"), stall_timeout_s=1.0))
    try:
        for _ in range(15):
            assert source.read(timeout_s=1.0) is not None
        sender.processes[-1].send_signal(signal.SIGSTOP)  # connection open, nothing sent
        stalled_at = time.monotonic()
        with pytest.raises(CaptureLost, match=r"stalled, no frame for 1\.\d s"):
            while True:
                source.read(timeout_s=0.5)
        assert 0.8 < time.monotonic() - stalled_at < 2.5
    finally:
        source.close()


def test_wrong_requested_format_names_requested_and_delivered(sender):
    url = sender("udp")
    with pytest.raises(FormatMismatch, match=r"requested 640x480 @ 30 fps, but it delivers "
                                             r"320x240 @ 30 fps"):
        open_source(spec(url, width=640, height=480))
    with pytest.raises(FormatMismatch, match=r"requested 320x240 @ 60 fps, but it delivers "
                                             r"320x240 @ 30 fps"):
        open_source(spec(url, fps=60))


def test_format_check_rules():
    card = VideoFormat(1920, 1080, 59.94, "YUYV")
    check_format("card", VideoFormat(1920, 1080, 60, "YUYV"), card)  # 59.94 passes for 60
    check_format("card", VideoFormat(1920, 1080, 60), card)  # no pixel format requested
    with pytest.raises(FormatMismatch, match="requested 1920x1080 @ 60 fps MJPG, but it delivers "
                                             "1920x1080 @ 59.94 fps YUYV"):
        check_format("card", VideoFormat(1920, 1080, 60, "MJPG"), card)
    with pytest.raises(FormatMismatch, match="@ 50 fps"):
        check_format("card", VideoFormat(1920, 1080, 50, "YUYV"), card)


def test_slow_reader_loses_frames_to_the_ring_and_counts_every_one(sender):
    source, clock = open_source(spec(sender("tcp", seconds=2.0), buffer_frames=5))
    time.sleep(2.5)  # the whole stream arrives while nobody reads
    frames = []
    with pytest.raises(CaptureLost, match="ended after 60 frames"):
        while True:
            frames.append(source.read(timeout_s=1.0))
    source.close()
    assert len(frames) == 5 and [f.index for f in frames] == list(range(55, 60))
    assert source.stats.as_dict() == {"delivered": 5, "dropped": 55, "duplicated": 0}


def test_gaps_in_stream_timestamps_count_as_dropped(sender):
    # the sender loses frames 45..54 but keeps every other frame's timestamp
    url = sender("tcp", seconds=2.5, vf=r"select=not(between(n\,45\,54))")
    source, clock = open_source(spec(url))
    frames = []
    with pytest.raises(CaptureLost):
        while True:
            frames.append(source.read(timeout_s=1.0))
    source.close()
    assert source.stats.as_dict() == {"delivered": 65, "dropped": 10, "duplicated": 0}
    indices = [f.index for f in frames]
    assert indices == list(range(45)) + list(range(55, 75))
    gap = [b.t - a.t for a, b in zip(frames, frames[1:]) if b.index - a.index > 1]
    assert gap == [pytest.approx(11 / FPS, abs=0.004)]


def test_frame_timeline_counts_gaps_and_duplicates_and_survives_jumps():
    timeline = FrameTimeline(fps=50)

    def stamp(pts: float, arrival: float) -> tuple[float | None, int]:
        seen = timeline.observe(pts, arrival)
        return (None if seen.duplicate else timeline.capture_time(pts, arrival, seen)), seen.missing

    # a burst (frames buffered while probing), then live: the burst maps through the live frame
    burst = [timeline.observe(0.02 * i, 100.1) for i in range(5)]
    assert timeline.observe(0.1, 100.105) == Stamp()
    assert [timeline.capture_time(0.02 * i, 100.1, s) for i, s in enumerate(burst)] == \
        pytest.approx([100.005 + 0.02 * i for i in range(5)])
    assert stamp(0.1, 100.107) == (None, 0)  # the same timestamp again: a duplicate
    assert stamp(0.2, 100.205) == (pytest.approx(100.205), 4)  # frames 6..9 never came
    t, missing = stamp(500.0, 100.225)  # the stream clock leapt: new mapping, no drops
    assert missing == 0 and t == pytest.approx(100.225)
    assert stamp(500.02, 100.2452)[0] == pytest.approx(100.245)
    assert stamp(0.0, 100.27) == (100.27, 0)  # no timestamp: stamped at arrival


def test_clock_mapper_takes_the_least_delayed_arrival():
    mapper = ClockMapper(window=4)
    for device_t, delay in [(0.0, 0.010), (1.0, 0.003), (2.0, 0.008), (3.0, 0.004)]:
        mapper.observe(device_t, 50 + device_t + delay)
    assert mapper.to_monotonic(3.0) == pytest.approx(53.003)
    mapper.observe(4.0, 54.005)
    mapper.observe(5.0, 55.006)  # the 0.003 observation slid out of the window
    assert mapper.offset == pytest.approx(50.004)
    assert mapper.observe(1.0, 56.0) and mapper.resets == 1  # backwards: restart


def test_ring_counts_overflow_and_blocks_when_asked():
    ring: Ring[int] = Ring(2)
    assert [ring.put(i) for i in range(4)] == [0, 0, 1, 1]
    assert [ring.get(0), ring.get(0), ring.get(0)] == [2, 3, None]
    ring.close(EndOfStream("done"))
    with pytest.raises(EndOfStream):
        ring.get(1.0)
    blocking: Ring[int] = Ring(1, block=True)
    blocking.put(1)
    start = time.monotonic()
    threading.Timer(0.2, lambda: blocking.get(0)).start()
    assert blocking.put(2) == 0 and time.monotonic() - start >= 0.15
    assert blocking.get(0) == 2


def test_source_names_and_open_errors():
    assert [source_kind(d) for d in (0, "2", "/dev/video0", "srt://host:9000", "rtp://@:5004",
                                     "clip.mp4")] == ["v4l2", "v4l2", "v4l2", "stream", "stream", "file"]
    assert is_live_source("udp://127.0.0.1:5000") and not is_live_source("/no/such.mp4")
    clock = RealClock()
    with pytest.raises(BadInput, match="no such file"):
        OpenCVVideoSource(params=OpenCVParams(device="/no/such.mp4"), clock=clock)
    with pytest.raises(CaptureLost, match="FFmpeg cannot open this stream"):
        OpenCVVideoSource(params=OpenCVParams(device=f"tcp://127.0.0.1:{free_port()}",
                                              open_timeout_s=1), clock=clock)
    with pytest.raises(CaptureLost, match="V4L2 cannot open"):
        OpenCVVideoSource(params=OpenCVParams(device="/dev/video-none"), clock=clock)
    with pytest.raises(BadInput, match="real clock"):
        from harness.clock import VirtualClock
        OpenCVVideoSource(params=OpenCVParams(device="x.mp4"), clock=VirtualClock())


HARNESS = [str(Path(sys.executable).parent / "harness")]


def test_analyze_reads_a_live_stream_for_a_duration(sender):
    url = sender("udp", vf="drawbox=enable='between(t,1.5,2)':color=black:t=fill")
    proc = subprocess.run(HARNESS + ["analyze", url, "--duration", "2.5", "--detectors", "black",
                                     "--json", "-"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result) == {"source", "duration_s", "video", "audio", "detectors", "events", "measurements"}
    assert result["source"] == url and result["audio"] is None and result["detectors"] == ["black"]
    # the stream's first frames settle the mapping of its clock: a frame more or less
    assert result["duration_s"] == pytest.approx(2.5, abs=0.05)
    assert result["video"] == {"width": 320, "height": 240, "fps": 30.0,
                               "frames": pytest.approx(75, abs=3)}
    assert result["measurements"]["capture"]["dropped"] == 0
    (black,) = result["events"]  # on the harness clock of the analysis
    assert black["kind"] == "black" and black["end_s"] - black["start_s"] == pytest.approx(0.5, abs=0.05)


def test_analyze_reads_a_live_stream_until_it_ends(sender):
    url = sender("tcp", seconds=2.0)
    proc = subprocess.run(HARNESS + ["analyze", url, "--detectors", "black,freeze"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    summary = re.fullmatch(rf"{re.escape(url)}: (\d+\.\d\d) s, 0 events", proc.stdout.strip())
    assert summary and float(summary[1]) == pytest.approx(2.0, abs=0.1), proc.stdout


def test_analyze_an_unreachable_stream_is_bad_input():
    url = f"tcp://127.0.0.1:{free_port()}"
    proc = subprocess.run(HARNESS + ["analyze", url], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"harness: error: video capture {url}: FFmpeg cannot open this "
                                   f"stream within 10 s (is the sender running and the URL right?)")


@pytest.mark.slow
def test_soak_benchmark_keeps_up_at_1080p60():
    bench = Path(__file__).resolve().parent.parent / "benchmarks" / "soak_capture.py"
    proc = subprocess.run([sys.executable, str(bench), "--seconds", "60"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # no drops, flat memory
    assert " dropped=0 " in proc.stdout.splitlines()[-1]


def test_analyze_a_file_for_a_duration(tmp_path, ffmpeg):
    clip = make_clip(ffmpeg, tmp_path / "c.mp4", seconds=3.0, black=(2.0, 2.5))
    proc = subprocess.run(HARNESS + ["analyze", str(clip), "--duration", "1.5", "--json", "-"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["duration_s"] == 1.5 and result["video"]["frames"] == 38  # 0 .. 1.48 s at 25 fps
    assert result["events"] == []  # the black stretch at 2 s lies beyond the duration
