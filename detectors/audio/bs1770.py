"""A streaming loudness meter per ITU-R BS.1770-4 and EBU Tech 3341/3342 (EBU R128).

- K-weighting: the standard's two biquads (high-shelf "pre-filter" and RLB high-pass),
  computed for any sample rate from their analogue parameters (as libebur128 and ffmpeg's
  ``ebur128`` filter do), run as one second-order-section cascade with kept state.
- Mean square per channel over 100 ms sub-blocks; channel weights 1.0 (L, R, C), 1.41 (surround),
  LFE excluded (5.1 in ffmpeg's order L R C LFE Ls Rs); other layouts weigh every channel 1.0.
- Momentary loudness: 400 ms window; short-term: 3 s window; both every 100 ms.
- Integrated loudness: the 400 ms gating blocks (75 % overlap, i.e. the momentary values),
  absolute gate -70 LUFS, relative gate -10 LU.
- Loudness range (LRA, Tech 3342): short-term values every 100 ms, absolute gate -70 LUFS,
  relative gate -20 LU, 95th minus 10th percentile (nearest rank).
- True peak: 4x oversampling with a 48-tap polyphase interpolation filter (the structure of
  BS.1770-4 Annex 2), dBTP.  Blocks that cannot raise the running true peak (their sample
  peak times the filter's gain bound is below it) are skipped, so it costs little.

Verified against ffmpeg's ``ebur128`` filter in ``tests/test_audio_detectors.py``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

try:
    # the cascade scipy.signal.sosfilt runs, called directly on the meter's own contiguous
    # arrays: the public function's checks, axis moves and copies cost a third as much again as
    # filtering a 0.4 s hop
    from scipy.signal._sosfilt import _sosfilt
except ImportError:  # pragma: no cover (another scipy: the public function, the same numbers)
    _sosfilt = None

ABS_GATE_LUFS = -70.0
REL_GATE_LU = -10.0
LRA_REL_GATE_LU = -20.0
SUB_BLOCK_S = 0.1
MOMENTARY_BLOCKS = 4     # 400 ms
SHORT_TERM_BLOCKS = 30   # 3 s
OVERSAMPLE = 4
_TP_TAPS_PER_PHASE = 12


def k_weighting_sos(rate: float) -> np.ndarray:
    """The K-weighting filter at ``rate`` as second-order sections (pre-filter, RLB)."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf_b = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0,
               (vh - vb * k / q + k * k) / a0]
    shelf_a = [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1.0 + k / q + k * k
    hp_b = [1.0, -2.0, 1.0]
    hp_a = [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf_b + shelf_a, hp_b + hp_a], np.float64)


def channel_weights(channels: int) -> np.ndarray:
    if channels == 6:   # 5.1: L R C LFE Ls Rs
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    if channels == 5:   # 5.0: L R C Ls Rs
        return np.array([1.0, 1.0, 1.0, 1.41, 1.41])
    return np.ones(channels)


def lufs(power: float | np.ndarray) -> float | np.ndarray:
    """Loudness (LUFS/LKFS) of a channel-weighted mean-square power."""
    if isinstance(power, float):
        # the same numbers for a Python float (numpy's log10, float arithmetic), at a third of
        # the cost: the meter and the loudness detector ask for thousands of single values
        return -0.691 + 10.0 * float(np.log10(max(power, 1e-20)))
    out = -0.691 + 10.0 * np.log10(np.maximum(power, 1e-20))
    return float(out) if np.ndim(out) == 0 else out


def _interpolator() -> np.ndarray:
    """``(OVERSAMPLE, taps)`` polyphase interpolation filter (gain 1 per phase at DC)."""
    n = OVERSAMPLE * _TP_TAPS_PER_PHASE
    h = signal.firwin(n, 0.9 / OVERSAMPLE, window=("kaiser", 6.0)) * OVERSAMPLE
    return h.reshape(_TP_TAPS_PER_PHASE, OVERSAMPLE).T.copy()


def integrated(powers: np.ndarray) -> float | None:
    """Gated integrated loudness of 400 ms block powers (None: nothing above the gates)."""
    powers = np.asarray(powers, np.float64)
    above = powers[powers > 10.0 ** ((ABS_GATE_LUFS + 0.691) / 10.0)]
    if above.size == 0:
        return None
    gate = np.mean(above) * 10.0 ** (REL_GATE_LU / 10.0)
    kept = above[above > gate]
    return lufs(float(np.mean(kept))) if kept.size else None


def loudness_range(powers: np.ndarray) -> float | None:
    """LRA (LU) of short-term powers (None when fewer than two values pass the gates)."""
    powers = np.asarray(powers, np.float64)
    above = powers[powers > 10.0 ** ((ABS_GATE_LUFS + 0.691) / 10.0)]
    if above.size == 0:
        return None
    gate = np.mean(above) * 10.0 ** (LRA_REL_GATE_LU / 10.0)
    kept = np.sort(lufs(above[above > gate]))
    if kept.size < 2:
        return None
    # nearest-rank percentiles, as EBU Tech 3342's reference and ffmpeg's ebur128 take them
    n = kept.size
    low = kept[max(0, int(0.10 * n + 0.5) - 1)]
    high = kept[max(0, int(0.95 * n + 0.5) - 1)]
    return float(high - low)


class LoudnessMeter:
    """Streaming BS.1770-4 meter: ``push(samples)`` ``(n, channels)`` float at ``rate``; returns
    the 100 ms sub-blocks completed, each ``(index, momentary_lufs or None, short_term_lufs or
    None)`` (None until the window is full).  ``integrated``, ``loudness_range`` and
    ``true_peak_dbtp`` summarise everything pushed so far."""

    def __init__(self, rate: int, channels: int, true_peak: bool = True) -> None:
        self.rate = rate
        self.channels = channels
        self.block = max(1, round(SUB_BLOCK_S * rate))
        self.sos = k_weighting_sos(rate)
        self.zi = np.zeros((channels, self.sos.shape[0], 2))   # filter state per channel
        self.weights = channel_weights(channels)
        self._pending = np.zeros((channels, 0), np.float64)     # filtered, channels first
        self._sub: list[float] = []          # weighted mean-square power per 100 ms sub-block
        self.momentary_powers: list[float] = []
        self.short_term_powers: list[float] = []
        self.true_peak_enabled = true_peak
        self._phases = _interpolator().astype(np.float32)
        self._gain_bound = float(np.abs(self._phases).sum(axis=1).max())
        self._history = np.zeros((_TP_TAPS_PER_PHASE - 1, channels), np.float32)
        self.true_peak = 0.0
        self.sample_peak = 0.0
        self.blocks = 0

    def push(self, samples: np.ndarray) -> list[tuple[int, float | None, float | None]]:
        x = samples[:, None] if samples.ndim == 1 else samples
        if x.shape[0] == 0:
            return []
        if self.true_peak_enabled:
            self._update_true_peak(x)
        # channels first in contiguous memory: the filter runs along each channel, and the
        # sub-block sums are contiguous (an interleaved mean over axis 0 is ~10x slower)
        planar = np.empty((x.shape[1], x.shape[0]), np.float64)
        planar[...] = x.T
        self._k_weight(planar)
        data = np.concatenate([self._pending, planar], axis=1) if self._pending.shape[1] \
            else planar
        usable = data.shape[1] - data.shape[1] % self.block
        out = []
        if usable:
            squares = np.square(data[:, :usable]).reshape(self.channels, -1, self.block).mean(
                axis=2).T
            first = len(self._sub)
            self._sub.extend((squares @ self.weights).tolist())
            # the window powers of every new sub-block, then their loudness in one call (numpy's
            # log10 gives an array the same numbers as one value at a time)
            momentary = self._windows(first, MOMENTARY_BLOCKS, self.momentary_powers)
            short = self._windows(first, SHORT_TERM_BLOCKS, self.short_term_powers)
            out = list(zip(range(first, len(self._sub)), momentary, short))
        self._pending = data[:, usable:]
        self.blocks = len(self._sub)
        return out

    def _k_weight(self, planar: np.ndarray) -> None:
        """K-weight ``planar`` ``(channels, n)`` float64 in place, carrying the filter state."""
        if _sosfilt is not None:
            _sosfilt(self.sos, planar, self.zi)
            return
        out, zi = signal.sosfilt(self.sos, planar, axis=-1, zi=self.zi.transpose(1, 0, 2))
        planar[...] = out
        self.zi = np.ascontiguousarray(zi.transpose(1, 0, 2))

    def _windows(self, first: int, blocks: int, powers: list[float]) -> list[float | None]:
        """The loudness of the ``blocks``-sub-block window ending at each sub-block from
        ``first`` on (None until the window is full); the window powers are appended to
        ``powers``."""
        sub = self._sub
        start = max(first, blocks - 1)
        new = [sum(sub[k + 1 - blocks:k + 1]) / blocks for k in range(start, len(sub))]
        powers.extend(new)
        return [None] * (start - first) + (lufs(np.array(new)).tolist() if new else [])

    def _update_true_peak(self, x: np.ndarray) -> None:
        peak = float(max(x.max(), -x.min()))
        self.sample_peak = max(self.sample_peak, peak)
        self.true_peak = max(self.true_peak, peak)
        keep = _TP_TAPS_PER_PHASE - 1
        ext = np.concatenate([self._history, x])
        self._history = ext[-keep:]
        # only output samples whose 12-sample input window holds a sample loud enough to
        # reach the running true peak through the filter can raise it
        level = self.true_peak / self._gain_bound
        loud = np.flatnonzero(np.abs(ext.ravel()) > level) // self.channels
        if loud.size == 0:
            return
        ends = np.unique(np.clip(loud[:, None] + np.arange(_TP_TAPS_PER_PHASE), keep,
                                 ext.shape[0] - 1))
        windows = np.lib.stride_tricks.sliding_window_view(ext, _TP_TAPS_PER_PHASE, axis=0)
        # windows[i] covers ext[i:i+taps]; the output at ext index e uses window e-keep
        picked = windows[ends - keep]                       # (m, channels, taps)
        y = picked[..., ::-1] @ self._phases.T              # (m, channels, phases)
        self.true_peak = max(self.true_peak, float(np.abs(y).max()))

    @property
    def integrated(self) -> float | None:
        return integrated(np.array(self.momentary_powers))

    @property
    def loudness_range(self) -> float | None:
        return loudness_range(np.array(self.short_term_powers))

    @property
    def true_peak_dbtp(self) -> float:
        return 20.0 * math.log10(max(self.true_peak, 1e-10))

    @property
    def sample_peak_dbfs(self) -> float:
        return 20.0 * math.log10(max(self.sample_peak, 1e-10))

    def sub_block_power(self, index: int) -> float:
        return self._sub[index]
