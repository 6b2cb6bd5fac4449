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

import functools
from collections import deque

import numpy as np
from pydantic import Field

from detectors.audio.common import HopBuffer
from detectors.base import Detector, DetectorConfig, Event
from detectors.episodes import EpisodeTracker
from harness.media import AudioChunk


_ORDER = 12      # side-signal predictor order, and samples judged after a candidate edge
_FIT_S = 0.01    # the predictor is fitted on this much before the candidate
_CANDIDATES = 3  # strongest second-difference breaks of S tested per hop ...
_PRESCREEN = 4.0   # ... if they break it by this many times its mean second difference


@functools.lru_cache(maxsize=8)
def _lags(n: int) -> np.ndarray:
    """Indices of the ``_ORDER`` samples before each of ``n`` targets (``s[k + _ORDER]`` is
    predicted from ``s[k + _ORDER - 1]`` back to ``s[k]``): an (n, _ORDER) index array."""
    return np.arange(n)[:, None] + np.arange(_ORDER - 1, -1, -1)[None, :]


def _swap_edge(side: np.ndarray, first: int, last: int,
               history: int) -> tuple[int, float, float] | None:
    """The best swap edge in ``side[first:last]`` (positions of the first negated sample):
    ``(position, jump, fit)``, see :class:`ChannelDetector`; needs ``history + _ORDER`` samples
    before ``first`` and ``_ORDER`` after ``last``."""
    p = _ORDER
    if last <= first:
        return None
    s0, s1, s2, s3 = (side[first + d:last + d] for d in (-2, -1, 0, 1))   # s[n-2] ... s[n+1]
    plain = np.square(s2 - 2 * s1 + s0) + np.square(s3 - 2 * s2 + s1)
    gain = plain - np.square(s2 + 2 * s1 - s0) - np.square(s3 - 2 * s2 - s1)
    screen = _PRESCREEN * float(plain.mean())
    top = np.argpartition(gain, -_CANDIDATES)[-_CANDIDATES:] if gain.size > _CANDIDATES \
        else np.arange(gain.size)
    best = None
    s = side
    for k in top:
        if gain[k] <= screen:
            continue
        n0 = first + int(k)
        fit = s[n0 - history - p:n0]
        if float(np.dot(fit, fit)) / fit.size < 1e-10:     # S under -100 dBFS: nothing to see
            continue
        x = fit[_lags(fit.size - p)]                            # (n, p): s[n-1] ... s[n-p]
        y = fit[p:]
        gram = x.T @ x                                          # least squares by the normal
        ridge = 1e-9 * float(np.trace(gram)) / p + 1e-30        # equations (a 12x12 solve)
        coef = np.linalg.solve(gram + ridge * np.eye(p), x.T @ y)
        ordinary = float(np.mean(np.square(y - x @ coef))) * p + 1e-30
        ctx = s[n0 - p:n0 + p].copy()
        errors = []
        for _ in range(2):
            xc = ctx[_lags(p)]
            errors.append(float(np.sum(np.square(ctx[p:] - xc @ coef))))
            ctx[p:] *= -1
        jump, fitted = (errors[0] - errors[1]) / ordinary, errors[1] / ordinary
        if best is None or jump > best[1]:
            best = (n0, jump, fitted)
    return best


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
        self._stats: deque[np.ndarray] = deque(maxlen=n)
        self._balance: deque[float] = deque(maxlen=max(1, round(cfg.baseline_s / cfg.hop_s)))
        self._trackers = {f: EpisodeTracker(self.kind, self.name, cfg.min_duration_s)
                          for f in ("drop", "swap", "invert")}
        self._side = np.zeros(0)          # recent side signal (L - R), for swap edges
        self._side_start = 0              # absolute index of its first sample
        self._side_tested = 0             # absolute index of the next position to test
        self._swapped: tuple[float, float] | None = None   # (since, jump) while swapped
        self._last_edge = -1

    def feed(self, chunk: AudioChunk) -> list[Event]:
        return self._run(self._hops.push(chunk))

    def _run(self, hops) -> list[Event]:
        cfg = self.config
        out: list[Event] = []
        for index, t, samples in hops:
            if samples.shape[1] < 2:
                continue
            left = samples[:, 0].astype(np.float64)
            right = samples[:, 1].astype(np.float64)
            if cfg.swap_edges:
                out += self._swap_edges(index * self._hops.hop, left - right)
            n = max(1, samples.shape[0])
            self._stats.append(np.array([left @ left / n, right @ right / n, left @ right / n]))
            pl, pr, plr = np.mean(self._stats, axis=0)
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
                    reference = float(np.median(self._balance))
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

    def _swap_edges(self, at: int, side: np.ndarray) -> list[Event]:
        """Test the side signal up to ``_ORDER`` samples before its end for swap edges; each
        toggles the swapped state (an episode ends at the next)."""
        cfg = self.config
        rate = self._hops.rate or 48000
        history = max(4 * _ORDER, round(_FIT_S * rate))
        if at != self._side_start + self._side.size:      # (not contiguous: start over)
            self._side, self._side_start, self._side_tested = np.zeros(0), at, at
        self._side = np.concatenate([self._side, side])
        first = max(self._side_tested, self._side_start + history + _ORDER)
        last = self._side_start + self._side.size - _ORDER - 1
        out: list[Event] = []
        if last > first:
            found = _swap_edge(self._side, first - self._side_start, last - self._side_start,
                               history)
            self._side_tested = last
            if found is not None and found[1] >= cfg.swap_min_jump and \
                    found[2] <= cfg.swap_max_fit and found[0] + self._side_start - \
                    self._last_edge > round(0.05 * rate):
                edge = found[0] + self._side_start
                self._last_edge = edge
                t = self._hops.t0 + edge / rate
                if self._swapped is None:
                    self._swapped = (t, found[1])
                else:
                    out += self._swap_event(t, found[1])
        keep = history + 3 * _ORDER
        if self._side.size > keep:
            self._side_start += self._side.size - keep
            self._side = self._side[-keep:]
        return out

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
        out = self._run(self._hops.flush())
        for tracker in self._trackers.values():
            out += tracker.finish()
        if self._swapped is not None:
            out += self._swap_event(self._hops.end_s, self._swapped[1])
        return out
