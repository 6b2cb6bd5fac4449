"""Channel faults: a channel missing, the pair swapped, or one channel in opposite phase.

Works on the first two channels (front left/right), per ``window_s`` window stepped every
``hop_s``:

- **drop**: one channel under ``drop_level_db`` (dBFS RMS) or ``drop_db`` under the other while
  the other sounds (above ``min_level_db``).  Mono-in-stereo content (both channels equal) is
  normal and is not a fault.
- **invert**: the inter-channel correlation under ``invert_below`` while the content sounds.
  Programme material is positively correlated (centre-panned dialogue and bass); a channel in
  opposite phase turns that negative.  Wide, decorrelated content (near 0) is left alone.
- **swap**: without a reference a swap can only be seen as a *change*, in two ways:

  - at the instant it happens (``swap_edges``): the pair exchanging mid-stream flips the sign of
    the side signal ``S = L - R`` while the mid ``L + R`` runs on.  ``S`` of real programme
    audio is smooth on the scale of a few samples, so an order-12 linear predictor fitted on the
    10 ms before a candidate instant predicts the next 12 samples well only if they are
    negated: the prediction error drops by ``swap_min_jump`` times the ordinary error and, negated,
    is at most ``swap_max_fit`` times it.  (A cut, a click, a dropped or inverted channel breaks
    ``S`` in a way no sign flip repairs.)  Each such edge toggles the state: the span between two
    edges, or from an edge to the end, is reported.  Missed where the edge falls on a zero
    crossing of ``S`` or ``S`` is negligible (near-mono content, where a swap is inaudible
    anyway), after lossy coding that smears the edge, and when the device mutes around the swap.
  - over seconds: the level balance between the channels (``10 log10(L/R)``) flipping sign
    against the balance of the ``baseline_s`` before it, where that balance was clearly
    one-sided (``min_balance_db``).

  A swap present from the start cannot be told from the content: with ``expected_balance_db``
  set (a known test signal, e.g. a left-heavy channel ident) the balance is checked against it.

One event per episode (``details``: ``fault`` drop/swap/invert, ``channel`` for drop, the
correlation and balance).
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import Field

from detectors.audio.common import HopBuffer
from detectors.base import Detector, DetectorConfig, Event
from detectors.episodes import EpisodeTracker
from harness.media import AudioChunk


_ORDER = 12      # side-signal predictor order, and samples judged after a candidate edge
_FIT_S = 0.01    # the predictor is fitted on this much before the candidate
_CANDIDATES = 3  # strongest second-difference breaks of S tested per hop ...
_PRESCREEN = 4.0   # ... if they break it by this many times its mean second difference


def _lagged(rows: np.ndarray, n: int) -> np.ndarray:
    """``(k, n, _ORDER)``: for each row ``r`` of ``rows`` and each of its targets ``r[m +
    _ORDER]`` (``m < n``), the ``_ORDER`` samples before it, the latest first (``r[m + _ORDER -
    1]`` back to ``r[m]``).  A C-contiguous copy: BLAS then sees each matrix as numpy's 2-D
    ``matmul`` of a gathered lag matrix does (the same routine, the same rounding)."""
    return sliding_window_view(rows, _ORDER, axis=1)[:, :n, ::-1].copy()


def _candidates(side: np.ndarray, ranges: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """The prescreened candidate edges of each range ``(first, last)`` of ``side`` (consecutive
    ranges, in order): ``(range index, position)`` arrays, the ``_CANDIDATES`` strongest
    second-difference breaks of ``S`` per range that beat ``_PRESCREEN`` times its mean (a few
    per range: those are found first, then ranked where more than ``_CANDIDATES`` beat it;
    ranking whole ranges cost a third of the detector).

    The break at ``n`` is the drop of the second differences at ``n`` and ``n + 1`` when
    ``s[n:]`` is negated; their squares (``plain``) and the drop (``gain``) are computed over all
    the ranges at once from shared differences (each value with the same operations as
    ``s[n] - 2 * s[n - 1] + s[n - 2]`` etc., so bit for bit the same), and runs of equal
    contiguous ranges (every hop but the first and the last) are screened as rows of one array."""
    lo, hi = ranges[0][0], ranges[-1][1]
    twice = 2 * side[lo - 1:hi]                        # 2 s[n - 1]
    ahead = side[lo:hi + 1] - twice                    # s[n] - 2 s[n - 1]
    second = ahead + side[lo - 2:hi - 1]               # ... + s[n - 2]: second difference
    plain = np.square(second, out=second)
    plain = np.add(plain[:-1], plain[1:], out=plain[:-1])
    flipped = np.add(side[lo:hi], twice[:-1], out=twice[:-1])   # s[n] + 2 s[n - 1] ...
    flipped -= side[lo - 2:hi - 2]                             # ... - s[n - 2]
    gain = np.subtract(plain, np.square(flipped, out=flipped), out=flipped)   # (arrays reused:
    # each fresh one costs its page faults)
    ahead = np.subtract(ahead[1:], side[lo - 1:hi - 1], out=ahead[1:])  # s[n+1] - 2 s[n] - s[n-1]
    gain -= np.square(ahead, out=ahead)
    which, where = [], []
    row = 0
    for first, count, length in _runs(ranges):
        part = slice(first - lo, first - lo + count * length)
        g = gain[part].reshape(count, length)
        screen = _PRESCREEN * plain[part].reshape(count, length).mean(axis=1)
        # the breaks beating the screen (a few per range), then the strongest of them: the
        # same set as the strongest of the range that beat it, without ranking whole ranges
        r, c = np.nonzero(g > screen[:, None])
        if r.size and np.bincount(r).max() > _CANDIDATES:
            order = np.lexsort((-g[r, c], r))               # per range, strongest first
            r, c = r[order], c[order]
            starts = np.r_[0, np.flatnonzero(np.diff(r)) + 1]
            rank = np.arange(r.size) - np.repeat(starts, np.diff(np.r_[starts, r.size]))
            keep = rank < _CANDIDATES
            r, c = r[keep], c[keep]
        which.append(row + r)
        where.append(first + r * length + c)
        row += count
    return np.concatenate(which), np.concatenate(where)


def _runs(ranges: list[tuple[int, int]]) -> list[list[int]]:
    """Consecutive ranges grouped into runs of contiguous ranges of one length: ``[first,
    count, length]`` each."""
    runs: list[list[int]] = []
    for first, last in ranges:
        run = runs[-1] if runs else None
        if run is not None and last - first == run[2] and first == run[0] + run[1] * run[2]:
            run[1] += 1
        else:
            runs.append([first, 1, last - first])
    return runs


def _search_edges(side: np.ndarray, ranges: list[tuple[int, int]],
                  history: int) -> list[tuple[int, float, float] | None]:
    """The best swap edge in each of the consecutive ranges ``(first, last)`` of ``side``
    (positions of the first negated sample), or None: ``(position, jump, fit)``, see
    :class:`ChannelDetector`; needs ``history + _ORDER`` samples before the first range and
    ``_ORDER`` after the last.

    Every candidate of every range is fitted at once: stacked normal equations, solved by one
    ``np.linalg.solve``.  numpy's stacked ``matmul`` and ``solve`` call the same BLAS and LAPACK
    routines per matrix as the 2-D ones (``x.T @ x`` is ``syrk`` either way) when each matrix is
    C-contiguous, so every figure is bit for bit what one candidate at a time gives, only
    without the per-call overhead (~120 us a hop)."""
    p = _ORDER
    best: list[tuple[int, float, float] | None] = [None] * len(ranges)
    if not ranges:
        return best
    which, n0 = _candidates(side, ranges)
    fit = side[n0[:, None] + np.arange(-history - p, 0)]       # the history before each
    energy = (fit[:, None, :] @ fit[:, :, None])[:, 0, 0]      # np.dot of each row
    audible = ~(energy / fit.shape[1] < 1e-10)                 # S under -100 dBFS: nothing to see
    which, n0, fit = which[audible], n0[audible], fit[audible]
    if n0.size == 0:
        return best
    x = _lagged(fit, history)                                   # (k, n, p): s[n-1] ... s[n-p]
    y = fit[:, p:]
    xt = x.transpose(0, 2, 1)
    gram = xt @ x                                               # least squares by the normal
    ridge = 1e-9 * np.trace(gram, axis1=1, axis2=2) / p + 1e-30  # equations (12x12 solves)
    coef = np.linalg.solve(gram + ridge[:, None, None] * np.eye(p), xt @ y[:, :, None])
    ordinary = np.mean(np.square(y - (x @ coef)[:, :, 0]), axis=1) * p + 1e-30
    ctx = side[n0[:, None] + np.arange(-p, p)]
    errors = []
    for _ in range(2):
        xc = _lagged(ctx, p)
        errors.append(np.sum(np.square(ctx[:, p:] - (xc @ coef)[:, :, 0]), axis=1))
        ctx[:, p:] *= -1
    jump, fitted = (errors[0] - errors[1]) / ordinary, errors[1] / ordinary
    for i, at, j, f in zip(which.tolist(), n0.tolist(), jump.tolist(), fitted.tolist()):
        if best[i] is None or j > best[i][1]:
            best[i] = (at, j, f)
    return best


def _mean_rows(rows: deque[list[float]]) -> tuple[float, float, float]:
    """``np.mean(rows, axis=0)`` of a few rows, the same numbers (numpy sums a short leading
    axis in order, then divides) without numpy's per-call cost: it runs every hop."""
    it = iter(rows)
    a, b, c = next(it)
    for x, y, z in it:
        a, b, c = a + x, b + y, c + z
    n = len(rows)
    return a / n, b / n, c / n


def _median(values) -> float:
    """``float(np.median(values))`` (the middle value, or the mean of the two middle values)
    of a short sequence of finite numbers, the same number, without numpy's per-call cost."""
    ordered = sorted(values)
    h = len(ordered) // 2
    return float(ordered[h] if len(ordered) % 2 else (ordered[h - 1] + ordered[h]) / 2)


class ChannelConfig(DetectorConfig):
    drop_level_db: float = Field(-70.0, le=0, description="a channel quieter than this is missing")
    drop_db: float = Field(40.0, gt=0, description="... or this far under the other channel")
    min_level_db: float = Field(-50.0, le=0, description="the other channel must be louder "
                                "than this (dBFS RMS) for a drop or inversion to count")
    invert_below: float = Field(-0.3, ge=-1, le=0, description="correlation under this is a "
                                "channel in opposite phase")
    min_balance_db: float = Field(3.0, gt=0, description="a swap needs the baseline balance "
                                  "at least this one-sided, and the flipped balance too")
    expected_balance_db: float | None = Field(None, description="known balance of the content "
                                              "(L over R, dB); a sign opposite to it is a swap")
    baseline_s: float = Field(4.0, gt=0, description="the balance a swap is judged against is "
                              "the median over this long before (unflagged windows)")
    swap_edges: bool = Field(True, description="find swaps by the side signal's sign flip at "
                             "the instant of the swap")
    swap_min_jump: float = Field(1000.0, gt=0, description="a swap edge cuts the prediction "
                                 "error of the side signal's next samples by at least this "
                                 "many times its ordinary error when they are negated")
    swap_max_fit: float = Field(16.0, gt=0, description="... and, negated, they are predicted "
                                "within this many times the ordinary error")
    window_s: float = Field(0.5, gt=0, description="analysis window")
    hop_s: float = Field(0.1, gt=0, description="analysis step")
    min_duration_s: float = Field(0.5, ge=0, description="shorter episodes are not reported")


class ChannelDetector(Detector):
    name = "channel"
    kind = "channel"
    media = "audio"
    Config = ChannelConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self._hops = HopBuffer(cfg.hop_s)
        n = max(1, round(cfg.window_s / cfg.hop_s))
        self._stats: deque[list[float]] = deque(maxlen=n)   # hop powers L, R, LR
        self._balance: deque[float] = deque(maxlen=max(1, round(cfg.baseline_s / cfg.hop_s)))
        self._trackers = {f: EpisodeTracker(self.kind, self.name, cfg.min_duration_s)
                          for f in ("drop", "swap", "invert")}
        self._side = np.zeros(0)          # recent side signal (L - R), for swap edges
        self._side_start = 0              # absolute index of its first sample
        self._side_tested = 0             # absolute index of the next position to test
        self._swapped: tuple[float, float] | None = None   # (since, jump) while swapped
        self._last_edge = -1

    def feed(self, chunk: AudioChunk) -> list[Event]:
        return self._run(self._hops.push_block(chunk))

    def _run(self, blocks) -> list[Event]:
        """Every hop of ``blocks`` (``(index, count, samples)``, the hops ``index ..``, the last
        one possibly short) in order; what does not depend on the state (the swap edges, the
        channel powers) is computed for the whole block at once."""
        cfg = self.config
        out: list[Event] = []
        for index, count, samples in blocks:
            if samples.shape[1] < 2:
                continue
            left = samples[:, 0].astype(np.float64)
            right = samples[:, 1].astype(np.float64)
            edges = self._swap_edges(index * self._hops.hop, left - right, count) \
                if cfg.swap_edges else [None] * count
            # each hop's dot products (a stacked matmul of 1 x n by n x 1 is np.dot per hop)
            lh, rh = left.reshape(count, 1, -1), right.reshape(count, -1, 1)
            powers = (np.stack([lh @ lh.transpose(0, 2, 1), rh.transpose(0, 2, 1) @ rh,
                                lh @ rh])[..., 0, 0].T / max(1, lh.shape[2])).tolist()
            for k in range(count):
                if edges[k] is not None:
                    out += self._swap_edge_found(*edges[k])
                out += self._judge(self._hops.time_of(index + k), powers[k])
        return out

    def _judge(self, t: float, powers: list[float]) -> list[Event]:
        """One hop starting at ``t`` of channel powers ``(L, R, LR)``: the drop, invert and
        balance swap decisions over the window ending with it."""
        cfg = self.config
        out: list[Event] = []
        self._stats.append(powers)
        pl, pr, plr = _mean_rows(self._stats)
        centre = t + cfg.hop_s - cfg.window_s / 2
        ll, lr = 10 * np.log10(max(pl, 1e-14)), 10 * np.log10(max(pr, 1e-14))
        loud = max(ll, lr)
        quiet = min(ll, lr)
        faults: dict[str, tuple[float, dict]] = {}
        if loud > cfg.min_level_db and (quiet < cfg.drop_level_db or loud - quiet > cfg.drop_db):
            faults["drop"] = (min(1.0, 0.5 + (loud - quiet) / 80.0),
                              {"channel": 0 if ll < lr else 1,
                               "min_level_db": round(quiet, 1)})
        corr = plr / np.sqrt(max(pl * pr, 1e-20))
        if loud > cfg.min_level_db and "drop" not in faults and corr < cfg.invert_below:
            faults["invert"] = (min(1.0, 0.5 + (cfg.invert_below - corr)),
                                {"min_correlation": round(float(corr), 3)})
        balance = ll - lr
        if loud > cfg.min_level_db and "drop" not in faults and self._swapped is None:
            reference = cfg.expected_balance_db
            if reference is None and len(self._balance) >= self._balance.maxlen // 2:
                reference = _median(self._balance)
            if reference is not None and abs(reference) >= cfg.min_balance_db and \
                    np.sign(balance) != np.sign(reference) and \
                    abs(balance) >= cfg.min_balance_db:
                faults["swap"] = (min(1.0, 0.5 + abs(balance - reference) / 12.0),
                                  {"balance_db": round(balance, 2),
                                   "expected_balance_db": round(reference, 2)})
            elif "invert" not in faults:
                self._balance.append(balance)
        for fault, tracker in self._trackers.items():
            if fault in faults:
                score, details = faults[fault]
                out += tracker.update(centre, True, score, details={
                    "fault": fault, **details, "correlation": round(float(corr), 3)})
            else:
                out += tracker.update(centre, False)
        return out

    def _swap_edges(self, at: int, side: np.ndarray,
                    count: int) -> list[tuple[int, float, float] | None]:
        """The swap edge found in each of the ``count`` hops of ``side`` (from stream sample
        ``at``), or None: each hop tests the side signal up to ``_ORDER`` samples before its
        end, from where the hop before stopped (the ranges, and so the edges, that hop by hop
        testing gives), all searched at once by :func:`_search_edges`."""
        rate = self._hops.rate or 48000
        history = max(4 * _ORDER, round(_FIT_S * rate))
        keep = history + 3 * _ORDER
        if at != self._side_start + self._side.size:      # (not contiguous: start over)
            self._side, self._side_start, self._side_tested = np.zeros(0), at, at
        start = self._side_start          # where the buffer of each hop, trimmed, would start
        self._side = np.concatenate([self._side, side])
        ranges, hops = [], []
        for k in range(count):
            end = at + min((k + 1) * self._hops.hop, side.size)
            first = max(self._side_tested, start + history + _ORDER)
            last = end - _ORDER - 1
            if last > first:
                ranges.append((first - self._side_start, last - self._side_start))
                hops.append(k)
                self._side_tested = last
            start = max(start, end - keep)
        found: list[tuple[int, float, float] | None] = [None] * count
        for k, edge in zip(hops, _search_edges(self._side, ranges, history)):
            if edge is not None:
                found[k] = (edge[0] + self._side_start, edge[1], edge[2])
        if self._side.size > keep:
            self._side_start += self._side.size - keep
            self._side = self._side[-keep:]
        return found

    def _swap_edge_found(self, edge: int, jump: float, fit: float) -> list[Event]:
        """The best candidate edge of a hop (stream sample ``edge``): a swap edge if it passes
        the thresholds and is not the same edge seen again; toggles the swapped state."""
        cfg = self.config
        rate = self._hops.rate or 48000
        if not (jump >= cfg.swap_min_jump and fit <= cfg.swap_max_fit and
                edge - self._last_edge > round(0.05 * rate)):
            return []
        self._last_edge = edge
        t = self._hops.t0 + edge / rate
        if self._swapped is None:
            self._swapped = (t, jump)
            return []
        return self._swap_event(t, jump)

    def _swap_event(self, end: float, jump: float) -> list[Event]:
        assert self._swapped is not None
        start, first = self._swapped
        self._swapped = None
        if end - start < self.config.min_duration_s:
            return []
        score = float(np.clip(0.6 + 0.1 * np.log10(min(first, jump) / self.config.swap_min_jump),
                              0.5, 1.0))
        return [Event(self.kind, start, end, score, self.name, details={
            "fault": "swap", "method": "edges", "min_jump": round(min(first, jump), 1)})]

    def finish(self) -> list[Event]:
        out = self._run((index, 1, samples) for index, _, samples in self._hops.flush())
        for tracker in self._trackers.values():
            out += tracker.finish()
        if self._swapped is not None:
            out += self._swap_event(self._hops.end_s, self._swapped[1])
        return out
