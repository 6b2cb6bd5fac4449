"""Loudness: off target or jumping (EBU R128, ATSC A/85, streaming targets).

Measures per ITU-R BS.1770-4 (:mod:`detectors.audio.bs1770`: K-weighting, momentary 400 ms,
short-term 3 s, gated integrated loudness, loudness range, 4x true peak) and reports two faults:

- **Jumps**: the programme level stepping by more than ``jump_lu`` and staying there, as a wrong
  gain, a badly levelled insert or a volume fault does.  The level before and after every 100 ms
  boundary is the power mean over ``window_s`` on each side (robust to pauses in speech); a
  boundary where they differ by more than ``jump_lu`` (the largest such difference within
  ``window_s / 2``) is a candidate edge.  Edges must be *abrupt*: across the edge, the level of
  10 ms blocks changes by nearly the whole step within 60 ms (``max_ramp_gap_db``).  A musical
  crescendo or a fade into a quiet passage changes over hundreds of milliseconds and is content.
  An episode runs from one edge to the next edge going the other way by at least
  ``min_return`` of the first step: the level left the programme level and came back.  Steps
  the same way before that return are tried in turn: the episode from the first (their steps
  summed), else from each later one, so a step of the content's own just before a gain fault
  (a cut to quieter music) does not take the fault with it.  A step
  that never comes back (a new programme at another level, the end of an applause) is not a
  jump episode; the integrated loudness against the target judges the programme as a whole.
  Finally the episode must be the *same sound at another gain*: the octave-band spectrum averaged
  over the episode, against the one over ``window_s`` on each side, moves by about the same
  number of dB in every band (energy-weighted spread at most ``max_shape_db``).  A pause in
  speech (room tone inside), a cut to other music or the start of applause changes the
  spectrum's shape, not only its level.  Likewise the level's *dynamics* (the 25-75 %
  percentile range of the 10 ms levels) are kept by a gain: inside and on either side they may
  differ by at most ``max_dynamics_db`` (a pause of steady room tone inside speech does not).
  A gain is held: the level over the episode is the level before it plus the step
  (``max_hold_error_lu``; two steps the same way add up only if no step back between them was
  missed).  And a gain changes every channel alike (``max_balance_change_db``): a step in one
  channel is a channel dropout, left to the channel detector.
- **Off target**: the integrated loudness of everything analysed more than ``tolerance_lu`` from
  ``target_lufs``; reported by ``finish()`` over the whole analysed span, and only when at
  least ``min_programme_s`` was analysed (integrated loudness is a programme measure; a few
  seconds of a clip say little about it).

``standard`` picks the target and tolerance (``target_lufs``/``tolerance_lu`` override them):
``ebu_r128`` -23 LUFS +-1 LU, ``atsc_a85`` -24 LKFS +-2 dB, ``streaming`` -14 LUFS +-1 LU
(Spotify, YouTube), ``streaming_16`` -16 LUFS +-1 LU (Apple, AES TD1004).  Every event's
details carry the figures: integrated, short-term and momentary loudness, LRA, true peak.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.fft
from pydantic import Field

from detectors.audio.bs1770 import LoudnessMeter, lufs
from detectors.audio.common import HopBuffer, hop_mean_squares, mono
from detectors.base import Detector, DetectorConfig, Event
from harness.media import AudioChunk

Standard = Literal["ebu_r128", "atsc_a85", "streaming", "streaming_16"]

STANDARDS: dict[str, tuple[float, float, float]] = {
    # target LUFS, tolerance LU, maximum true peak dBTP
    "ebu_r128": (-23.0, 1.0, -1.0),
    "atsc_a85": (-24.0, 2.0, -2.0),
    "streaming": (-14.0, 1.0, -1.0),
    "streaming_16": (-16.0, 1.0, -1.0),
}

_FINE_S = 0.01     # fine level blocks for the abruptness check
_SUB = 10          # 100 ms sub-blocks per second


def _guard(start: int, end: int) -> int:
    """Sub-blocks left out either side of a (refined) edge when the episode's sound is
    compared with its surroundings."""
    return 1


class LoudnessConfig(DetectorConfig):
    standard: Standard = Field("ebu_r128", description="loudness standard the target and "
                               "tolerance come from (ebu_r128 -23, atsc_a85 -24, streaming -14, "
                               "streaming_16 -16)")
    target_lufs: float | None = Field(None, le=0, description="integrated loudness target; "
                                      "default the standard's")
    tolerance_lu: float | None = Field(None, gt=0, description="allowed deviation of the "
                                       "integrated loudness; default the standard's")
    min_programme_s: float = Field(30.0, ge=0, description="integrated loudness is judged "
                                   "against the target only over at least this much sound")
    jump_lu: float = Field(5.5, gt=0, description="a level step larger than this (LU) between "
                           "the windows before and after a moment is a jump")
    window_s: float = Field(1.0, ge=0.3, le=5.0, description="length of the windows compared "
                            "on each side of a candidate jump")
    max_ramp_gap_db: float = Field(4.0, ge=0, description="an edge is abrupt when the 10 ms "
                                   "levels 60 ms either side of it differ by at least the "
                                   "step minus this (and at least 70 % of it)")
    min_level_lufs: float = Field(-55.0, le=0, description="windows quieter than this on "
                                  "both sides are not judged (silence is the silence "
                                  "detector's)")
    max_shape_db: float = Field(4.0, gt=0, description="a jump episode keeps the spectrum's "
                                "shape: the energy-weighted spread (dB) of the octave-band level "
                                "changes between the episode and the window on either side is "
                                "at most this")
    max_dynamics_db: float = Field(3.0, gt=0, description="a jump episode keeps the "
                                   "level's dynamics: the 25-75 % range of its 10 ms levels "
                                   "differs from that of the window on either side by at "
                                   "most this (dB)")
    max_balance_change_db: float = Field(6.0, gt=0, description="a jump episode changes "
                                         "every channel alike: the level changes of the "
                                         "channels against the window on either side differ "
                                         "by at most this (dB); a step in one channel is a "
                                         "channel fault, the channel detector's")
    max_hold_error_lu: float = Field(3.0, gt=0, description="a jump episode holds its gain: "
                                     "its level is the programme level before it plus the "
                                     "step, within this or a quarter of the step, whichever "
                                     "is larger (LU)")
    min_return: float = Field(0.5, gt=0, le=1, description="the edge that ends an episode "
                              "goes the other way by at least this fraction of the first")
    min_duration_s: float = Field(1.2, ge=0, description="shorter jump episodes are not "
                                  "reported: a gain fault is held for longer than the 1 s "
                                  "windows that measure it (a second of a quieter voice "
                                  "spliced between louder ones is not one)")
    clip_level: float = Field(0.97, gt=0, le=1, description="a step up whose loud side peaks "
                              "at this sample level (within 0.3 dB of full scale: clipped or "
                              "saturated) is overdrive, left to the distortion detector; a "
                              "mastered insert peaks at -1 dBFS or less")
    true_peak: bool = Field(True, description="measure the true peak (4x oversampling)")


class LoudnessDetector(Detector):
    name = "loudness"
    kind = "loudness"
    media = "audio"
    Config = LoudnessConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        target, tolerance, peak = STANDARDS[cfg.standard]
        self.target = cfg.target_lufs if cfg.target_lufs is not None else target
        self.tolerance = cfg.tolerance_lu if cfg.tolerance_lu is not None else tolerance
        self.max_true_peak = peak
        self._hops = HopBuffer(0.4)
        self._meter: LoudnessMeter | None = None
        self._sub: list[float] = []       # 100 ms sub-block powers (K-weighted, channel-weighted)
        self._fine: list[float] = []      # 10 ms block levels, dB (unweighted power sum)
        self._fine_pending = np.zeros((0, 1), np.float32)
        self._bands: list[np.ndarray] = []  # octave-band powers of each 100 ms sub-block
        self._channels: list[np.ndarray] = []  # per-channel powers of each 100 ms sub-block
        self._band_bins: np.ndarray | None = None
        self._fine_peak: list[float] = []  # 10 ms block sample peaks
        self._cum: list[float] = [0.0]    # running sums of _sub (window means in O(1))
        self._zeros: list[int] = [0]      # running count of all-zero (digital silence) _sub
        self._diff: list[float] = []      # level after minus before at each sub-block boundary
        self._judged = 0                  # boundaries decided as edge or not
        self._edges: list[tuple[int, float, float, float]] = []  # index, step, before, after
        self._open: list[tuple[int, float, float, float]] = []  # same-way steps, unclosed
        self._events: list[Event] = []
        self._t0 = 0.0
        self._w = max(1, round(cfg.window_s * _SUB))
        self._short_max = -200.0
        self._short_min = 200.0

    # ------------------------------------------------------------------ feeding
    def feed(self, chunk: AudioChunk) -> list[Event]:
        out: list[Event] = []
        for _, _, samples in self._hops.push(chunk):
            out += self._process(samples)
        return out

    def _process(self, samples: np.ndarray) -> list[Event]:
        if self._meter is None:
            self._meter = LoudnessMeter(self._hops.rate or 48000, samples.shape[1],
                                        true_peak=self.config.true_peak)
            self._t0 = self._hops.t0
            self._fine_pending = np.zeros((0, samples.shape[1]), np.float32)
        for _, _, short in self._meter.push(samples):
            if short is not None:
                self._short_max = max(self._short_max, short)
                self._short_min = min(self._short_min, short)
        self._sub = self._meter._sub
        self._fine_levels(samples)
        self._band_levels(samples)
        self._channel_levels(samples)
        return self._judge(final=False)

    def _fine_levels(self, samples: np.ndarray) -> None:
        rate = self._meter.rate if self._meter else 48000
        block = max(1, round(_FINE_S * rate))
        data = np.concatenate([self._fine_pending, samples]) if self._fine_pending.shape[0] \
            else samples
        usable = data.shape[0] - data.shape[0] % block
        if usable:
            power = hop_mean_squares(data[:usable], block).sum(axis=1)
            self._fine.extend((10.0 * np.log10(np.maximum(power, 1e-12))).tolist())
            self._fine_peak.extend(np.abs(data[:usable]).reshape(-1, block * data.shape[1])
                                   .max(axis=1).tolist())
        self._fine_pending = data[usable:]

    def _channel_levels(self, samples: np.ndarray) -> None:
        """Per-channel mean square of every 100 ms sub-block in ``samples`` (as
        :meth:`_band_levels`)."""
        rate = self._meter.rate if self._meter else 48000
        sub = max(1, round(rate / _SUB))
        n = samples.shape[0] // sub
        if n:
            # float32 squares summed in float64 per channel in contiguous memory (a mean over
            # axis 1 of interleaved samples runs element by element, ~10x slower)
            squares = np.square(samples[:n * sub].T, dtype=np.float32).astype(np.float64,
                                                                               order="C")
            self._channels.extend((squares.reshape(-1, n, sub).sum(axis=2) / sub).T)

    def _balance_change(self, start: int, end: int) -> float:
        """The largest spread (dB) between the channels' level changes from ``window_s`` on
        either side to sub-blocks ``[start, end)`` (less :func:`_guard` at each edge)."""
        w, chans = self._w, self._channels
        g = _guard(start, end)
        inside = chans[start + g:max(start + g + 1, end - g)]
        if not inside or len(inside[0]) < 2:
            return 0.0
        ins = np.mean(inside, axis=0) + 1e-10
        worst = 0.0
        for a, b in ((start - w - g, start - g), (end + g, end + g + w)):
            part = chans[max(0, a):max(0, min(b, len(chans)))]
            if len(part) < max(2, w // 2):
                continue
            change = 10.0 * np.log10(ins / (np.mean(part, axis=0) + 1e-10))
            worst = max(worst, float(change.max() - change.min()))
        return worst

    def _band_levels(self, samples: np.ndarray) -> None:
        """Octave-band powers (mono, no window: a transient counts wherever it falls) of every 100 ms sub-block in ``samples``
        (hops are whole sub-blocks but the last, whose remainder is dropped)."""
        rate = self._meter.rate if self._meter else 48000
        sub = max(1, round(rate / _SUB))
        n = samples.shape[0] // sub
        if n == 0:
            return
        if self._band_bins is None:
            freqs = np.fft.rfftfreq(sub, 1.0 / rate)
            edges = [e for e in (50, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 20000)
                     if e < rate / 2] + [rate / 2 + 1]
            self._band_bins = np.searchsorted(freqs, edges)
        x = mono(samples[:n * sub]).reshape(n, sub)
        spectrum = scipy.fft.rfft(x, axis=1)          # single precision
        power = spectrum.real ** 2 + spectrum.imag ** 2
        bins = self._band_bins
        self._bands.extend(np.add.reduceat(power[:, bins[0]:bins[-1]], bins[:-1] - bins[0],
                                           axis=1).astype(np.float64))

    def _shape_spread(self, start: int, end: int) -> float:
        """The largest energy-weighted spread (dB) of the octave-band level changes between
        sub-blocks ``[start, end)`` (less :func:`_guard` at each edge) and ``window_s`` on either side."""
        w, bands = self._w, self._bands
        g = _guard(start, end)
        inside = bands[start + g:max(start + g + 1, end - g)]
        if not inside:
            return 0.0
        ins = np.mean(inside, axis=0) + 1e-10
        worst = None
        for a, b in ((start - w - g, start - g), (end + g, end + g + w)):
            part = bands[max(0, a):max(0, min(b, len(bands)))]
            if len(part) < max(2, w // 2):
                continue
            out = np.mean(part, axis=0) + 1e-10
            change = 10.0 * np.log10(ins / out)
            total = 10.0 * np.log10(ins.sum() / out.sum())
            weight = np.maximum(ins / ins.sum(), out / out.sum())
            spread = float(np.sqrt(np.sum(weight * np.square(change - total)) / weight.sum()))
            worst = spread if worst is None else max(worst, spread)
        return 0.0 if worst is None else worst

    def _dynamics_change(self, start: int, end: int) -> float:
        """The largest difference (dB) between the 25-75 % range of the 10 ms levels inside
        sub-blocks ``[start, end)`` and on either side (less :func:`_guard` at each edge)."""
        per, w, fine = round(0.1 / _FINE_S), self._w, self._fine
        g = _guard(start, end)
        inside = fine[(start + g) * per:(end - g) * per]
        if len(inside) < 2 * per:
            return 0.0

        def spread(levels: list[float]) -> float:
            lo, hi = np.percentile(levels, (25.0, 75.0))
            return float(hi - lo)

        ref = spread(inside)
        worst = 0.0
        for a, b in ((start - w - g, start - g), (end + g, end + g + w)):
            part = fine[max(0, a * per):max(0, min(b * per, len(fine)))]
            if len(part) >= max(2, w // 2) * per:
                worst = max(worst, abs(ref - spread(part)))
        return worst

    # ------------------------------------------------------------------ jumps
    def _level(self, a: int, b: int) -> float:
        a, b = max(0, a), min(len(self._sub), b)
        if b <= a:
            return -200.0
        cum, zeros, sub = self._cum, self._zeros, self._sub
        for k in range(len(cum) - 1, len(sub)):
            cum.append(cum[-1] + sub[k])
            zeros.append(zeros[-1] + (sub[k] == 0.0))
        if zeros[b] - zeros[a] == b - a:
            return lufs(0.0)   # exact digital silence, free of the running sums' rounding
        return lufs(max(0.0, (cum[b] - cum[a]) / (b - a)))

    def _judge(self, final: bool) -> list[Event]:
        cfg = self.config
        w, half = self._w, max(1, self._w // 2)
        n = len(self._sub)
        # level difference at boundary i (between sub-blocks i-1 and i)
        while len(self._diff) < n and (final or len(self._diff) + w <= n):
            i = len(self._diff)
            # full windows on both sides only: a window cut by the stream's ends is noise
            before = self._level(i - w, i) if i >= w else -200.0
            after = self._level(i, i + w) if n - i >= w else -200.0
            if max(before, after) < cfg.min_level_lufs or min(before, after) <= -199.0:
                self._diff.append(0.0)
            else:
                self._diff.append(after - before)
        out: list[Event] = []
        limit = len(self._diff) if final else len(self._diff) - half
        while self._judged < limit:
            i = self._judged
            self._judged += 1
            d = self._diff[i]
            if abs(d) <= cfg.jump_lu:
                continue
            lo, hi = max(0, i - half), min(len(self._diff), i + half + 1)
            if abs(d) < max(abs(v) for v in self._diff[lo:hi]) or \
                    any(abs(v) == abs(d) for v in self._diff[lo:i]):
                continue
            fine = self._fine_step(i)
            if fine is None:
                continue
            gap = abs(d) - abs(fine) if np.sign(fine) == np.sign(d) else abs(d) + abs(fine)
            if gap > max(cfg.max_ramp_gap_db, 0.3 * abs(d)):
                continue
            if d > 0 and self._peak_after(i) >= cfg.clip_level:
                continue  # a step up into full scale is an overdrive: distortion reports it
            out += self._edge(i, d)
        return out

    def _peak_after(self, i: int) -> float:
        """Sample peak of the window after boundary ``i``."""
        a, b = i * 10, (i + self._w) * 10
        return max(self._fine_peak[a:b], default=0.0)

    def _fine_step(self, i: int) -> float | None:
        """The largest 10 ms-level change across 60 ms either side of somewhere in sub-block
        ``i - 1`` or ``i`` (where a step at boundary ``i`` falls), medians of 5 blocks a side."""
        per = round(0.1 / _FINE_S)
        fine = self._fine
        best: float | None = None
        for centre in range((i - 1) * per, (i + 1) * per + 1):
            a, b = centre - 6, centre + 6
            if a < 0 or b > len(fine):
                continue
            before = float(np.median(fine[a:a + 5]))
            after = float(np.median(fine[centre + 1:b]))
            step = after - before
            if best is None or abs(step) > abs(best):
                best = step
        return best

    def _edge(self, i: int, step: float) -> list[Event]:
        cfg = self.config
        w = self._w
        before, after = self._level(i - w, i), self._level(i, i + w)
        out: list[Event] = []
        if not self._open:
            self._open = [(i, step, before, after)]
        elif np.sign(step) == np.sign(self._open[0][1]):
            # a second step the same way: the episode may go on (the step grows), or the
            # first was the content's own and the episode starts here
            self._open.append((i, step, before, after))
        else:
            # the episode from the first step (the steps summed), else from a later one
            for k, (j, _, level_before, _) in enumerate(self._open):
                first = sum(edge[1] for edge in self._open[k:])
                if abs(step) >= cfg.min_return * abs(first):
                    closed = self._close(j, i, first, level_before)
                    if closed:
                        out += closed
                        break
            self._open = []
        self._edges.append((i, step, before, after))
        return out

    def _refine(self, i: int, step: float) -> int:
        """The sub-block boundary within 500 ms of boundary ``i`` where the 10 ms levels
        (medians of 5 blocks a side) step the way of ``step`` by at least 60 % of it, the
        nearest to ``i`` (else ``i``): the window comparison places an edge only roughly."""
        per = round(0.1 / _FINE_S)
        fine = self._fine
        best, distance = i, np.inf
        for centre in range(max(5, (i - 5) * per), min(len(fine) - 5, (i + 5) * per + 1)):
            change = float(np.median(fine[centre:centre + 5])) - \
                float(np.median(fine[centre - 5:centre]))
            if change * np.sign(step) >= 0.6 * abs(step) and abs(centre - i * per) < distance:
                best, distance = round(centre / per), abs(centre - i * per)
        return best

    def _close(self, start: int, end: int | None, step: float, level_before: float) -> list[Event]:
        cfg = self.config
        t_start = self._t0 + start / _SUB
        t_end = self._t0 + (end if end is not None else len(self._sub)) / _SUB
        if t_end - t_start < cfg.min_duration_s:
            return []
        a = self._refine(start, step)
        b = self._refine(end, -step) if end is not None else len(self._sub)
        if b - a < 2:
            a, b = start, end if end is not None else len(self._sub)
        shape = self._shape_spread(a, b)
        if shape > cfg.max_shape_db:
            return []
        dynamics = self._dynamics_change(a, b)
        if dynamics > cfg.max_dynamics_db:
            return []
        balance = self._balance_change(a, b)
        if balance > cfg.max_balance_change_db:
            return []
        level = self._level(start, end if end is not None else len(self._sub))
        if abs(level - level_before - step) > max(cfg.max_hold_error_lu, 0.25 * abs(step)):
            return []   # e.g. two steps up whose step back between them was missed
        score = float(np.clip(0.5 + (abs(step) - cfg.jump_lu) / 20.0, 0.5, 1.0))
        return [Event(self.kind, t_start, t_end, score, self.name, details={
            "fault": "jump", "direction": "up" if step > 0 else "down",
            "step_lu": round(step, 2), "level_lufs": round(level, 2),
            "programme_lufs": round(level_before, 2), "shape_spread_db": round(shape, 2),
            "dynamics_change_db": round(dynamics, 2), "balance_change_db": round(balance, 2),
            **self._figures()})]

    def _figures(self) -> dict:
        meter = self._meter
        integrated = meter.integrated if meter else None
        lra = meter.loudness_range if meter else None
        figures = {"integrated_lufs": None if integrated is None else round(integrated, 2),
                   "lra_lu": None if lra is None else round(lra, 2),
                   "target_lufs": self.target, "tolerance_lu": self.tolerance,
                   "standard": self.config.standard}
        if meter is not None and self.config.true_peak:
            figures["true_peak_dbtp"] = round(meter.true_peak_dbtp, 2)
            figures["max_true_peak_dbtp"] = self.max_true_peak
        if self._short_max > -200:
            figures["max_short_term_lufs"] = round(self._short_max, 2)
        return figures

    # ------------------------------------------------------------------ end
    def finish(self) -> list[Event]:
        out: list[Event] = []
        for _, _, samples in self._hops.flush():
            out += self._process(samples)
        if self._meter is None:
            return out
        out += self._judge(final=True)
        self._open = []  # a step that never came back: the integrated loudness judges it
        end = self._hops.end_s
        integrated = self._meter.integrated
        if integrated is not None and end - self._t0 >= self.config.min_programme_s:
            off = integrated - self.target
            if abs(off) > self.tolerance:
                score = float(np.clip(0.5 + (abs(off) - self.tolerance) / 10.0, 0.5, 1.0))
                out.append(Event(self.kind, self._t0, end, score, self.name, details={
                    "fault": "off_target", "deviation_lu": round(off, 2), **self._figures()}))
        return out

    @property
    def measurements(self) -> dict:
        """The programme's figures so far (integrated, LRA, true peak, target)."""
        return self._figures()
