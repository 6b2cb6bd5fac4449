"""Live audio through sounddevice (PortAudio): audio interfaces, HDMI capture cards' audio, JACK.

``params.device`` picks the input by index or by a substring of its name (as
``python -m sounddevice`` lists them, e.g. ``"Cam Link 4K"`` or ``"system, JACK"``);
the sample rate, channel count and chunk size come from the profile and are
checked against the device before the stream opens.

PortAudio calls back with each block of ``chunk_s`` samples; the callback only
stamps it and pushes it into a bounded :class:`~harness.capture.ring.Ring`
(``params.queue_s`` of audio).  A chunk's ``t`` is the ADC time of its first
sample (``time.inputBufferAdcTime``) mapped onto the harness clock through the
stream clock's least-delayed callback; where the host API gives no ADC time, the
callback's arrival time minus the input latency and the block's length.  Chunks
that follow each other stay contiguous: their times follow the sample count and
slew slowly toward the measured ADC times, so host jitter of a few milliseconds
neither tears the audio apart nor lets the clocks drift.

Nothing is lost silently (``stats`` count chunks): a chunk pushed out of a full
queue, the chunks missing before a block whose ADC time comes half a chunk or
more after the previous block's end (at least one where the driver flags an
input overflow), and a chunk of fill-in silence the driver flags as input
underflow (not delivered) all count as ``dropped``.  A stream that stops, or
delivers nothing for ``stall_timeout_s``, raises :class:`~harness.errors.CaptureLost`.
"""

from __future__ import annotations

import atexit
import math
import threading
import time
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from harness.capture.base import AudioSource, EndOfStream
from harness.capture.ring import ClockMapper, FormatMismatch, Ring
from harness.clock import RealClock
from harness.errors import BadInput, CaptureLost
from harness.media import AudioChunk, AudioInfo, CaptureStats

if TYPE_CHECKING:
    from harness.profile import AudioSpec
    from harness.rig import Rig

#: callbacks of history the stream-clock mapping keeps
_MAPPING_WINDOW = 500
#: how fast chunk times follow the measured ADC time: per chunk, this fraction of the difference,
#: at most this fraction of the chunk's duration (the timeline stretches by 1 % at most)
_SLEW = 0.05
_MAX_SLEW = 0.01
#: a measured time this far before the sample count's is a new timeline (a restarted stream clock)
_RESYNC_S = 0.5
#: how long closing a stream may take before it is abandoned (PortAudio can hang on a dead server)
_CLOSE_TIMEOUT_S = 2.0


class SoundDeviceParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: int | str | None = Field(None, description="input device index, or a substring of its "
                                     "name (`python -m sounddevice` lists them); default: the "
                                     "default input")
    latency: Literal["low", "high"] | float = Field("high", description="PortAudio's suggested "
                                                    "input latency: low, high, or seconds")
    queue_s: float = Field(2.0, gt=0, le=60, description="audio held for a slow reader; beyond "
                           "it the oldest chunks are dropped, counted")
    stall_timeout_s: float = Field(2.0, gt=0, le=120,
                                   description="no audio for this long is a lost capture")


def _sounddevice() -> ModuleType:
    """Import sounddevice (PortAudio scans its devices at import) with a clear error if missing."""
    try:
        import sounddevice
    except OSError as exc:  # the PortAudio library itself is missing
        raise BadInput(f"audio capture needs PortAudio ({exc}); run scripts/setup.sh or install "
                       f"the Debian package libportaudio2") from None
    return sounddevice


def input_devices() -> list[str]:
    """``"index: name (host API)"`` for every device with inputs."""
    sd = _sounddevice()
    apis = sd.query_hostapis()
    return [f"{i}: {d['name']} ({apis[d['hostapi']]['name']}, {d['max_input_channels']} in)"
            for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]


class SoundDeviceAudioSource(AudioSource):
    """An input stream of an audio device on the harness clock (see the module doc)."""

    Params = SoundDeviceParams

    def __init__(self, spec: "AudioSpec | None" = None, rig: "Rig | None" = None, *,
                 params: SoundDeviceParams | None = None, sample_rate: int = 48000,
                 channels: int = 2, chunk_s: float = 0.02, clock: RealClock | None = None) -> None:
        if spec is not None:
            params = self.Params.model_validate(spec.params)
            sample_rate, channels, chunk_s = spec.sample_rate, spec.channels, spec.chunk_s
        params = params or SoundDeviceParams.model_validate({})
        session_clock = rig.clock if rig is not None else clock
        if not isinstance(session_clock, RealClock):
            raise BadInput("the sounddevice capture backend runs on the real clock (it captures live)")
        sd = _sounddevice()
        self._sd = sd
        self.params = params
        self.clock = session_clock
        self.info = AudioInfo(sample_rate, channels)
        self.stats = CaptureStats()
        self._chunk = max(1, round(chunk_s * sample_rate))
        self._stall_s = params.stall_timeout_s
        index, self.name = self._resolve(params.device)
        try:
            sd.check_input_settings(device=index, channels=channels, dtype="float32",
                                    samplerate=sample_rate)
        except sd.PortAudioError as exc:
            device = sd.query_devices(index)
            raise FormatMismatch(
                f"audio capture {self.name}: requested {sample_rate} Hz, {channels} channels, but "
                f"the device refuses it ({exc}); it offers up to {device['max_input_channels']} "
                f"input channels at {device['default_samplerate']:g} Hz by default (fix: set the "
                f"profile's audio sample_rate/channels to what the device captures)") from None
        self._ring: Ring[AudioChunk] = Ring(max(2, math.ceil(params.queue_s / chunk_s)))
        self._mapper = ClockMapper(_MAPPING_WINDOW)
        self._next: float | None = None  # monotonic time the next block should start at
        self._latency = 0.0
        try:
            self._stream = sd.InputStream(
                device=index, channels=channels, samplerate=sample_rate, dtype="float32",
                blocksize=self._chunk, latency=params.latency, callback=self._callback,
                finished_callback=self._finished)
            self._latency = float(self._stream.latency)
            self._stream.start()
        except sd.PortAudioError as exc:
            raise CaptureLost(f"audio capture {self.name}: cannot start the input stream: {exc}") from None

    def _resolve(self, device: int | str | None) -> tuple[int, str]:
        sd = self._sd
        try:
            found: Any = sd.query_devices(device, kind="input")
        except (ValueError, sd.PortAudioError) as exc:
            listed = "; ".join(input_devices()) or \
                "none (is the interface plugged in, the audio server running?)"
            raise CaptureLost(f"audio capture {device!r}: {exc}. Input devices: {listed}") from None
        index = int(found["index"])
        api = sd.query_hostapis(found["hostapi"])["name"]
        return index, f"{found['name']!r} ({api})"

    # -- PortAudio's thread ------------------------------------------------------
    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        mono = time.monotonic()
        rate = self.info.sample_rate
        adc, now = time_info.inputBufferAdcTime, time_info.currentTime
        if adc > 0 and now > 0:
            self._mapper.observe(now, mono)
            measured = self._mapper.to_monotonic(adc)
        else:
            measured = mono - self._latency - frames / rate
        duration = frames / rate
        error = 0.0 if self._next is None else measured - self._next
        if self._next is None or error < -_RESYNC_S:
            start = measured  # the first block, or a restarted stream clock
        elif error >= 0.5 * duration or (status.input_overflow and error > 0):
            # samples missing before this block: the time they covered is counted, at least one
            # block when the driver flags the overflow
            self.stats.dropped += max(1 if status.input_overflow else 0, int(error / duration + 0.5))
            start = measured
        else:
            if status.input_overflow:  # flagged, though the block came on time: one block lost
                self.stats.dropped += 1
            # contiguous samples: follow the sample count, slewing slowly toward the measured time
            most = _MAX_SLEW * duration
            start = self._next + min(most, max(-most, _SLEW * error))
        self._next = start + frames / rate
        if status.input_underflow:  # the driver had no data: the block is fill-in silence
            self.stats.dropped += 1
            return
        chunk = AudioChunk(t=self.clock.from_monotonic(start), samples=indata.copy(), sample_rate=rate)
        self.stats.dropped += self._ring.put(chunk)

    def _finished(self) -> None:
        self._ring.close(CaptureLost(f"audio capture {self.name}: the input stream stopped "
                                     f"(device lost or audio server gone)"))

    # -- the reader ---------------------------------------------------------------
    def read(self, timeout_s: float | None = None) -> AudioChunk | None:
        until_stall = max(0.0, self._ring.last_put_mono + self._stall_s - time.monotonic())
        chunk = self._ring.get(until_stall if timeout_s is None else min(timeout_s, until_stall))
        if chunk is None:
            silent = time.monotonic() - self._ring.last_put_mono
            if not self._ring.closed and not self._stream.active:
                raise CaptureLost(f"audio capture {self.name}: the input stream is no longer "
                                  f"active (device lost or audio server gone)")
            if silent >= self._stall_s:
                raise CaptureLost(f"audio capture {self.name}: stalled, no audio for {silent:.1f} s")
            return None
        self.stats.delivered += 1
        return chunk

    def close(self) -> None:
        """Stop and close the stream, bounded: PortAudio can hang on a device whose server died."""
        self._ring.close(EndOfStream(self.name))
        stream = self._stream
        closer = threading.Thread(target=stream.close, daemon=True, name=f"close {self.name}")
        closer.start()
        closer.join(_CLOSE_TIMEOUT_S)
        if closer.is_alive():
            # PortAudio is wedged (seen with JACK after the server died); terminating it at exit
            # would hang or abort the process, so leave it be
            atexit.unregister(self._sd._exit_handler)
            warnings.warn(f"audio capture {self.name}: PortAudio did not close the stream within "
                          f"{_CLOSE_TIMEOUT_S:g} s; abandoned", ResourceWarning, stacklevel=2)
        self._ring.discard()
