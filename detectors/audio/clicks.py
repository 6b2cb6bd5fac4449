"""Clicks and pops: impulsive outliers in the sample domain.

The channels' mean goes through a second difference (``x[n] - 2x[n-1] + x[n-2]``, a high-pass
that leaves programme content small and turns a click into a spike a few samples wide).  The
residual's robust local level is the median of its magnitude per 5 ms block, taken as the
median over ``context_s`` around (so a passage of cymbals or applause raises it).  A sample is
a click when its residual exceeds ``threshold`` times that level and ``min_residual``, and the
spike is *isolated*: within 2 ms either side, at most ``max_spike_samples`` samples reach 30 %
of its peak.  Percussive attacks (a typewriter's strike, a drum, a clap) are dense bursts of
large residuals over milliseconds, not one spike.  Nor is it a lone kink or step: at least
``min_spike_samples`` samples reach 30 % of the peak (a clean step in the waveform, as at a
splice of two recordings or a channel turned upside down, leaves two; a kink where a waveform
hits a clipper leaves one).  And the waveform *comes back*: straight lines fitted to the 8
samples before and after the spike, extrapolated to its middle, meet within ``max_step`` of
the spike's height.  A splice, a cut or a switch of the signal path leaves the waveform
displaced; a click leaves the programme where it was.  A spike where the waveform reaches
full scale (``clip_level``) is the edge of clipping, which the distortion detector reports.

Clicks closer than ``merge_gap_s`` are one episode (one event; ``details`` carries their count
and times).
"""

from __future__ import annotations

from collections import deque

import numpy as np
from pydantic import Field

from detectors.audio.common import HopBuffer, group_times, median_rows, mono
from detectors.base import Detector, DetectorConfig, Event
from harness.media import AudioChunk

_BLOCK_S = 0.005
_HOP_S = 0.1


class ClicksConfig(DetectorConfig):
    threshold: float = Field(30.0, gt=1, description="a residual this many times its local "
                             "robust level is a click candidate")
    min_residual: float = Field(0.15, gt=0, description="... and at least this large (full "
                                "scale 1.0)")
    max_spike_samples: int = Field(7, ge=1, description="samples within 2 ms of a candidate "
                                   "reaching 30 % of its peak; more is a percussive attack")
    clip_level: float = Field(0.99, gt=0, le=1, description="a candidate where the waveform "
                              "reaches this sample level is a clipper's edge, left to the "
                              "distortion detector")
    min_spike_samples: int = Field(3, ge=1, description="... and at least this many (a step "
                                   "leaves 2, a clipper's kink 1)")
    max_step: float = Field(0.5, gt=0, description="the waveform either side of a click, "
                            "extrapolated to its middle, differs by at most this fraction of "
                            "the spike's height (a splice or cut leaves it displaced)")
    context_s: float = Field(0.1, gt=0, description="the local level is the median over this "
                             "long around the sample")
    merge_gap_s: float = Field(1.0, ge=0, description="clicks closer than this are one episode")
    min_clicks: int = Field(1, ge=1, description="episodes with fewer clicks are not reported")


class ClicksDetector(Detector):
    name = "clicks"
    kind = "clicks"
    media = "audio"
    Config = ClicksConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        self._hops = HopBuffer(_HOP_S)
        self._tail: np.ndarray | None = None           # last two samples of the previous hop
        self._prev: tuple[float, np.ndarray, np.ndarray] | None = None  # hop held for context
        self._levels: deque[np.ndarray] = deque(maxlen=3)
        self._xs: deque[np.ndarray] = deque(maxlen=3)   # the mono samples of those hops
        self._clicks: list[tuple[float, float]] = []  # (time, peak residual)
        self._rate = 48000

    def feed(self, chunk: AudioChunk) -> list[Event]:
        for _, t, samples in self._hops.push(chunk):
            self._process(t, samples)
        return self._emit(final=False)

    def _process(self, t: float, samples: np.ndarray) -> None:
        self._rate = self._hops.rate or 48000
        x = mono(samples)
        if self._tail is None:
            self._tail = np.full(2, x[0] if x.size else 0.0, np.float32)
        ext = np.concatenate([self._tail, x])
        self._tail = ext[-2:].copy()
        d = np.abs(ext[2:] - 2.0 * ext[1:-1] + ext[:-2])
        block = max(1, round(_BLOCK_S * self._rate))
        usable = d.shape[0] - d.shape[0] % block
        levels = median_rows(d[:usable].reshape(-1, block)) if usable else \
            np.array([np.median(d)])
        self._levels.append(levels)
        self._xs.append(x)
        if self._prev is not None:
            self._judge(*self._prev)
        self._prev = (t, d, levels, x)

    def _judge(self, t: float, d: np.ndarray, levels: np.ndarray, x: np.ndarray) -> None:
        """Candidates of the held hop, with the hops either side known for context."""
        cfg = self.config
        context = np.concatenate(self._levels)
        level = max(float(median_rows(context[None, :])[0]), 1e-7)
        limit = max(cfg.threshold * level, cfg.min_residual)
        candidates = np.flatnonzero(d > limit)
        if candidates.size == 0:
            return
        offset = 0
        for part in self._xs:
            if part is x:
                break
            offset += part.shape[0]
        wave = np.concatenate(list(self._xs))
        span = max(1, round(0.002 * self._rate))
        last = -10 * span
        for i in candidates:
            if i - last < span:
                continue
            a, b = max(0, i - span), min(d.shape[0], i + span + 1)
            window = d[a:b]
            peak_at = a + int(np.argmax(window))
            peak = float(d[peak_at])
            loud = np.flatnonzero(window >= 0.3 * peak)
            last = i
            if not cfg.min_spike_samples <= loud.size <= cfg.max_spike_samples:
                continue
            # d[j] is the second difference centred on x[j - 1]
            if np.abs(wave[max(0, offset + a - 2):offset + b]).max(initial=0.0) >= \
                    cfg.clip_level:
                continue
            if self._displaced(wave, offset + a + int(loud[0]) - 2, offset + a + int(loud[-1])):
                continue
            self._clicks.append((t + peak_at / self._rate, peak / level))

    def _displaced(self, wave: np.ndarray, first: int, end: int) -> bool:
        """Whether the waveform after the spike ``wave[first:end + 1]`` is displaced from
        where the waveform before it was going (a splice or step, not a click)."""
        fit = 8
        if first - fit < 0 or end + 1 + fit > wave.shape[0]:
            return False        # at the stream's ends: no evidence either way
        before = wave[first - fit:first].astype(np.float64)
        after = wave[end + 1:end + 1 + fit].astype(np.float64)
        n = np.arange(fit, dtype=np.float64)
        middle = (first + end) / 2.0
        sb, ib = np.polyfit(n, before, 1)
        sa, ia = np.polyfit(n, after, 1)
        from_before = ib + sb * (middle - (first - fit))
        from_after = ia + sa * (middle - (end + 1))
        base = (from_before + from_after) / 2.0
        height = float(np.max(np.abs(wave[first:end + 1] - base)))
        return abs(from_after - from_before) > self.config.max_step * max(height, 1e-9)

    def _emit(self, final: bool) -> list[Event]:
        cfg = self.config
        if not self._clicks:
            return []
        now = self._hops.time_of(self._hops.index)
        groups = group_times([c[0] for c in self._clicks], cfg.merge_gap_s)
        out: list[Event] = []
        done = groups if final else [g for g in groups if now - g[-1] > cfg.merge_gap_s + _HOP_S]
        if not done:
            return []
        ratio = dict(self._clicks)
        for group in done:
            if len(group) < cfg.min_clicks:
                continue
            strongest = max(ratio[t] for t in group)
            score = float(np.clip(0.5 + 0.5 * np.log10(strongest / cfg.threshold), 0.5, 1.0))
            out.append(Event(self.kind, group[0], group[-1] + 0.01, score, self.name, details={
                "count": len(group), "times": [round(t, 4) for t in group],
                "max_ratio": round(strongest, 1)}))
        keep = set() if final else {t for g in groups if g not in done for t in g}
        self._clicks = [c for c in self._clicks if c[0] in keep]
        return out

    def finish(self) -> list[Event]:
        for _, t, samples in self._hops.flush():
            self._process(t, samples)
        if self._prev is not None:
            self._judge(*self._prev)
            self._prev = None
        return self._emit(final=True)
