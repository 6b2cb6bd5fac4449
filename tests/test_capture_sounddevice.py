"""The sounddevice capture backend recording from a real-time software audio device.

Each test starts its own JACK server with the dummy backend (real-time paced, no
sound hardware) and re-initialises PortAudio to see it; a second process plays a
known signal through PortAudio into JACK, and ``jack_connect`` routes it to the
recorder's inputs, so the recorder runs the exact code that captures a USB audio
interface or an HDMI card's audio.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from harness.capture.ring import FormatMismatch
from harness.capture.sounddevice_source import SoundDeviceAudioSource, SoundDeviceParams
from harness.clock import RealClock
from harness.errors import CaptureLost

RATE = 48000
PERIOD = 1024  # JACK's block: one cycle is PERIOD / RATE = 21.3 ms
CHUNK_S = 0.02
SAW = 4801  # the player's signal: a sawtooth of this many samples, every value distinct and non-zero
REPO = Path(__file__).resolve().parent.parent

PLAYER = f"""
import sys
import numpy as np
import sounddevice as sd
table = ((np.arange({SAW}) + 1) / ({SAW} + 1) * 0.5).astype(np.float32)
position = 0
def play(out, frames, time_info, status):
    global position
    block = table[(position + np.arange(frames)) % {SAW}]
    out[:, 0] = block
    out[:, 1] = -block
    position += frames
with sd.OutputStream(device="system", samplerate={RATE}, channels=2, dtype="float32", callback=play):
    print("playing", flush=True)
    sys.stdin.read()
"""

_servers = itertools.count()


def saw() -> np.ndarray:
    return ((np.arange(SAW) + 1) / (SAW + 1) * 0.5).astype(np.float32)


@dataclass
class Jack:
    name: str
    server: subprocess.Popen

    def ports(self) -> set[str]:
        out = subprocess.run(["jack_lsp", "-s", self.name], capture_output=True, text=True, timeout=10)
        return set(out.stdout.split())

    def connect(self, outputs: list[str], inputs: list[str]) -> None:
        for out, into in zip(outputs, inputs):
            subprocess.run(["jack_connect", "-s", self.name, out, into], check=True, timeout=10,
                           capture_output=True)


def start_jack(name: str, log: Path) -> subprocess.Popen:
    """A JACK server with the dummy backend; returns once it accepts clients."""
    if shutil.which("jackd") is None:
        pytest.fail("jackd is required (scripts/setup.sh installs the Debian package jackd2)")
    with open(log, "wb") as out:
        server = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", str(RATE),
                                   "-p", str(PERIOD)], stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if subprocess.run(["jack_lsp", "-s", name], capture_output=True, timeout=10).returncode == 0:
            return server
        if server.poll() is not None:
            break
        time.sleep(0.05)
    stop(server)
    pytest.fail(f"jackd did not start: {log.read_text(errors='replace')[-500:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait(5)


@pytest.fixture
def jack(tmp_path, monkeypatch):
    """A private JACK server, with this process's PortAudio re-initialised to see it."""
    import sounddevice as sd

    name = f"avh-test-{os.getpid()}-{next(_servers)}"
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
    monkeypatch.setenv("JACK_NO_AUDIO_RESERVATION", "1")
    sd._terminate()
    try:
        server = start_jack(name, tmp_path / "jackd.log")
    finally:
        sd._initialize()
    yield Jack(name, server)
    sd._terminate()  # leave the server while PortAudio's client on it is still answered
    stop(server)
    monkeypatch.delenv("JACK_DEFAULT_SERVER")
    sd._initialize()


@pytest.fixture
def player(jack):
    """Start the known-signal player; returns its two output ports. Stopped at teardown."""
    started: list[subprocess.Popen] = []

    def start() -> list[str]:
        before = jack.ports()
        proc = subprocess.Popen([sys.executable, "-c", PLAYER], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        started.append(proc)
        assert proc.stdout.readline().strip() == "playing"
        return sorted(p for p in jack.ports() - before if ":out_" in p)

    yield start
    for proc in started:
        proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def open_source(jack: Jack, clock: RealClock, **params) -> tuple[SoundDeviceAudioSource, list[str]]:
    """The recorder on JACK's system device, and the JACK input ports it registered."""
    before = jack.ports()
    source = SoundDeviceAudioSource(params=SoundDeviceParams(device="system", **params),
                                    sample_rate=RATE, channels=2, chunk_s=CHUNK_S, clock=clock)
    return source, sorted(p for p in jack.ports() - before if ":in_" in p)


def read_for(source: SoundDeviceAudioSource, seconds: float) -> list:
    chunks = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        chunk = source.read(timeout_s=0.5)
        if chunk is not None:
            chunks.append(chunk)
    return chunks


def test_records_exact_samples_stamped_on_the_harness_clock(jack, player):
    clock = RealClock()
    source, inputs = open_source(jack, clock)
    try:
        assert len(inputs) == 2
        outputs = player()
        chunks = read_for(source, 0.3)
        connect_from = clock.now()
        jack.connect(outputs, inputs)
        connect_to = clock.now()
        chunks += read_for(source, 0.7)
        lag = clock.now() - chunks[-1].end
    finally:
        source.close()
    stats = source.stats
    assert stats.delivered == len(chunks) and stats.duplicated == 0
    assert all(c.samples.shape == (960, 2) and c.samples.dtype == np.float32 for c in chunks)
    assert -0.01 <= lag < 0.3  # stamped on the harness clock, close behind real time
    # chunks follow each other at the true rate; where a starved server lost cycles (a loaded
    # machine), the gap shows in the times and is counted as dropped: nothing is lost silently
    ends = [(a.end, b.t) for a, b in zip(chunks, chunks[1:])]
    lost = sum(max(1, round((t - end) / CHUNK_S)) for end, t in ends if abs(t - end) > 0.001)
    assert stats.dropped >= lost and (lost > 0 or stats.dropped == 0)
    assert sum(abs(t - end) > 0.001 for end, t in ends) <= stats.dropped
    samples = np.concatenate([c.samples for c in chunks])
    firsts = np.cumsum([0] + [len(c.samples) for c in chunks])  # each chunk's first sample
    breaks = {int(firsts[i + 1]) for i, (end, t) in enumerate(ends) if abs(t - end) > 0.001}
    table = saw()  # increasing: a sample's value gives its place in the signal
    for channel, sign in ((0, 1), (1, -1)):
        onset = int(np.flatnonzero(samples[:, channel])[0])
        played = samples[onset:, channel] * sign
        places = np.minimum(np.searchsorted(table, played), SAW - 1)
        assert np.array_equal(table[places], played), f"channel {channel}: samples never played"
        # out of sequence only where samples were lost: in the chunk before a break (PortAudio
        # flags the overflow on the block after the one it cut into)
        jumps = [onset + 1 + int(i) for i in np.flatnonzero(np.diff(places) % SAW != 1)]
        unexplained = [j for j in jumps if not any(0 <= b - j <= 960 for b in breaks)]
        assert not unexplained, f"channel {channel}: samples out of sequence at {unexplained}"
        chunk = int(np.searchsorted(firsts, onset, side="right")) - 1
        onset_t = chunks[chunk].t + (onset - firsts[chunk]) / RATE
        # the signal starts within a JACK cycle of the connection, on the same clock
        assert connect_from - 1.5 * PERIOD / RATE <= onset_t <= connect_to + 1.5 * PERIOD / RATE


def test_a_slow_reader_loses_chunks_and_counts_every_one(jack):
    clock = RealClock()
    source, _ = open_source(jack, clock, queue_s=0.2)
    try:
        opened = time.monotonic()
        time.sleep(1.0)
        kept = []
        while (chunk := source.read(timeout_s=0)) is not None:
            kept.append(chunk)
        produced = (time.monotonic() - opened) / CHUNK_S
    finally:
        source.close()
    assert len(kept) == 10  # the queue holds 0.2 s
    stats = source.stats
    assert stats.delivered == 10
    # every chunk the device produced is delivered or counted (a starved JACK server may also flag
    # overflows where it only ran late: those count too, so allow some excess)
    assert produced - 4 <= stats.dropped + stats.delivered <= 1.2 * produced + 4
    assert clock.now() - kept[-1].end < 0.3  # the newest chunks were kept


def test_wrong_requested_format_names_requested_and_offered(jack):
    with pytest.raises(FormatMismatch, match=r"requested 44100 Hz, 2 channels.*48000 Hz"):
        SoundDeviceAudioSource(params=SoundDeviceParams(device="system"), sample_rate=44100,
                               clock=RealClock())
    with pytest.raises(FormatMismatch, match=r"requested 48000 Hz, 6 channels.*up to 2 input"):
        SoundDeviceAudioSource(params=SoundDeviceParams(device="system"), channels=6, clock=RealClock())
    with pytest.raises(CaptureLost, match=r"No input device matching 'Cam Link'.*"
                                          r"system \(JACK Audio Connection Kit, 2 in\)"):
        SoundDeviceAudioSource(params=SoundDeviceParams(device="Cam Link"), clock=RealClock())


def test_a_stalled_audio_server_is_a_lost_capture(jack):
    source, _ = open_source(jack, RealClock(), stall_timeout_s=0.5)
    try:
        assert len(read_for(source, 0.2)) >= 5
        jack.server.send_signal(signal.SIGSTOP)
        stalled_at = time.monotonic()
        try:
            with pytest.raises(CaptureLost, match=r"stalled, no audio for 0\.\d s"):
                while True:
                    source.read(timeout_s=0.1)
            assert time.monotonic() - stalled_at < 1.5
        finally:
            jack.server.send_signal(signal.SIGCONT)
    finally:
        source.close()


LOSER = """
import sys, time
from harness.capture.sounddevice_source import SoundDeviceAudioSource, SoundDeviceParams
from harness.clock import RealClock
from harness.errors import CaptureLost
source = SoundDeviceAudioSource(params=SoundDeviceParams(device="system", stall_timeout_s=5),
                                clock=RealClock())
received = 0
while received < 5:
    received += source.read(timeout_s=1.0) is not None
print("recording", flush=True)
sys.stdin.readline()  # the test has killed the server
lost_from = time.monotonic()
try:
    while True:
        source.read(timeout_s=0.5)
except CaptureLost as exc:
    print(f"lost after {time.monotonic() - lost_from:.2f} s: {exc}", flush=True)
source.close()
print("closed", flush=True)
"""


def test_audio_server_dying_mid_recording_is_a_lost_capture(tmp_path):
    # its own process and server: PortAudio's JACK client cannot be reused once its server died
    name = f"avh-test-{os.getpid()}-lost"
    server = start_jack(name, tmp_path / "jackd.log")
    env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_AUDIO_RESERVATION": "1",
           "PYTHONPATH": str(REPO)}
    recorder = subprocess.Popen([sys.executable, "-W", "ignore::ResourceWarning", "-c", LOSER],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert recorder.stdout.readline().strip() == "recording"
        server.terminate()  # the server goes away (SIGKILL would also leave JACK's registry stale)
        server.wait(5)
        out, _ = recorder.communicate("go\n", timeout=20)
    finally:
        stop(server)
        if recorder.poll() is None:
            recorder.kill()
            recorder.wait(5)
        for stale in Path("/dev/shm").glob(f"jack_sem.*_{name}_*"):  # the wedged client's semaphore
            stale.unlink(missing_ok=True)
    # the loss is reported (not a hang, not a crash), and closing stays bounded
    lost = out.splitlines()[0]
    assert lost.startswith("lost after") and "input stream is no longer active" in lost, out
    assert float(lost.split()[2]) < 1.0 and out.splitlines()[-1] == "closed"
    assert recorder.returncode == 0
