"""Capture from the simulated device: the same protocol a capture card speaks.

On a virtual clock a frame "arrives" at its presentation time and reading it
moves the clock there, so a 30 s playback check takes as long as rendering 30 s
of frames.  On a real clock reads are paced to real time, and a reader that
falls further behind than the profile's ``buffer_frames`` loses frames, counted
as dropped, as a capture card's ring buffer would.
"""

from __future__ import annotations

import math

from harness.capture.base import AudioSource, VideoSource
from harness.media import AudioChunk, AudioInfo, CaptureStats, Frame, VideoInfo


class MockVideoSource(VideoSource):
    supports_virtual_clock = True

    def __init__(self, spec, rig) -> None:
        self.params = self.Params.model_validate(spec.params)
        self.sim = rig.simulator()
        self.clock = rig.clock
        self.info = VideoInfo(spec.width, spec.height, spec.fps)
        self.stats = CaptureStats()
        self._buffer_frames = spec.buffer_frames
        self._next_index = max(0, math.ceil(self.clock.now() * spec.fps - 1e-9))

    def read(self, timeout_s: float | None = None) -> Frame | None:
        fps = self.info.fps
        if not self.clock.is_virtual:
            # frames older than the ring buffer are gone: count them, skip to the oldest kept
            newest = math.floor(self.clock.now() * fps)
            oldest_kept = newest - self._buffer_frames + 1
            if self._next_index < oldest_kept:
                self.stats.dropped += oldest_kept - self._next_index
                self._next_index = oldest_kept
        t = self._next_index / fps
        wait = t - self.clock.now()
        if wait > 0 and timeout_s is not None and wait > timeout_s:
            self.clock.sleep(timeout_s)
            return None
        self.clock.sleep_until(t)
        frame = Frame(t=t, index=self._next_index, image=self.sim.video_frame(self._next_index))
        self._next_index += 1
        self.stats.delivered += 1
        return frame


class MockAudioSource(AudioSource):
    supports_virtual_clock = True

    def __init__(self, spec, rig) -> None:
        self.params = self.Params.model_validate(spec.params)
        self.sim = rig.simulator()
        self.clock = rig.clock
        self.info = AudioInfo(spec.sample_rate, spec.channels)
        self.stats = CaptureStats()
        self._chunk = max(1, round(spec.chunk_s * spec.sample_rate))
        self._next_sample = round(self.clock.now() * spec.sample_rate)

    def read(self, timeout_s: float | None = None) -> AudioChunk | None:
        rate = self.info.sample_rate
        end_t = (self._next_sample + self._chunk) / rate
        wait = end_t - self.clock.now()
        if wait > 1e-9:
            if self.clock.is_virtual or (timeout_s is not None and wait > timeout_s):
                # virtual sources never block on audio: video reads drive the clock
                if not self.clock.is_virtual and timeout_s:
                    self.clock.sleep(timeout_s)
                return None
            self.clock.sleep(wait)
        samples = self.sim.audio(self._next_sample, self._chunk)
        chunk = AudioChunk(t=self._next_sample / rate, samples=samples, sample_rate=rate)
        self._next_sample += self._chunk
        self.stats.delivered += 1
        return chunk
