"""Shared plumbing of the audio detectors: fixed-size hops out of arbitrary chunks.

Live capture and file decoding deliver :class:`~harness.media.AudioChunk` objects of any size;
every audio detector cuts them into hops of a fixed number of samples with :class:`HopBuffer`, so
its results do not depend on how the stream was chunked.  Hop times are counted in samples from
the first chunk (``t0 + index / rate``), so they do not drift with float rounding either.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from harness.media import AudioChunk

EPS = 1e-12


def db(power: np.ndarray | float, floor: float = -150.0) -> np.ndarray | float:
    """``10 log10(power)`` with a floor (power, not amplitude)."""
    out = 10.0 * np.log10(np.maximum(power, 10.0 ** (floor / 10.0)))
    return float(out) if np.ndim(out) == 0 else out


class HopBuffer:
    """Cuts a stream of chunks into hops of ``hop_s`` seconds (rounded to samples).

    ``push(chunk)`` yields ``(index, t, samples)`` for every complete hop (``samples`` is
    ``(hop, channels)`` float32; ``index`` counts hops from the first); ``flush()`` yields the
    incomplete last hop, if any.  The hop length is fixed by the first chunk's sample rate.
    """

    def __init__(self, hop_s: float) -> None:
        self.hop_s = hop_s
        self.rate: int | None = None
        self.channels: int | None = None
        self.hop = 0
        self.t0 = 0.0
        self.index = 0
        self._parts: list[np.ndarray] = []
        self._held = 0

    def _start(self, chunk: AudioChunk) -> None:
        self.rate = int(chunk.sample_rate)
        self.channels = chunk.channels
        self.hop = max(1, round(self.hop_s * self.rate))
        self.t0 = float(chunk.t)

    def time_of(self, index: int) -> float:
        """Start time of hop ``index``."""
        return self.t0 + index * self.hop / (self.rate or 1)

    def push(self, chunk: AudioChunk) -> Iterator[tuple[int, float, np.ndarray]]:
        if self.rate is None:
            self._start(chunk)
        samples = chunk.samples
        if samples.ndim == 1:
            samples = samples[:, None]
        if samples.dtype != np.float32:
            samples = samples.astype(np.float32)
        if samples.shape[0] == 0:
            return
        self._parts.append(samples)
        self._held += samples.shape[0]
        if self._held < self.hop:
            return
        data = np.concatenate(self._parts) if len(self._parts) > 1 else self._parts[0]
        usable = data.shape[0] - data.shape[0] % self.hop
        for start in range(0, usable, self.hop):
            yield self.index, self.time_of(self.index), data[start:start + self.hop]
            self.index += 1
        rest = data[usable:]
        self._parts = [rest] if rest.shape[0] else []
        self._held = rest.shape[0]

    def flush(self) -> Iterator[tuple[int, float, np.ndarray]]:
        if self._held:
            data = np.concatenate(self._parts)
            self._parts, self._held = [], 0
            yield self.index, self.time_of(self.index), data
            self.index += 1

    @property
    def end_s(self) -> float:
        """Time just after the last sample pushed."""
        if self.rate is None:
            return 0.0
        return self.time_of(self.index) + self._held / self.rate


def mono(samples: np.ndarray) -> np.ndarray:
    """The mean of the channels (float32, 1-D)."""
    return samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1, dtype=np.float32)


def group_times(times: list[float], gap_s: float) -> list[list[float]]:
    """Sorted times grouped where consecutive ones are at most ``gap_s`` apart."""
    groups: list[list[float]] = []
    for t in sorted(times):
        if groups and t - groups[-1][-1] <= gap_s:
            groups[-1].append(t)
        else:
            groups.append([t])
    return groups
