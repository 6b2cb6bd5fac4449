"""Channel faults: a channel missing, the pair swapped, or one channel in opposite phase.

Works on the first two channels (front left/right), per ``window_s`` window stepped every
``hop_s``:

- **drop**: one channel under ``drop_level_db`` (dBFS RMS) or ``drop_db`` under the other while
  the other sounds (above ``min_level_db``).  Mono-in-stereo content (both channels equal) is
  normal and is not a fault.
- **invert**: the inter-channel correlation under ``invert_below`` while the content sounds.
  Programme material is positively correlated (centre-panned dialogue and bass); a channel in
  opposite phase turns that negative.  Wide, decorrelated content (near 0) is left alone.
- **swap**: detectable without a reference only as a *change*: the level balance between the
  channels (``10 log10(L/R)``) flipping sign against the balance of the ``baseline_s`` before
  it, where that balance was clearly one-sided (``min_balance_db``).  A swap present from the
  start, or of content balanced in the middle, cannot be told from the content; with
  ``expected_balance_db`` set (a known test signal, e.g. a left-heavy channel ident) the
  balance is checked against it instead.

One event per episode (``details``: ``fault`` drop/swap/invert, ``channel`` for drop, the
correlation and balance).
"""

from __future__ import annotations

from collections import deque

import numpy as np
from pydantic import Field

from detectors.audio.common import HopBuffer
from detectors.base import Detector, DetectorConfig, Event
from detectors.episodes import EpisodeTracker
from harness.media import AudioChunk


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

    def feed(self, chunk: AudioChunk) -> list[Event]:
        return self._run(self._hops.push(chunk))

    def _run(self, hops) -> list[Event]:
        cfg = self.config
        out: list[Event] = []
        for _, t, samples in hops:
            if samples.shape[1] < 2:
                continue
            left = samples[:, 0].astype(np.float64)
            right = samples[:, 1].astype(np.float64)
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
            if loud > cfg.min_level_db and "drop" not in faults:
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

    def finish(self) -> list[Event]:
        out = self._run(self._hops.flush())
        for tracker in self._trackers.values():
            out += tracker.finish()
        return out
